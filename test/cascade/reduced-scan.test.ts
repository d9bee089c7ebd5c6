/**
 * The presence scan with decoder-level frame skipping (-skip_frame noref). Whether to use it is a
 * measured cost (stored per video and frame skip); here those figures are recorded in the catalog
 * first (noref twice as cheap, decoded frames at most 3 apart, as measured on road_polecam), so the
 * cold run takes that path, and its answer must still meet the targets against the exact answer.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine.js';
import { machineKey } from '../../src/optimizer/machine.js';
import { hashFile } from '../../src/storage/hash-file.js';
import { video } from '../helpers.js';

const path = video('road_polecam.mp4');
const SQL = "SELECT frame FROM road WHERE class = 'bus' AND timestamp < 24 FNR WITHIN 0.05 FPR WITHIN 0.05";
const engines: Engine[] = [];
const open = async (name: string) => {
  const e = await openEngine({ catalog: join(mkdtempSync(join(tmpdir(), `sieve-reduced-${name}-`)), 'c.duckdb') });
  engines.push(e);
  return e;
};

afterAll(async () => {
  for (const e of engines) await e.close();
});

describe('reduced decoding in the presence scan', { timeout: 600_000 }, () => {
  it('is taken when the stored costs favour it, evaluates frames at most `skip` apart, and meets the targets', async () => {
    const exact = await open('exact');
    const truth = await exact.query(SQL, { videos: { road: path }, exact: true });
    const cascade = await open('cascade');
    const hash = await hashFile(path);
    for (let skip = 2; skip <= 10; skip++) {
      const key = `video:${hash}:skip ${skip}`;
      await cascade.catalog.putStageCost({ stageKind: 'decode-noref-gap', key, machine: machineKey(), secondsPerFrame: 3 });
      await cascade.catalog.putStageCost({ stageKind: 'decode-noref-ratio', key, machine: machineKey(), secondsPerFrame: 0.5 });
    }
    // Bus stays long here: bisection with no model would win; this test is about the model's scan.
    const cold = await cascade.query(SQL, { videos: { road: path }, planner: { bisection: false } });
    expect(cold.accuracy.mode).toBe('cascade');
    const skipStage = cold.stats.stages.find((s) => s.stage.startsWith('frame skip'))!;
    const skip = Number(/every (\d+)/.exec(skipStage.stage)![1]);
    expect(skip, 'the optimizer chose a frame skip the reduced decode can serve').toBeGreaterThanOrEqual(3);
    const decode = cold.stats.stages.find((s) => s.stage.startsWith('decode 32x32'))!;
    const m = /noref: (\d+) frames decoded, evaluated frames at most (\d+) apart, labelled ones aside/.exec(decode.stage);
    expect(m, decode.stage).not.toBeNull();
    expect(Number(m![2])).toBeLessThanOrEqual(skip);
    for (const d of cold.stats.decoded!) expect(d.repeated).toBe(0);
    const N = truth.stats.framesInRange;
    const positives = new Set(truth.rows.map((r) => r['frame']));
    const got = new Set(cold.rows.map((r) => r['frame']));
    const fn = [...positives].filter((f) => !got.has(f)).length;
    const fp = [...got].filter((f) => !positives.has(f)).length;
    expect(positives.size).toBeGreaterThan(N * 0.05);
    expect(fn / positives.size).toBeLessThanOrEqual(0.05);
    expect(fp / Math.max(1, N - positives.size)).toBeLessThanOrEqual(0.05);
  });
});
