/**
 * `sieve query` on a cold presence cascade, stopped by SIGINT or SIGTERM in each phase: while the
 * reference labels the training sample, while the specialized models train, during the cascade
 * scan, and while the reference checks the uncertain frames. Each stop exits 130 at once (no later
 * phase starts), keeps the labels already committed, writes no query run and no partial trained
 * cascade. The stops come one after another on one catalog, each run resuming what the last one
 * kept; the run after the last stop answers as a clean run does, and its plan makes the same
 * choices as the clean run's (the determinism of cold runs across catalogs).
 *
 * Determinism: with the label store in the same state, cold runs train the same models (fixed
 * seed, same thread count) and send the same frames to the reference, so after a stop in the
 * sample, the training or the scan (the store then holds a prefix of the sample, or the sample) the
 * rerun answers frame for frame as the clean run and labels exactly the frames the stop left
 * unlabelled. A stop while the uncertain frames are checked leaves a prefix of them labelled; the
 * rerun then decides as the clean run everywhere except, possibly, in the rest of the one stretch
 * the stop cut (which it may interpolate from the last kept label instead of checking).
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { QueryResult } from '../../src/engine-types.js';
import { openEngine } from '../../src/engine.js';
import { Catalog } from '../../src/storage/index.js';
import { video } from '../helpers.js';
import { ensureBuilt, jsonOf, runSieve, type SieveRun } from './run-sieve.js';

// shopfront_cctv's first 20 s (600 frames): a 150-frame sample every 4th frame, two models trained,
// a 32x32 scan of the 450 unlabelled frames, about 190 uncertain frames checked by the reference.
const CLIP = video('shopfront_cctv.mp4');
const SQL = "SELECT frame FROM shop WHERE class = 'person' AND timestamp < 20 FNR WITHIN 0.05 FPR WITHIN 0.05";
const SAMPLE = Array.from({ length: 150 }, (_, i) => 4 * i);
/** Frames the scan decodes: those the sample left out. */
const SCANNED = 450;

/** The progress bars of a run, in the order the cascade runs them. */
const PHASES = ['labelling sample', 'training 32px model', 'training 64px model', 'cascade scan', 'reference (uncertain)'] as const;
type Phase = (typeof PHASES)[number];
const BAR = /(labelling sample|training \d+px model|cascade scan|reference \(uncertain\)) +\[[^\]]*\] (\d+)\/(\d+) (?:frames|steps)/g;

interface Bar {
  readonly phase: Phase;
  readonly done: number;
  readonly total: number;
}

function bars(stderr: string): Bar[] {
  return [...stderr.matchAll(BAR)].map((m) => ({ phase: m[1] as Phase, done: Number(m[2]), total: Number(m[3]) }));
}

let tmp: string;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-interrupt-query-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function query(catalog: string, onStderr?: (chunk: string, child: ChildProcess) => void): Promise<SieveRun> {
  return runSieve(['query', SQL, '--video', `shop=${CLIP}`, '--catalog', catalog, '--json', '--progress'], {
    env: { SIEVE_CACHE_DIR: join(tmp, 'cache') },
    ...(onStderr ? { onStderr } : {}),
  });
}

interface Stopped extends SieveRun {
  /** The bar that triggered the signal, and the stderr printed after it. */
  readonly at: Bar;
  readonly after: string;
  readonly msToExit: number;
}

/** Runs the query and sends `signal` at the first progress bar of `phase` for which `when` holds. */
async function queryAndStop(catalog: string, phase: Phase, signal: NodeJS.Signals, when: (bar: Bar) => boolean): Promise<Stopped> {
  let seen = '';
  let at: Bar | undefined;
  let cut = 0;
  let sentAt = 0;
  const run = await query(catalog, (chunk, child) => {
    seen += chunk;
    if (at) return;
    const bar = bars(seen).find((b) => b.phase === phase && when(b));
    if (!bar) return;
    at = bar;
    cut = seen.length;
    sentAt = performance.now();
    child.kill(signal);
  });
  expect(at, `no '${phase}' progress matched before the run ended:\n${run.stderr.slice(-2000)}`).toBeDefined();
  return { ...run, at: at!, after: run.stderr.slice(cut), msToExit: performance.now() - sentAt };
}

/** The run stopped in `phase`: exit 130 with the INTERRUPTED error, and no later phase began. */
function expectStoppedIn(run: Stopped, phase: Phase): void {
  expect(run.code, run.stderr.slice(-3000)).toBe(130);
  expect(run.signal).toBeNull();
  expect(run.stderr).toMatch(/sieve: the run was interrupted; labels written so far are kept.*\[INTERRUPTED\]/);
  expect(jsonOf<{ error: { code: string } }>(run).error.code).toBe('INTERRUPTED');
  const later = PHASES.slice(PHASES.indexOf(phase) + 1);
  expect(bars(run.after).filter((b) => later.includes(b.phase)), 'a later phase ran after the signal').toEqual([]);
  // Generous for a loaded 2-core machine; what remains of any phase takes longer.
  expect(run.msToExit).toBeLessThan(8000);
}

/** The last value a phase's bar showed. */
function lastDone(stderr: string, phase: Phase): number {
  return bars(stderr).filter((b) => b.phase === phase).at(-1)?.done ?? -1;
}

/** What the catalog holds for the clip: its labelled frames, trained cascades and query runs. */
async function catalogState(path: string) {
  const catalog = await Catalog.open(path);
  try {
    const videos = await catalog.listVideos();
    const models = await catalog.listModels();
    expect(videos).toHaveLength(1);
    expect(models).toHaveLength(1);
    const [v, m] = [videos[0]!, models[0]!];
    const labelled = [...(await catalog.labelledFrames(v.id, m.id))];
    const detections = await catalog.readDetections(v.id, m.id);
    const cascades = await catalog.listSpecializedModels();
    const stored = await Promise.all(cascades.map((c) => catalog.findSpecializedModel(c)));
    return { labelled, detections, cascades, stored, queryRuns: await catalog.listQueryRuns(1000) };
  } finally {
    await catalog.close();
  }
}

type State = Awaited<ReturnType<typeof catalogState>>;

/** A trained cascade row as the cold run writes it in one statement: a model and its calibration. */
function expectCompleteCascade(state: State): void {
  expect(state.cascades).toHaveLength(1);
  const [row] = state.stored;
  expect(row!.kind).toBe('presence');
  expect(row!.predicateKey).toMatch(/^presence:.*:fnr=0.05:fpr=0.05$/);
  expect(row!.onnx.length).toBeGreaterThan(1000);
  expect(row!.onnx.length).toBe(state.cascades[0]!.onnxBytes);
  expect(row!.metrics).toMatchObject({ task: 'presence', sampleStep: 4, trainingFrames: SAMPLE, thresholds: expect.any(Object) });
}

describe('an interrupted cold cascade query', { timeout: 600_000 }, () => {
  let clean: QueryResult;
  let cleanState: State;

  it('a clean cold run trains a cascade and answers (the reference for the runs below)', async () => {
    const path = join(tmp, 'clean.duckdb');
    const run = await query(path);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    clean = jsonOf<QueryResult>(run);
    expect(clean.accuracy.mode).toBe('cascade');
    expect(clean.stats.stages.map((s) => s.stage)).toContain('train + calibrate');
    expect(clean.stats.framesInRange).toBe(600);
    expect(clean.rows.length).toBeGreaterThan(0);
    // Every phase showed its progress; the scan decoded the frames the sample left out.
    for (const phase of ['labelling sample', 'training 32px model', 'cascade scan', 'reference (uncertain)'] as const) expect(lastDone(run.stderr, phase)).toBeGreaterThan(0);
    expect(lastDone(run.stderr, 'cascade scan')).toBe(SCANNED);
    cleanState = await catalogState(path);
    expect(cleanState.labelled.length).toBe(clean.stats.referenceCalls);
    expectCompleteCascade(cleanState);
    expect(cleanState.queryRuns).toHaveLength(1);
  });

  /**
   * The rerun on a stopped catalog: it completes, labels only what was not kept, and answers as the
   * clean run. `free` are frames where its answer may differ (see the last test); elsewhere it must not.
   */
  async function expectRerunAsClean(path: string, kept: State, free: readonly number[] = []) {
    const run = await query(path);
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    const result = jsonOf<QueryResult>(run);
    expect(result.accuracy.mode).toBe('cascade');
    const frames = (r: QueryResult) => r.rows.map((row) => row['frame'] as number);
    const differ = [...new Set([...frames(result), ...frames(clean)])].filter((f) => frames(result).includes(f) !== frames(clean).includes(f));
    expect(differ.filter((f) => !free.includes(f)), 'frames the rerun answered differently from the clean run').toEqual([]);
    if (free.length === 0) expect(result.rows).toEqual(clean.rows);
    // Only the frames not kept are labelled (kept ones are read from the store).
    expect(result.stats.referenceCalls).toBeLessThanOrEqual(clean.stats.referenceCalls - kept.labelled.length);
    expect(result.stats.referenceCalls).toBeGreaterThanOrEqual(clean.stats.referenceCalls - kept.labelled.length - free.length);
    expect(result.stats.labelsFromStore).toBeGreaterThan(0);
    const after = await catalogState(path);
    // The labels are the clean run's (all of them, or all but frames it no longer needs to check).
    const labelled = free.length === 0 ? cleanState.labelled : cleanState.labelled.filter((f) => !free.includes(f) || after.labelled.includes(f));
    expect(after.labelled).toEqual(labelled);
    expect(after.detections).toEqual(cleanState.detections.filter((d) => labelled.includes(d.frame)));
    expectCompleteCascade(after);
    expect(after.queryRuns).toHaveLength(1);
    return { run, result };
  }

  it('stopped in each phase in turn on one catalog (SIGINT in the sample, SIGTERM in training, SIGINT in the scan, SIGTERM in the uncertain frames): each exits 130 at once and keeps what it committed; the last rerun answers as the clean run', async () => {
    const path = join(tmp, 'stopped.duckdb');
    const inSample = await queryAndStop(path, 'labelling sample', 'SIGINT', (b) => b.done >= 12 && b.done < b.total);
    expectStoppedIn(inSample, 'labelling sample');
    expect(lastDone(inSample.stderr, 'labelling sample')).toBeLessThan(150);
    const afterSample = await catalogState(path);
    expect(afterSample.labelled.length).toBeGreaterThanOrEqual(inSample.at.done);
    expect(afterSample.labelled.length).toBeLessThan(150);
    expect(afterSample.labelled).toEqual(SAMPLE.slice(0, afterSample.labelled.length));
    expect(afterSample.detections).toEqual(cleanState.detections.filter((d) => afterSample.labelled.includes(d.frame)));
    expect(afterSample.cascades).toEqual([]);
    expect(afterSample.queryRuns).toEqual([]);

    // The next run labels only the rest of the sample, then is stopped while a model trains.
    const inTraining = await queryAndStop(path, 'training 32px model', 'SIGTERM', (b) => b.done >= 2);
    expectStoppedIn(inTraining, 'training 32px model');
    expect(bars(inTraining.stderr).find((b) => b.phase === 'labelling sample')?.total, 'frames of the sample still to label').toBe(SAMPLE.length - afterSample.labelled.length);
    const afterTraining = await catalogState(path);
    expect(afterTraining.labelled).toEqual(SAMPLE);
    expect(afterTraining.detections).toEqual(cleanState.detections.filter((d) => SAMPLE.includes(d.frame)));
    expect(afterTraining.cascades).toEqual([]);
    expect(afterTraining.queryRuns).toEqual([]);

    // The scan shows its bar after its first batch of frames; the signal lands before the last.
    const inScan = await queryAndStop(path, 'cascade scan', 'SIGINT', () => true);
    expectStoppedIn(inScan, 'cascade scan');
    expect(bars(inScan.stderr).filter((b) => b.phase === 'labelling sample' && b.total > 0), 'the sample was labelled again').toEqual([]);
    expect(lastDone(inScan.stderr, 'cascade scan'), 'the scan stopped part-way').toBeLessThan(SCANNED);
    const afterScan = await catalogState(path);
    expect(afterScan.labelled).toEqual(SAMPLE);
    // The trained cascade was stored whole before the scan began (a warm rerun uses it).
    expectCompleteCascade(afterScan);
    expect(afterScan.queryRuns).toEqual([]);

    const inVerify = await queryAndStop(path, 'reference (uncertain)', 'SIGTERM', (b) => b.done >= 12 && b.done < b.total);
    expectStoppedIn(inVerify, 'reference (uncertain)');
    expect(bars(inVerify.stderr).map((b) => b.phase), 'the rerun reused the stored cascade').not.toContain('training 32px model');
    expect(lastDone(inVerify.stderr, 'reference (uncertain)')).toBeLessThan(inVerify.at.total);
    const afterVerify = await catalogState(path);
    expect(afterVerify.labelled.length).toBeGreaterThanOrEqual(SAMPLE.length + inVerify.at.done);
    expect(afterVerify.labelled.length).toBeLessThan(cleanState.labelled.length);
    // The kept labels are the clean run's: the sample and a prefix of its uncertain frames.
    // (Frames the clean run's certification drew are not among them: certification comes after.)
    const verification = new Set((cleanState.stored[0]!.metrics as { verificationFrames?: number[] }).verificationFrames ?? []);
    const checked = (state: State) => state.labelled.filter((f) => !SAMPLE.includes(f) && !verification.has(f));
    expect(checked(afterVerify)).toEqual(checked(cleanState).slice(0, checked(afterVerify).length));
    expect(afterVerify.labelled.filter((f) => SAMPLE.includes(f))).toEqual(SAMPLE);
    expect(afterVerify.cascades).toEqual(afterScan.cascades);
    expect(afterVerify.queryRuns).toEqual([]);

    // The labels kept end inside a stretch the clean run checked frame by frame; the rerun may
    // interpolate the rest of it between the last kept label and the next sample frame, so those
    // (at most 3) frames may differ. Every other frame is decided as in the clean run.
    const last = checked(afterVerify).at(-1)!;
    const next = SAMPLE.find((f) => f > last) ?? 600;
    await expectRerunAsClean(path, afterVerify, Array.from({ length: next - last - 1 }, (_, i) => last + 1 + i));

    // Both catalogs hold a cascade trained on the same sample: the plans make the same choices
    // (measured timings and what each label store holds aside).
    const choices = async (catalog: string) => {
      const engine = await openEngine({ catalog });
      try {
        const { plan } = await engine.query(`EXPLAIN ${SQL}`, { videos: { shop: CLIP } });
        return (plan ?? '')
          .replace(/-?\d+(\.\d+)?(e[+-]?\d+)? ?(ms|s)\b/g, '#')
          .replace(/\d+ labelled/g, '# labelled')
          .replace(/about \d+ labels/g, 'about # labels')
          .replace(/\d+ in the label store/g, '# in the label store');
      } finally {
        await engine.close();
      }
    };
    const [a, b] = [await choices(join(tmp, 'clean.duckdb')), await choices(path)];
    expect(b).toMatch(/DifferenceFilter|FrameSkip/);
    expect(b).toBe(a);
  });
});
