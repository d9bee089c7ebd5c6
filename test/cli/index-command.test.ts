/**
 * `sieve index` on a real clip (street_window_cvtrafficcam, 734 decodable frames): an unknown class fails
 * before anything is labelled; a build labels the index's sample, trains a count model and prints
 * the signals; a second build adds nothing and calls the reference on no frame.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { IndexSummary } from '../../src/engine.js';
import { Catalog } from '../../src/storage/index.js';
import { video } from '../helpers.js';
import { ensureBuilt, jsonOf, runSieve, snapshotCatalog } from './run-sieve.js';

let tmp: string;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-index-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const clip = video('street_window_cvtrafficcam.mp4');
const env = () => ({ SIEVE_CACHE_DIR: join(tmp, 'cache') });

it('sieve index: an unknown class exits 2 having labelled nothing; a build stores the signal; a rebuild adds nothing', { timeout: 300_000 }, async () => {
  const catalog = join(tmp, 'catalog.duckdb');
  const help = await runSieve(['--help'], { env: env() });
  expect(help.stdout).toMatch(/^\s+index\b.*index/m);

  const wrong = await runSieve(['index', clip, '--classes', 'car,bsu', '--catalog', catalog], { env: env() });
  expect(wrong.code, wrong.stderr).toBe(2);
  expect(wrong.stderr).toMatch(/unknown class 'bsu'; did you mean 'bus'/);
  const before = await snapshotCatalog(catalog);
  expect(Object.values(before.labels).every((l) => l.frames === 0)).toBe(true);

  const built = await runSieve(['index', clip, '--classes', 'car', '--catalog', catalog], { env: env() });
  expect(built.code, built.stderr).toBe(0);
  expect(built.stdout).toMatch(/^count:car\s+added\s+\d+\s+\d+/m);
  // The cascades' sample grid: 150 frames or more, evenly spaced (734 decodable frames: every 4th).
  const line = /index of 'street_window_cvtrafficcam': (\d+) frames, sample of (\d+); reference detector ran on (\d+)/.exec(built.stdout);
  expect(line, built.stdout).not.toBeNull();
  const [frames, sample, calls] = line!.slice(1).map(Number) as [number, number, number];
  expect(sample).toBeGreaterThanOrEqual(150);
  expect(sample).toBeLessThan(frames / 3);
  expect(calls).toBe(sample);
  const store = await Catalog.open(catalog);
  try {
    const [v] = await store.listVideos();
    const [m] = await store.listModels();
    const signals = await store.indexSignals(v!.id, m!.id);
    expect(signals.map((s) => s.signal)).toEqual(['count:car']);
    const values = signals[0]!.values;
    expect(values.length).toBe(frames);
    // An expected count on every frame: 6-8 cars are parked in view all along (the clip's manifest).
    expect(values.reduce((a, x) => a + x, 0) / values.length).toBeGreaterThan(1);
  } finally {
    await store.close();
  }

  const again = jsonOf<IndexSummary>(await runSieve(['index', clip, '--classes', 'car', '--catalog', catalog, '--json'], { env: env() }));
  expect(again.referenceCalls).toBe(0);
  expect(again.signals).toEqual([expect.objectContaining({ name: 'count:car', added: false })]);
});
