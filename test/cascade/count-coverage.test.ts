/**
 * Does the count cascade's interval hold as often as it says? Its decision is replayed many times
 * on fully labelled truth: the reference detector labels every frame of a range once (the truth
 * catalog); the cascade then runs on copies of one trained catalog with the detector's labels
 * looked up in the truth catalog (`replayLabels`), each with a different sample seed. The share
 * of runs whose interval contains the exact answer is the coverage.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/engine.js';
import type { QueryResult } from '../../src/engine-types.js';
import { video } from '../helpers.js';
import { seedTruth } from '../truth-cache.js';

const path = video('shopfront_cctv.mp4');
const videos = { shop: path };
const REPLAYS = 60;
let dir: string;
let truthCatalog: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sieve-coverage-'));
  truthCatalog = join(dir, 'truth.duckdb');
  await seedTruth(truthCatalog, path, 30);
}, 900_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** Runs `sql` once per seed, each on a fresh copy of `trained`, with labels replayed from the truth catalog. */
async function replay(sql: string, trained: string, seeds: readonly number[]): Promise<QueryResult[]> {
  const out: QueryResult[] = [];
  for (const seed of seeds) {
    const copy = join(dir, `replay-${seed}.duckdb`);
    copyFileSync(trained, copy);
    const engine = await openEngine({ catalog: copy, replayLabels: truthCatalog });
    try {
      out.push(await engine.query(sql, { videos, seed }));
    } finally {
      await engine.close();
      rmSync(copy, { force: true });
    }
  }
  return out;
}

describe('count intervals replayed on fully labelled truth', { timeout: 900_000 }, () => {
  for (const [name, sql, within] of [
    ['FCOUNT, default target', `SELECT FCOUNT(*) FROM shop WHERE class = 'person' AND timestamp < 30`, undefined],
    ['COUNT(*) ERROR WITHIN 60 objects', `SELECT COUNT(*) FROM shop WHERE class = 'person' AND timestamp < 30 ERROR WITHIN 60 AT CONFIDENCE 90%`, 60],
  ] as const) {
    it(`${name}: the interval holds at least as often as its confidence, on a real share of the frames`, async () => {
      const exactEngine = await openEngine({ catalog: truthCatalog });
      const truth = await exactEngine.query(sql, { videos, exact: true }).finally(() => exactEngine.close());
      const N = truth.stats.framesInRange;
      expect(truth.accuracy.mode).toBe('exact');
      expect(truth.value).toBeGreaterThan(0);

      // One cold run trains and stores the cascade (its reference labels replayed, so it is fast).
      const trained = join(dir, `trained-${within ?? 'default'}.duckdb`);
      const cold = await openEngine({ catalog: trained, replayLabels: truthCatalog });
      const first = await cold.query(sql, { videos }).finally(() => cold.close());
      expect(first.accuracy.mode).toBe('cascade');
      const labelledCold = first.stats.referenceCalls;

      const runs = await replay(sql, trained, Array.from({ length: REPLAYS }, (_, i) => i + 1));
      let covered = 0;
      let calls = 0;
      for (const run of runs) {
        expect(run.accuracy.mode).toBe('cascade');
        const half = (run.interval!.high - run.interval!.low) / 2;
        if (within !== undefined) expect(half).toBeLessThanOrEqual(within + 1e-9);
        // An interval of zero width is only honest when every frame of the range was labelled.
        if (labelledCold + run.stats.referenceCalls < N) expect(half).toBeGreaterThan(0);
        if (truth.value! >= run.interval!.low && truth.value! <= run.interval!.high) covered++;
        calls += run.stats.referenceCalls;
      }
      console.info(`${name}: ${covered}/${REPLAYS} intervals held ${truth.value} over ${N} frames; ${labelledCold} cold labels, ${(calls / REPLAYS).toFixed(1)} drawn per replay`);
      const confidence = runs[0]!.interval!.confidence;
      expect(confidence).toBe(within === undefined ? 0.95 : 0.9);
      // At the stated confidence, fewer than this many covered runs out of 60 has under 1% chance.
      const floor = within === undefined ? 52 : 48;
      expect(covered, `${covered} of ${REPLAYS} intervals held the exact ${truth.value}`).toBeGreaterThanOrEqual(floor);
      // The estimate cost a real fraction of the frames: cold labels plus the replays' draws.
      expect(labelledCold + calls / REPLAYS).toBeLessThan(N * 0.6);
    });
  }
});
