/**
 * The cascade against each ffmpeg build present (the bundled 2018 build, and Debian's 5.1 on
 * PATH in CI): each decoder's exact answer decodes no frame twice and keeps its ffmpeg command
 * lines short, and the two agree on at least 99% of the first 8 seconds' frames. The cascade meets its targets against
 * its decoder's own exact answer on the PATH build here; on the bundled build (the default, and
 * the only one where there is no ffmpeg on PATH) `cascade.test.ts` runs the same queries.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine.js';
import type { QueryResult } from '../../src/engine-types.js';
import { MAX_TERMS } from '../../src/video/read-plan.js';
import { ffmpegBackends, video, type FfmpegBackend } from '../helpers.js';

const path = video('shopfront_cctv.mp4');
const RANGE = 'timestamp < 20';
/** The frames on which the two decoders' exact answers are compared. */
const AGREE_RANGE = 'timestamp < 8';
const PRESENCE = `SELECT frame FROM shop WHERE class = 'person' AND ${RANGE} FNR WITHIN 0.05 FPR WITHIN 0.05`;
const FCOUNT = `SELECT FCOUNT(*) FROM shop WHERE class = 'person' AND ${RANGE} ERROR WITHIN 0.1 AT CONFIDENCE 95%`;
const backends = ffmpegBackends();
const exactPresence = new Map<string, QueryResult>();
const engines: Engine[] = [];

async function engineFor(backend: FfmpegBackend, name: string): Promise<Engine> {
  const engine = await openEngine({ catalog: join(mkdtempSync(join(tmpdir(), `sieve-dec-${name}-`)), 'c.duckdb'), ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath });
  engines.push(engine);
  return engine;
}

afterAll(async () => {
  for (const e of engines) await e.close();
});

function expectOneReadPerSize(result: QueryResult): void {
  expect(result.stats.decoded?.length, 'decode sizes are counted').toBeGreaterThan(0);
  for (const d of result.stats.decoded!) expect(d.repeated, `frames decoded twice at ${d.size}`).toBe(0);
  expect(result.stats.reads!.longestCommand).toBeLessThan(MAX_TERMS * 60);
}

describe.each(backends)('ffmpeg $name ($version)', { timeout: 600_000 }, (backend) => {
  let exact: Engine;

  it('presence: this decoder\'s exact answer, and the cascade meets its targets against it (the bundled build\'s in cascade.test.ts when both are present)', async () => {
    exact = await engineFor(backend, 'exact');
    // Where both builds are present, the bundled one's exact answer only has to be compared with
    // the PATH one's (its cascade runs in cascade.test.ts): its first 8 seconds are enough for that.
    const compareOnly = backend.name === 'bundled' && backends.length > 1;
    const truth = await exact.query(compareOnly ? PRESENCE.replace(RANGE, AGREE_RANGE) : PRESENCE, { videos: { shop: path }, exact: true });
    exactPresence.set(backend.name, truth);
    expectOneReadPerSize(truth);
    if (compareOnly) return;
    const cold = await (await engineFor(backend, 'cascade')).query(PRESENCE, { videos: { shop: path } });
    expect(cold.accuracy.mode).toBe('cascade');
    // Fewer than naive: on 600 frames the certification sample (set by the targets) is a large share.
    expect(cold.stats.referenceCalls).toBeLessThan(truth.stats.framesInRange);
    expectOneReadPerSize(cold);
    const N = truth.stats.framesInRange;
    const positives = new Set(truth.rows.map((r) => r['frame']));
    const got = new Set(cold.rows.map((r) => r['frame']));
    expect(positives.size).toBeGreaterThan(N * 0.05);
    const fn = [...positives].filter((f) => !got.has(f)).length;
    const fp = [...got].filter((f) => !positives.has(f)).length;
    expect(fn / positives.size).toBeLessThanOrEqual(0.05);
    expect(fp / (N - positives.size)).toBeLessThanOrEqual(0.05);
    // Within the bounds the answer certified, too.
    expect(cold.accuracy).toMatchObject({ met: true, confidence: 0.95 });
    expect(fn / positives.size).toBeLessThanOrEqual(cold.accuracy.estimated.fnr!);
    expect(fp / (N - positives.size)).toBeLessThanOrEqual(cold.accuracy.estimated.fpr!);
  });

  it.skipIf(backend.name === 'bundled' && backends.length > 1)('FCOUNT: the estimate is within its error bound of this decoder\'s exact answer', async () => {
    const truth = await exact.query(FCOUNT, { videos: { shop: path }, exact: true });
    expect(truth.stats.referenceCalls).toBe(0); // labelled by the presence test
    const cold = await (await engineFor(backend, 'fcount')).query(FCOUNT, { videos: { shop: path } });
    expect(cold.accuracy.mode).toBe('cascade');
    expectOneReadPerSize(cold);
    expect(cold.stats.referenceCalls).toBeLessThan(truth.stats.framesInRange);
    expect(Math.abs(cold.value! - truth.value!)).toBeLessThanOrEqual(0.1);
  });
});

describe.runIf(backends.length > 1)('the two decoders', () => {
  it('give exact answers that agree on at least 99% of frames', () => {
    const [a, b] = [exactPresence.get('bundled'), exactPresence.get('path')];
    expect(a && b, 'both decoders answered').toBeTruthy();
    // The bundled build answered the first 8 seconds; the PATH build's answer on the same frames.
    const N = a!.stats.framesInRange;
    expect(N).toBeGreaterThanOrEqual(200);
    expect(b!.stats.framesInRange).toBeGreaterThan(N);
    const pa = new Set(a!.rows.map((r) => r['frame']));
    const pb = new Set(b!.rows.map((r) => r['frame']).filter((f) => Number(f) < N));
    const differ = [...pa].filter((f) => !pb.has(f)).length + [...pb].filter((f) => !pa.has(f)).length;
    expect(differ / N).toBeLessThanOrEqual(0.01);
  });
});
