/**
 * Count half of `npm run bench:coverage -- --truth-dir <dir>`: does the count cascade's interval hold on real
 * counts? For each shared video's FCOUNT class, the reference detector's per-frame counts (from the
 * fully labelled catalogs `bench:cascade --truth-dir <dir>` keeps) are sampled the way the count
 * cascade samples them (the pilot third of the sample exact, stratified random blocks for the
 * rest), many times with different seeds; the share of runs whose interval contains the exact
 * average is the coverage, next to the labels each run needed and the worst error seen.
 * No detector runs here: only the estimator is exercised, on real label sequences.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { openEngine } from '../src/engine.js';
import { DEFAULT_FCOUNT_ERROR } from '../src/binder/index.js';
import { sampleStep } from '../src/optimizer/cascade-search.js';
import { neighbourVariance, sampleStratified } from '../src/optimizer/count-estimator.js';
import { frameList } from '../src/video/frame-range.js';
import { Random } from '../src/training/random.js';
import { realTimeline } from './long-timeline.js';
import { dataDir, describeMachine, isoDate, machineLine, markdownTable, resolveFromRoot, updateMarkdownSection, writeJson } from './bench-util.js';

const FCOUNT: readonly [string, string][] = [
  ['road_polecam.mp4', 'car'],
  ['shopfront_cctv.mp4', 'person'],
  ['intel_one_by_one_person.mp4', 'person'],
  ['campus_pedestrians_vtest.mp4', 'person'],
  ['interstate_overpass.avi', 'car'],
  ['street_window_cvtrafficcam.mp4', 'car'],
  ['grocery_cctv_screencast.mp4', 'person'],
  ['india_intersection_320.mp4', 'car'],
];
const RUNS = 400;
const CONFIDENCE = 0.95;

/** One replayed count: a video's truth catalog, its class, and the half-width asked for. */
interface CountCase {
  readonly video: string;
  readonly path: string;
  readonly catalog: string;
  readonly cls: string;
  readonly within: number;
}

/**
 * Replays the count sampling on every shared video's truth in `truthDir` (and, with `longTruth`, on
 * the 7.6-minute timeline's person count at the default and at ± 0.1); writes the results unless
 * `write` is false.
 */
export async function countCoverage(truthDir: string, write: boolean, longTruth?: string): Promise<void> {
  const rows = [];
  const cases: CountCase[] = FCOUNT.map(([video, cls]) => ({ video, path: join(dataDir(), 'videos', video), catalog: join(truthDir, `${video}-truth.duckdb`), cls, within: DEFAULT_FCOUNT_ERROR }));
  if (longTruth) for (const within of [DEFAULT_FCOUNT_ERROR, 0.1]) cases.push({ video: '7.6-min timeline', path: realTimeline(dataDir()), catalog: longTruth, cls: 'person', within });
  for (const { video, path, catalog, cls, within } of cases) {
    if (!existsSync(catalog)) {
      process.stderr.write(`${video}: no ${catalog}, skipped\n`);
      continue;
    }
    const engine = await openEngine({ catalog });
    const result = await engine.query(`SELECT frame FROM v WHERE class = '${cls}'`, { videos: { v: path }, exact: true });
    const rowsOf = await engine.query(`SELECT frame, class FROM v WHERE class = '${cls}'`, { videos: { v: path }, exact: true });
    await engine.close();
    if (result.stats.referenceCalls > 0) throw new Error(`${catalog} was not fully labelled`);
    const N = result.stats.framesInRange;
    const counts = new Float64Array(N);
    for (const r of rowsOf.rows) counts[Number(r.frame)]! += 1;
    const exactMean = counts.reduce((a, b) => a + b, 0) / N;
    // The count cascade's pilot: every third frame of its sample grid, labelled before sampling.
    const step = sampleStep(N);
    const pilot = Array.from(frameList(0, N, step * 3));
    const pilotSet = new Set(pilot);
    const population = Array.from({ length: N }, (_, f) => f).filter((f) => !pilotSet.has(f));
    let covered = 0;
    let labels = 0;
    let worst = 0;
    for (let r = 0; r < RUNS; r++) {
      const rng = new Random(1000 + r);
      const { estimate, drawn } = await sampleStratified({
        population,
        frames: N,
        exactSum: pilot.reduce((a, f) => a + counts[f]!, 0),
        exactFrames: pilot.length,
        within,
        confidence: CONFIDENCE,
        pilotVariance: neighbourVariance(pilot.map((f) => counts[f]!)),
        random: () => rng.next(),
        predicted: () => 0,
        label: () => undefined,
        value: (f) => counts[f]!,
      });
      const error = Math.abs(estimate.value - exactMean);
      if (error <= estimate.halfWidth) covered++;
      worst = Math.max(worst, error);
      labels += pilot.length + drawn.size;
    }
    const row = { video, class: cls, within, frames: N, exactMean, coverage: covered / RUNS, meanLabels: labels / RUNS, worstError: worst };
    rows.push(row);
    process.stderr.write(`${video} ${cls} ± ${within}: coverage ${row.coverage.toFixed(3)}, ${row.meanLabels.toFixed(0)} labels of ${N}, worst error ${worst.toFixed(3)}\n`);
  }
  if (write) {
    const machine = describeMachine();
    writeJson(resolveFromRoot('bench', 'results', 'count-coverage.json'), { date: isoDate(), machine, runs: RUNS, target: DEFAULT_FCOUNT_ERROR, confidence: CONFIDENCE, rows });
    updateMarkdownSection(
      resolveFromRoot('BENCHMARKS.md'),
      'Count interval coverage',
      `\`npm run bench:coverage -- --truth-dir <dir>${longTruth ? ' --long-truth <catalog>' : ''}\`, ${isoDate()}, ${machineLine(machine)}. The count cascade's sampling (pilot exact, then stratified random time blocks, ` +
        `targets ± ${DEFAULT_FCOUNT_ERROR} objects/frame (the default) or as listed, at ${CONFIDENCE * 100}%, no specialized model; a time window whose draws all agree borrows the pilot's frame-to-frame variance) replayed ${RUNS} times with different seeds on the reference detector's real per-frame counts ` +
        `(yolo11n_int8dyn_640, every frame). Coverage = share of runs whose interval held the exact average (the promise is ${CONFIDENCE * 100}%).\n\n` +
        markdownTable(
          ['video', 'class', 'target ±', 'frames', 'exact FCOUNT', 'coverage', 'labels per run (mean)', 'worst error in ' + RUNS],
          rows.map((r) => [r.video, r.class, String(r.within), String(r.frames), r.exactMean.toFixed(3), r.coverage.toFixed(3), r.meanLabels.toFixed(0), r.worstError.toFixed(3)]),
        ),
    );
  }
}
