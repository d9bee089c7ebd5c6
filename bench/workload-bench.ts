/**
 * `npm run bench:workload`: many queries on one video, answered from one per-video index.
 *
 * Two parts (`--only limit|workload`, default both):
 *
 * - **limit**: `LIMIT k GAP g` queries (grouped `HAVING SUM(class = ...)` and frame selections)
 *   answered by the ranked search over the index, cold (empty catalog: the index is built first)
 *   and with the index built beforehand by `engine.index` (the query's own calls are the search's),
 *   beside the exact plan (`planner.search = false`: the reference in frame order until k frames), on an empty
 *   catalog. Every returned frame is checked against the fully labelled truth: it satisfies the
 *   predicate, the returned frames are a GAP apart, and there are as many as the exact plan returns.
 * - **workload**: ten queries (presence of three classes, three FCOUNTs, the two LIMIT queries, a
 *   box predicate and a time range) in order on one catalog, beside each run alone on an empty
 *   catalog, and naive (the reference on every frame); accuracy of every answer against the exact
 *   answer on the fully labelled truth.
 *
 * Flags: `--videos a,b` (prefixes), `--only limit|workload`, `--truth-dir d` (keep the fully
 * labelled truth catalogs and naive's time between runs), `--no-write`.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openEngine, type Engine, type QueryOptions } from '../src/engine.js';
import type { QueryResult } from '../src/engine-types.js';
import { dataDir, describeMachine, isoDate, machineLine, markdownTable, resolveFromRoot, updateMarkdownSection, writeJson } from './bench-util.js';
import { realTimeline } from './long-timeline.js';

type Kind = 'presence' | 'fcount' | 'limit';

interface Query {
  readonly name: string;
  readonly sql: string;
  readonly kind: Kind;
}

interface Scenario {
  readonly video: string;
  readonly path: () => string;
  /** The LIMIT queries (the workload runs them too). */
  readonly limit: readonly Query[];
  readonly workload: readonly Query[];
}

const P = 'FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%';
const E = 'ERROR WITHIN 0.1 AT CONFIDENCE 95%';
const presence = (c: string, extra = '') => ({ name: `presence ${c}${extra ? ` (${extra.replace(/^ AND /, '')})` : ''}`, sql: `SELECT frame FROM v WHERE class = '${c}'${extra} ${P}`, kind: 'presence' as const });
const fcount = (c: string) => ({ name: `FCOUNT ${c}`, sql: `SELECT FCOUNT(*) FROM v WHERE class = '${c}' ${E}`, kind: 'fcount' as const });
const grouped = (having: string, k: number, gap: number) => ({ name: `LIMIT ${k} GAP ${gap}: ${having}`, sql: `SELECT frame, timestamp FROM v GROUP BY timestamp HAVING ${having} LIMIT ${k} GAP ${gap}`, kind: 'limit' as const });
const selection = (c: string, k: number, gap: number) => ({ name: `LIMIT ${k} GAP ${gap}: ${c}`, sql: `SELECT frame FROM v WHERE class = '${c}' LIMIT ${k} GAP ${gap}`, kind: 'limit' as const });
const video = (name: string) => () => join(dataDir(), 'videos', name);

function scenario(video: string, path: () => string, classes: readonly [string, string, string], limit: readonly Query[], box: Query, range: Query): Scenario {
  return { video, path, limit, workload: [...classes.map((c) => presence(c)), ...classes.map(fcount), ...limit, box, range] };
}

const SCENARIOS: readonly Scenario[] = [
  scenario(
    'ucsd_ped2_walkway_concat.mp4 (7.6 min)',
    () => realTimeline(dataDir()),
    ['bicycle', 'motorcycle', 'truck'],
    // person >= 12: 12 answers a GAP apart in the truth (>= 13: 9, fewer than k, so every frame is
    // checked); bicycle: 6 answers a GAP apart, so LIMIT 5.
    [grouped("SUM(class = 'person') >= 12", 10, 300), selection('bicycle', 5, 300)],
    presence('bicycle', ' AND xmin > 180'),
    presence('bicycle', ' AND timestamp BETWEEN 100 AND 250'),
  ),
  scenario(
    'road_polecam.mp4',
    video('road_polecam.mp4'),
    ['bus', 'truck', 'person'],
    [grouped("SUM(class = 'car') >= 8 AND SUM(class = 'bus') >= 2", 3, 100), selection('truck', 3, 100)],
    presence('car', ' AND area > 20000'),
    presence('bus', ' AND timestamp BETWEEN 10 AND 30'),
  ),
  scenario(
    'campus_pedestrians_vtest.mp4',
    video('campus_pedestrians_vtest.mp4'),
    ['person', 'car', 'truck'],
    [grouped("SUM(class = 'person') >= 7", 3, 100), selection('car', 3, 100)],
    presence('person', ' AND ymax > 330'),
    presence('person', ' AND timestamp BETWEEN 20 AND 50'),
  ),
  scenario(
    'shopfront_cctv.mp4',
    video('shopfront_cctv.mp4'),
    ['person', 'car', 'bicycle'],
    [grouped("SUM(class = 'person') >= 2", 3, 100), selection('person', 5, 200)],
    presence('person', ' AND xmin > 320'),
    presence('person', ' AND timestamp BETWEEN 20 AND 45'),
  ),
];

interface Run {
  readonly seconds: number;
  readonly referenceCalls: number;
  readonly result: QueryResult;
}

interface Check {
  readonly met: boolean;
  readonly detail: string;
}

const { values } = parseArgs({ options: { videos: { type: 'string' }, only: { type: 'string' }, 'truth-dir': { type: 'string' }, 'no-write': { type: 'boolean' } } });
const chosen = values.videos?.split(',').map((s) => s.trim());
const scenarios = SCENARIOS.filter((s) => !chosen || chosen.some((c) => s.video.startsWith(c)));
const truthDir = values['truth-dir'];
if (truthDir) mkdirSync(truthDir, { recursive: true });
const work = mkdtempSync(join(tmpdir(), 'sieve-workload-bench-'));
const machine = describeMachine();
let catalogs = 0;

async function timed(engine: Engine, sql: string, path: string, options: Partial<QueryOptions> = {}): Promise<Run> {
  const t = performance.now();
  const result = await engine.query(sql, { videos: { v: path }, ...options });
  return { seconds: (performance.now() - t) / 1000, referenceCalls: result.stats.referenceCalls, result };
}

async function fresh<T>(fn: (engine: Engine) => Promise<T>): Promise<T> {
  const engine = await openEngine({ catalog: join(work, `c${catalogs++}.duckdb`) });
  try {
    return await fn(engine);
  } finally {
    await engine.close();
  }
}

const framesOf = (r: QueryResult) => r.rows.map((row) => Number(row['frame']));
/** The query without its LIMIT clause (every satisfying frame). */
const unlimited = (sql: string) => sql.replace(/ LIMIT \d+( GAP \d+)?$/, '');
const gapOf = (sql: string) => Number(/ GAP (\d+)$/.exec(sql)?.[1] ?? 1);

/** The truth engine: every frame labelled (naive, timed once; kept with `--truth-dir`). */
async function truthOf(s: Scenario, path: string): Promise<{ engine: Engine; naiveSeconds: number; frames: number }> {
  const file = s.video.split(' ')[0]!;
  const engine = await openEngine({ catalog: join(truthDir ?? work, `${file}-truth.duckdb`) });
  const naiveFile = truthDir ? join(truthDir, `${file}-naive.json`) : undefined;
  const recorded = naiveFile && existsSync(naiveFile) ? (JSON.parse(readFileSync(naiveFile, 'utf8')) as { seconds: number }) : undefined;
  const naive = await timed(engine, "SELECT frame FROM v WHERE class = 'person'", path, { exact: true });
  if (naiveFile && !recorded) writeFileSync(naiveFile, JSON.stringify({ seconds: naive.seconds }));
  return { engine, naiveSeconds: recorded?.seconds ?? naive.seconds, frames: naive.result.stats.framesInRange };
}

/** An answer against the exact one on the fully labelled truth. */
async function check(q: Query, result: QueryResult, truth: Engine, path: string): Promise<Check> {
  if (q.kind === 'fcount') {
    const exact = (await timed(truth, q.sql, path, { exact: true })).result.value!;
    const error = Math.abs(result.value! - exact);
    return { met: error <= 0.1, detail: `error ${error.toFixed(3)} (exact ${exact.toFixed(3)})` };
  }
  const all = new Set(framesOf((await timed(truth, unlimited(q.sql), path, { exact: true })).result));
  const got = framesOf(result);
  if (q.kind === 'limit') {
    const exact = framesOf((await timed(truth, q.sql, path, { exact: true, planner: { search: false } })).result);
    const wrong = got.filter((f) => !all.has(f)).length;
    const sorted = [...got].sort((a, b) => a - b);
    const close = sorted.filter((f, i) => i > 0 && f - sorted[i - 1]! < gapOf(q.sql)).length;
    const met = wrong === 0 && close === 0 && got.length >= exact.length;
    return { met, detail: `${got.length} frames (exact plan ${exact.length}), ${wrong} not satisfying, ${close} within GAP` };
  }
  const N = result.stats.framesInRange;
  const set = new Set(got);
  const fn = [...all].filter((f) => !set.has(f)).length;
  const fp = got.filter((f) => !all.has(f)).length;
  const fnr = all.size ? fn / all.size : 0;
  const fpr = N - all.size ? fp / (N - all.size) : 0;
  return { met: fnr <= 0.05 && fpr <= 0.05, detail: `FNR ${fnr.toFixed(3)} FPR ${fpr.toFixed(3)} (${all.size} of ${N} frames)` };
}

interface LimitRow {
  readonly video: string;
  readonly query: string;
  readonly frames: number;
  readonly cold: { seconds: number; referenceCalls: number; index: unknown; verified: number; ranked: number };
  readonly indexed: { seconds: number; referenceCalls: number };
  readonly exactPlan: { seconds: number; referenceCalls: number; returned: number };
  readonly callsColdOverExact: number;
  readonly callsIndexedOverExact: number;
  readonly check: Check;
}

interface SearchPlan {
  index?: unknown;
  verified?: number;
  ranked?: number;
}

async function searchPlan(engine: Engine): Promise<SearchPlan> {
  const [run] = await engine.catalog.listQueryRuns(1);
  return (run?.plan ?? {}) as SearchPlan;
}

/** The classes a query names. */
const classesOf = (sql: string) => [...new Set([...sql.matchAll(/class = '(\w+)'/g)].map((m) => m[1]!))];

/**
 * One LIMIT query: cold on an empty catalog (the index built first), then on another empty
 * catalog where `sieve index` built the index for the query's classes beforehand (the query's own
 * calls are then the search's alone), and the exact plan on an empty catalog.
 */
async function limitRow(s: Scenario, q: Query, path: string, truth: Engine, frames: number): Promise<LimitRow> {
  const { cold, plan } = await fresh(async (engine) => {
    const cold = await timed(engine, q.sql, path);
    return { cold, plan: await searchPlan(engine) };
  });
  const indexed = await fresh(async (engine) => {
    await engine.index(path, { classes: classesOf(q.sql) });
    return timed(engine, q.sql, path);
  });
  const exact = await fresh((engine) => timed(engine, q.sql, path, { planner: { search: false } }));
  const result = await check(q, cold.result, truth, path);
  const row: LimitRow = {
    video: s.video,
    query: q.sql.replace('FROM v ', 'FROM video '),
    frames,
    cold: { seconds: cold.seconds, referenceCalls: cold.referenceCalls, index: plan.index ?? null, verified: plan.verified ?? 0, ranked: plan.ranked ?? 0 },
    indexed: { seconds: indexed.seconds, referenceCalls: indexed.referenceCalls },
    exactPlan: { seconds: exact.seconds, referenceCalls: exact.referenceCalls, returned: exact.result.rows.length },
    callsColdOverExact: cold.referenceCalls / Math.max(1, exact.referenceCalls),
    callsIndexedOverExact: indexed.referenceCalls / Math.max(1, exact.referenceCalls),
    check: result,
  };
  log(`  ${q.name}: cold ${cold.seconds.toFixed(1)} s ${cold.referenceCalls} calls; indexed ${indexed.seconds.toFixed(1)} s ${indexed.referenceCalls} calls; exact plan ${exact.seconds.toFixed(1)} s ${exact.referenceCalls} calls; ${result.detail}`);
  return row;
}

interface WorkloadRow {
  readonly video: string;
  readonly query: string;
  readonly kind: Kind;
  readonly inWorkload: { seconds: number; referenceCalls: number; mode: string; check: Check };
  readonly alone: { seconds: number; referenceCalls: number; mode: string; check: Check };
}

async function workloadRows(s: Scenario, path: string, truth: Engine): Promise<WorkloadRow[]> {
  const inOrder = await fresh(async (engine) => {
    const runs: Run[] = [];
    for (const q of s.workload) {
      runs.push(await timed(engine, q.sql, path));
      log(`  workload ${q.name}: ${runs.at(-1)!.seconds.toFixed(1)} s, ${runs.at(-1)!.referenceCalls} calls (${runs.at(-1)!.result.accuracy.mode})`);
    }
    return runs;
  });
  const rows: WorkloadRow[] = [];
  for (const [i, q] of s.workload.entries()) {
    const alone = await fresh((engine) => timed(engine, q.sql, path));
    const w = inOrder[i]!;
    const row: WorkloadRow = {
      video: s.video,
      query: q.sql.replace('FROM v ', 'FROM video '),
      kind: q.kind,
      inWorkload: { seconds: w.seconds, referenceCalls: w.referenceCalls, mode: w.result.accuracy.mode, check: await check(q, w.result, truth, path) },
      alone: { seconds: alone.seconds, referenceCalls: alone.referenceCalls, mode: alone.result.accuracy.mode, check: await check(q, alone.result, truth, path) },
    };
    log(`  alone ${q.name}: ${alone.seconds.toFixed(1)} s, ${alone.referenceCalls} calls; workload ${row.inWorkload.check.detail}; alone ${row.alone.check.detail}`);
    rows.push(row);
  }
  return rows;
}

interface VideoSummary {
  readonly video: string;
  readonly frames: number;
  readonly naiveSeconds: number;
  readonly workload?: { seconds: number; referenceCalls: number; maxAloneCalls: number; callsOverMaxAlone: number; aloneSeconds: number; aloneCalls: number; met: number; queries: number };
}

const limitRows: LimitRow[] = [];
const workRows: WorkloadRow[] = [];
const videos: VideoSummary[] = [];
try {
  for (const s of scenarios) {
    const path = s.path();
    const truth = await truthOf(s, path);
    log(`${s.video}: ${truth.frames} frames, naive ${truth.naiveSeconds.toFixed(1)} s`);
    try {
      if (values.only !== 'workload') for (const q of s.limit) limitRows.push(await limitRow(s, q, path, truth.engine, truth.frames));
      let summary: VideoSummary['workload'];
      if (values.only !== 'limit') {
        const rows = await workloadRows(s, path, truth.engine);
        workRows.push(...rows);
        const sum = (f: (r: WorkloadRow) => number) => rows.reduce((a, r) => a + f(r), 0);
        const maxAloneCalls = Math.max(...rows.map((r) => r.alone.referenceCalls));
        const calls = sum((r) => r.inWorkload.referenceCalls);
        summary = { seconds: sum((r) => r.inWorkload.seconds), referenceCalls: calls, maxAloneCalls, callsOverMaxAlone: calls / Math.max(1, maxAloneCalls), aloneSeconds: sum((r) => r.alone.seconds), aloneCalls: sum((r) => r.alone.referenceCalls), met: rows.filter((r) => r.inWorkload.check.met).length, queries: rows.length };
        log(`${s.video}: workload ${summary.seconds.toFixed(1)} s, ${calls} calls (${summary.callsOverMaxAlone.toFixed(2)}x the most expensive alone, ${maxAloneCalls}); alone in total ${summary.aloneSeconds.toFixed(1)} s, ${summary.aloneCalls} calls`);
      }
      videos.push({ video: s.video, frames: truth.frames, naiveSeconds: truth.naiveSeconds, ...(summary ? { workload: summary } : {}) });
    } finally {
      await truth.engine.close();
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}

/** The rows of an earlier run for the videos this run left out (`--videos`), kept beside this run's. */
function earlier<R extends { video: string }>(file: string, key: 'rows' | 'videos'): R[] {
  if (!chosen || !existsSync(file)) return [];
  const ran = new Set(scenarios.map((s) => s.video));
  return ((JSON.parse(readFileSync(file, 'utf8')) as Record<string, R[]>)[key] ?? []).filter((r) => !ran.has(r.video));
}

if (!values['no-write']) {
  const date = isoDate();
  const limitFile = resolveFromRoot('bench', 'results', 'workload-limit.json');
  const workFile = resolveFromRoot('bench', 'results', 'workload.json');
  if (limitRows.length > 0) limitRows.unshift(...earlier<LimitRow>(limitFile, 'rows'));
  if (workRows.length > 0) workRows.unshift(...earlier<WorkloadRow>(workFile, 'rows'));
  const limitVideos = [...earlier<VideoSummary>(limitFile, 'videos'), ...videos];
  const workVideos = [...earlier<VideoSummary>(workFile, 'videos'), ...videos.filter((v) => v.workload)];
  const args = process.argv.slice(2);
  const command = `\`npm run bench:workload${args.length ? ` -- ${args.join(' ')}` : ''}\`, ${date}, ${machineLine(machine)}. Reference: yolo11n_int8dyn_640. One run.`;
  const naiveOf = (v: string) => limitVideos.find((x) => x.video === v)!.naiveSeconds;
  if (limitRows.length > 0) {
    writeJson(limitFile, { date, machine, videos: limitVideos, rows: limitRows });
    const table = markdownTable(
      ['video', 'query', 'frames', 'naive s', 'cold s (index built)', 'cold calls', 'index signals added', 'with the index: s / calls', 'exact plan s / calls', 'calls cold / exact', 'calls with index / exact', 'answer vs truth'],
      limitRows.map((r) => [
        r.video,
        `\`${r.query}\``,
        String(r.frames),
        naiveOf(r.video).toFixed(1),
        r.cold.seconds.toFixed(1),
        `${r.cold.referenceCalls} (${r.cold.verified} verifying)`,
        ((r.cold.index as { added?: string[] } | null)?.added ?? []).join(', ') || 'none',
        `${r.indexed.seconds.toFixed(1)} / ${r.indexed.referenceCalls}`,
        `${r.exactPlan.seconds.toFixed(1)} / ${r.exactPlan.referenceCalls}`,
        `${(100 * r.callsColdOverExact).toFixed(1)}%`,
        `${(100 * r.callsIndexedOverExact).toFixed(1)}%`,
        `${r.check.detail}${r.check.met ? '' : ' MISSED'}`,
      ]),
    );
    updateMarkdownSection(
      resolveFromRoot('BENCHMARKS.md'),
      'LIMIT search over the index',
      `${command} Cold: an empty catalog, the index's sample labelled, a count model per class trained and every frame scored, then the search (the calls include the index's sample). ` +
        "With the index: another empty catalog where `sieve index` (the engine's `index`) built the query's classes' signals first; the figures are the query's alone. " +
        'Exact plan: `planner.search = false`, the reference in frame order until k frames, on an empty catalog. Every returned frame is checked on the fully labelled truth.' +
        (chosen ? ` Only ${scenarios.map((x) => x.video).join(', ')} ran in this run; the other videos' rows are an earlier run's, kept from the JSON (each row's ratios are from one run).` : '') +
        '\n\n' +
        table,
    );
  }
  if (workRows.length > 0) {
    writeJson(workFile, { date, machine, videos: workVideos, rows: workRows });
    const table = markdownTable(
      ['video', 'query', 'in the workload: s / calls', 'alone: s / calls', 'accuracy in the workload (vs exact)', 'alone'],
      workRows.map((r) => [r.video, `\`${r.query}\``, `${r.inWorkload.seconds.toFixed(1)} / ${r.inWorkload.referenceCalls}`, `${r.alone.seconds.toFixed(1)} / ${r.alone.referenceCalls}`, `${r.inWorkload.check.detail}${r.inWorkload.check.met ? '' : ' MISSED'}`, `${r.alone.check.detail}${r.alone.check.met ? '' : ' MISSED'}`]),
    );
    const totals = markdownTable(
      ['video', 'frames', 'naive s', 'workload s / calls', 'calls / most expensive alone', 'each alone, summed: s / calls', 'targets met'],
      workVideos.map((v) => [v.video, String(v.frames), v.naiveSeconds.toFixed(1), `${v.workload!.seconds.toFixed(1)} / ${v.workload!.referenceCalls}`, `${v.workload!.callsOverMaxAlone.toFixed(2)}x (${v.workload!.maxAloneCalls})`, `${v.workload!.aloneSeconds.toFixed(1)} / ${v.workload!.aloneCalls}`, `${v.workload!.met} / ${v.workload!.queries}`]),
    );
    updateMarkdownSection(resolveFromRoot('BENCHMARKS.md'), 'Workload: ten queries on one catalog', `${command} The ten queries in order on one catalog, beside each alone on an empty catalog; accuracy against the exact answers on the fully labelled truth.\n\n${totals}\n\n${table}`);
  }
}

function log(message: string): void {
  process.stderr.write(`${message}\n`);
}
