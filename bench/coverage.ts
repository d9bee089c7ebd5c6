/**
 * `npm run bench:coverage -- --truth-dir <dir> [--long-truth <catalog>]`: how often do the
 * engine's accuracy promises hold? Counts: the stratified estimate's interval (count-coverage.ts).
 * Selections: the certified FNR / FPR bounds (selection-coverage.ts), on every shared video's
 * presence classes and, with `--long-truth` (a catalog where the 7.6-minute timeline is fully
 * labelled: `sieve label <timeline> --catalog <file>`), on the long timeline.
 *
 * Flags: `--runs n` (selection replays per answer, default 400), `--only count|selection`,
 * `--no-write`.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { dataDir, describeMachine, isoDate, machineLine, markdownTable, resolveFromRoot, updateMarkdownSection, writeJson } from './bench-util.js';
import { countCoverage } from './count-coverage.js';
import { realTimeline } from './long-timeline.js';
import { SELECTION_METHOD, selectionCoverage, type SelectionCase, type SelectionRow } from './selection-coverage.js';

const PRESENCE: readonly [string, readonly string[]][] = [
  ['road_polecam.mp4', ['car', 'bus']],
  ['shopfront_cctv.mp4', ['person']],
  ['intel_one_by_one_person.mp4', ['person']],
  ['campus_pedestrians_vtest.mp4', ['person']],
  ['interstate_overpass.avi', ['car', 'truck']],
  ['street_window_cvtrafficcam.mp4', ['car']],
  ['grocery_cctv_screencast.mp4', ['person']],
  ['india_intersection_320.mp4', ['car', 'bus']],
];
/** Targets a short clip's cascade can often certify, the long-timeline targets, and the defaults (long timeline only). */
const CLAUSES = ['FNR WITHIN 0.1 FPR WITHIN 0.1 AT CONFIDENCE 90%', 'FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%', ''];

const { values } = parseArgs({
  options: { 'truth-dir': { type: 'string' }, 'long-truth': { type: 'string' }, runs: { type: 'string' }, only: { type: 'string' }, 'no-write': { type: 'boolean' } },
});
const truthDir = values['truth-dir'];
if (!truthDir) throw new Error('give --truth-dir: the folder where `npm run bench:cascade -- --truth-dir <dir>` kept its fully labelled catalogs');
const write = !values['no-write'];
if (values.only !== 'selection') await countCoverage(truthDir, write, values['long-truth']);
if (values.only !== 'count') await selections(truthDir, Number(values.runs ?? 400));

async function selections(dir: string, runs: number): Promise<void> {
  const cases: SelectionCase[] = [];
  for (const [video, classes] of PRESENCE)
    for (const cls of classes) for (const clause of CLAUSES.slice(0, 2)) cases.push({ label: video, path: join(dataDir(), 'videos', video), truth: join(dir, `${video}-truth.duckdb`), cls, clause });
  const long = values['long-truth'];
  if (long) for (const cls of ['bicycle', 'person']) for (const clause of CLAUSES) cases.push({ label: '7.6-min timeline', path: realTimeline(dataDir()), truth: long, cls, clause });
  const rows: SelectionRow[] = [];
  for (const c of cases) {
    const row = await selectionCoverage(c, runs);
    rows.push(row);
    const line = row.fellBack ? 'fell back to exact (nothing to certify)' : row.answers.map((a) => `${a.answer}: coverage ${a.coverage.toFixed(3)}, ${a.meanLabels.toFixed(0)} labels`).join('; ');
    process.stderr.write(`${c.label} ${c.cls} ${c.clause || '(default targets)'}: ${line}\n`);
  }
  if (!write) return;
  const machine = describeMachine();
  writeJson(resolveFromRoot('bench', 'results', 'selection-coverage.json'), { date: isoDate(), machine, runs, method: SELECTION_METHOD, rows });
  const table = markdownTable(
    ['video', 'class (share of frames)', 'targets', 'stage ref calls', 'unverified', 'answer', 'coverage FNR & FPR', 'certified', 'labels per run (mean)', 'floor', 'mean bound FNR / FPR', 'mean true FNR / FPR'],
    rows.flatMap((r) =>
      r.fellBack
        ? [[r.video, `${r.cls} (${pct(r.baseRate)})`, r.clause || 'defaults', String(r.stageCalls), '–', 'fell back to exact', '–', '–', '–', r.floor.toFixed(0), '–', '–']]
        : r.answers.map((a) => [
            r.video,
            `${r.cls} (${pct(r.baseRate)})`,
            r.clause || 'defaults',
            String(r.stageCalls),
            String(r.unverified),
            a.answer,
            a.coverage.toFixed(3),
            a.certified.toFixed(2),
            a.meanLabels.toFixed(0),
            r.floor.toFixed(0),
            `${a.meanBoundFnr.toFixed(4)} / ${a.meanBoundFpr.toFixed(4)}`,
            `${a.meanTrueFnr.toFixed(4)} / ${a.meanTrueFpr.toFixed(4)}`,
          ]),
    ),
  );
  updateMarkdownSection(
    resolveFromRoot('BENCHMARKS.md'),
    'Selection bound coverage',
    `\`npm run bench:coverage -- --truth-dir <dir> --long-truth <catalog>\`, ${isoDate()}, ${machineLine(machine)}. ` +
      `Per video and class, one cold presence cascade on an empty catalog with the reference's labels replayed from a fully labelled catalog (yolo11n_int8dyn_640, every frame), so every stage decides as in a real run; ` +
      `the answer it handed to certification is then certified ${runs} times with different seeds (${SELECTION_METHOD}), and each corrected answer is compared with the exact one over every frame. ` +
      `Coverage = share of runs whose true FNR and FPR both lie within the bounds (the promise is the stated confidence); certified = share of runs whose bounds met the targets; ` +
      `labels = the verification sample's reference calls (the stage calls are the sample, training and uncertain frames of the one cold run); floor = ln(1/δ)(1-p)/(a p), the labels certifying FNR ≤ a needs when no miss is found. ` +
      `"degraded" is the same answer with a fixed 5% of its unverified decisions flipped: the bound must hold for any answer, not only a good one. The stages themselves ran once per row (training a cascade 400 times per video is hours); what varies between runs is the verification sample.\n\n` +
      table,
  );
}

function pct(x: number): string {
  return `${(x * 100).toFixed(x < 0.1 ? 1 : 0)}%`;
}
