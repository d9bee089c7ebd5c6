/** `sieve query ... --json` run twice as real processes: the second answers from the label store. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryResult } from '../../src/engine-types.js';
import { video } from '../helpers.js';
import { ensureBuilt, jsonOf, runSieve, snapshotCatalog } from './run-sieve.js';

let tmp: string;
let catalog: string;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-cli-labels-'));
  catalog = join(tmp, 'catalog.duckdb');
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('sieve query --json, twice', () => {
  const sql = "SELECT FCOUNT(*) FROM video WHERE class='car' AND score >= 0.5 AND timestamp < 3";
  const args = () => ['query', sql, '--video', video('road_polecam.mp4'), '--json', '--catalog', catalog];

  it('answers, then answers again with zero reference calls, and the JSON says so', async () => {
    const first = await runSieve(args(), { env: { SIEVE_CACHE_DIR: join(tmp, 'cache') } });
    expect(first.code, first.stderr).toBe(0);
    const a = jsonOf<QueryResult>(first);
    expect(a.kind).toBe('aggregate');
    expect(a.stats.framesInRange).toBe(75);
    expect(a.stats.referenceCalls).toBe(75);
    expect(typeof a.value).toBe('number');
    expect(a.value).toBeGreaterThan(0);

    const second = await runSieve(args(), { env: { SIEVE_CACHE_DIR: join(tmp, 'cache') } });
    expect(second.code, second.stderr).toBe(0);
    const b = jsonOf<QueryResult>(second);
    expect(b.stats.referenceCalls).toBe(0);
    expect(b.stats.framesDecoded).toBe(0);
    expect(b.stats.labelsFromStore).toBe(75);
    expect(b.value).toBe(a.value);

    const snapshot = await snapshotCatalog(catalog);
    expect(snapshot.queryRuns).toBe(2);
    expect(Object.values(snapshot.labels).map((l) => l.frames)).toEqual([75]);
  });
});
