/** The `sieve` commands a new user meets first: help, EXPLAIN, add and videos. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryResult } from '../../src/engine-types.js';
import type { VideoSummary } from '../../src/engine.js';
import { video } from '../helpers.js';
import { ensureBuilt, jsonOf, runSieve, snapshotCatalog } from './run-sieve.js';

let tmp: string;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-commands-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const env = () => ({ SIEVE_CACHE_DIR: join(tmp, 'cache') });

describe('help', () => {
  it('sieve --help lists the commands', async () => {
    const run = await runSieve(['--help'], { env: env() });
    expect(run.code).toBe(0);
    for (const command of ['query', 'add', 'videos', 'label', 'demo']) expect(run.stdout).toMatch(new RegExp(`^\\s+${command}\\b`, 'm'));
  });

  it('sieve query --help shows the options and examples', async () => {
    const run = await runSieve(['query', '--help'], { env: env() });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/--video <\[name=\]path>/);
    expect(run.stdout).toMatch(/--json/);
    expect(run.stdout).toMatch(/--exact/);
    expect(run.stdout).toMatch(/Examples:\n\s+sieve query "SELECT FCOUNT\(\*\) FROM video WHERE class='car'/);
    expect(run.stdout).toMatch(/EXPLAIN/);
  });

  it('an unknown command or option exits 2 and points at --help', async () => {
    const run = await runSieve(['qeury'], { env: env() });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/unknown command 'qeury'/);
    expect(run.stderr).toMatch(/sieve --help/);
    const option = await runSieve(['query', 'SELECT * FROM video', '--bogus'], { env: env() });
    expect(option.code).toBe(2);
    expect(option.stderr).toMatch(/--bogus/);
  });
});

describe('a catalog from the command line', () => {
  const catalog = () => join(tmp, 'catalog.duckdb');
  const road = video('road_polecam.mp4');

  it('sieve videos on an empty catalog says how to add one', async () => {
    const run = await runSieve(['videos', '--catalog', catalog()], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/no videos in the catalog.*sieve add/);
  });

  it('sieve add, then sieve videos lists the video', async () => {
    const added = await runSieve(['add', road, '--name', 'traffic', '--catalog', catalog()], { env: env() });
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toMatch(/added 'traffic': 1190 frames, 640x360/);
    const listed = await runSieve(['videos', '--catalog', catalog()], { env: env() });
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(/^traffic\s+1190\s+640x360\s+25\s+0\s+.*road_polecam\.mp4$/m);
    const json = jsonOf<VideoSummary[]>(await runSieve(['videos', '--catalog', catalog(), '--json'], { env: env() }));
    expect(json).toEqual([expect.objectContaining({ name: 'traffic', path: road, frameCount: 1190, width: 640, height: 360, labelledFrames: 0 })]);
  });

  it('EXPLAIN prints the plan tree with the reference scan, and detects nothing', async () => {
    const run = await runSieve(['query', "EXPLAIN SELECT COUNT(DISTINCT frame) FROM traffic WHERE class = 'car' AND frame < 100", '--exact', '--catalog', catalog()], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/ReferenceScan/);
    expect(run.stdout).toMatch(/[└├]─/);
    expect(run.stdout).toMatch(/frames \[0, 100\)/);
    const plain = await runSieve(['query', "EXPLAIN SELECT COUNT(DISTINCT frame) FROM traffic WHERE class = 'car' AND frame < 100", '--exact', '--catalog', catalog(), '--json'], { env: env() });
    const result = jsonOf<QueryResult>(plain);
    expect(result.kind).toBe('explain');
    expect(result.plan).toMatch(/ReferenceScan/);
    expect(result.stats.referenceCalls).toBe(0);
    const snapshot = await snapshotCatalog(catalog());
    expect(Object.values(snapshot.labels).every((l) => l.frames === 0)).toBe(true);
  });

  it('a query by catalog name prints the answer and how it was obtained', async () => {
    const run = await runSieve(['query', "SELECT COUNT(*) FROM traffic WHERE class = 'car' AND frame < 3", '--exact', '--catalog', catalog()], { env: env() });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^COUNT\(\*\) = \d+$/m);
    expect(run.stdout).toMatch(/3 frames in range; reference detector ran on 3, 0 labels from the store/);
    const listed = await runSieve(['videos', '--catalog', catalog()], { env: env() });
    expect(listed.stdout).toMatch(/^traffic\s+1190\s+640x360\s+25\s+3\s/m);
  });
});
