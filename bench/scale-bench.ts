/**
 * `npm run bench:scale`: how Sieve's cost grows with the video's length, on the real 7.6-minute
 * UCSD Ped2 timeline and copies of it concatenated up to 2 hours (repeated content measures
 * cost, never accuracy: the accuracy columns only check that the answers stay right).
 *
 * Per length: the decode floor (every frame at 32x32), naive (the reference detector on every
 * frame: measured on the real timeline, extrapolated from its per-frame rate on the longer ones),
 * cold and warm runs of two presence queries and an FCOUNT query, their reference calls and each run's peak
 * RSS (every run in a child process of its own, so peaks do not carry over; ffmpeg's own
 * processes are not included), and the label store's insert and lookup rates with 1 million+
 * detection rows. Registration (hashing and probing the file) is done once per length, before the
 * runs, and reported on its own.
 *
 * When the optimizer falls back to labelling every frame and that would take more than
 * `--max-fallback-minutes` (default 10), the run is stopped when the fallback starts and its time
 * is extrapolated from the measured per-frame reference rate; such cells are marked.
 *
 * Flags: `--copies 1,4,16`, `--no-write`, `--max-fallback-minutes n`, `--only count|presence` (those
 * queries alone, written to `bench/results/scale-<kind>.json` and a section of their own).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { openEngine } from '../src/engine.js';
import type { QueryResult } from '../src/engine-types.js';
import { Catalog } from '../src/storage/catalog.js';
import { decodeFrames } from '../src/video/index.js';
import { dataDir, describeMachine, isoDate, machineLine, markdownTable, resolveFromRoot, updateMarkdownSection, writeJson } from './bench-util.js';
import { repeatedTimeline } from './long-timeline.js';

/**
 * The queries of every length: bicycle presence at the default targets (0.01 / 0.01 at 95%) and at
 * 0.05 / 0.05 at 90%, person presence at 0.05 / 0.05 at 90%, a rarer class, and an FCOUNT.
 */
const QUERIES: readonly { readonly name: string; readonly sql: string; readonly kind: 'presence' | 'count' }[] = [
  { name: 'presence: bicycle (13% of frames), targets 0.01 / 0.01', sql: "SELECT frame FROM v WHERE class = 'bicycle'", kind: 'presence' },
  { name: 'presence: bicycle, 0.05 / 0.05 at 90%', sql: "SELECT frame FROM v WHERE class = 'bicycle' FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%", kind: 'presence' },
  { name: 'presence: person (100%), 0.05 / 0.05 at 90%', sql: "SELECT frame FROM v WHERE class = 'person' FNR WITHIN 0.05 FPR WITHIN 0.05 AT CONFIDENCE 90%", kind: 'presence' },
  { name: 'presence: car (1%), targets 0.05 / 0.05', sql: "SELECT frame FROM v WHERE class = 'car' FNR WITHIN 0.05 FPR WITHIN 0.05", kind: 'presence' },
  { name: 'FCOUNT: person (mean 9 a frame), ± 0.1 at 95%', sql: "SELECT FCOUNT(*) FROM v WHERE class = 'person' ERROR WITHIN 0.1 AT CONFIDENCE 95%", kind: 'count' },
];
const BASE_FRAMES = 4560;

interface ChildJob {
  readonly kind: 'register' | 'query' | 'store';
  readonly catalog: string;
  readonly video: string;
  readonly sql?: string;
  readonly exact?: boolean;
  /** Runs of the same query in this child (cold then warm). */
  readonly runs?: number;
  readonly maxFallbackSeconds?: number;
  /** Seconds per frame of naive labelling (measured), to extrapolate a stopped fallback. */
  readonly referenceRate?: number;
}

interface RunFigures {
  seconds: number;
  referenceCalls: number;
  framesDecoded: number;
  /** Frames of the answer (presence) or the value (FCOUNT). */
  frames?: number[];
  value?: number;
  halfWidth?: number;
  mode: string;
  note: string;
  /** Stopped when a fallback to labelling every frame began; seconds are then extrapolated. */
  fallbackExtrapolated?: boolean;
  decoded?: QueryResult['stats']['decoded'];
  reads?: QueryResult['stats']['reads'];
}

interface ChildResult {
  runs?: RunFigures[];
  seconds?: number;
  frames?: number;
  maxRssMiB: number;
  store?: Record<string, number>;
}

async function child(job: ChildJob): Promise<ChildResult> {
  if (job.kind === 'store') return { store: await storeRates(job), maxRssMiB: maxRss() };
  const engine = await openEngine({ catalog: job.catalog, dataDir: dataDir() });
  try {
    if (job.kind === 'register') {
      const t = performance.now();
      const summary = await engine.addVideo(job.video, 'v');
      return { seconds: (performance.now() - t) / 1000, frames: summary.frameCount, maxRssMiB: maxRss() };
    }
    const runs: RunFigures[] = [];
    const referenceRate = job.referenceRate ?? 0.07;
    for (let r = 0; r < (job.runs ?? 1); r++) {
      const controller = new AbortController();
      let fallback: { started: number; frames: number; phase: string } | undefined;
      const t = performance.now();
      const onProgress = (e: { phase: string; total: number }) => {
        // The fallback to labelling every frame ('label'), or a verification pass as long ('verify').
        if (job.exact || fallback || (e.phase !== 'label' && e.phase !== 'verify') || !job.maxFallbackSeconds) return;
        if (e.total * referenceRate > job.maxFallbackSeconds) {
          fallback = { started: (performance.now() - t) / 1000, frames: e.total, phase: e.phase };
          controller.abort();
        }
      };
      try {
        const result = await engine.query(job.sql!, { exact: job.exact ?? false, signal: controller.signal, onProgress });
        runs.push({
          seconds: (performance.now() - t) / 1000,
          referenceCalls: result.stats.referenceCalls,
          framesDecoded: result.stats.framesDecoded,
          mode: result.accuracy.mode,
          note: result.accuracy.note,
          ...(result.kind === 'aggregate' ? { value: result.value!, halfWidth: result.interval ? (result.interval.high - result.interval.low) / 2 : 0 } : { frames: result.rows.map((row) => Number(row['frame'])) }),
          ...(result.stats.decoded ? { decoded: result.stats.decoded } : {}),
          ...(result.stats.reads ? { reads: result.stats.reads } : {}),
        });
      } catch (error) {
        if (!fallback) throw error;
        runs.push({
          seconds: fallback.started + fallback.frames * referenceRate,
          referenceCalls: fallback.frames,
          framesDecoded: 0,
          mode: 'exact',
          note: `${fallback.phase === 'label' ? 'fell back to labelling every frame' : 'sent the uncertain frames to the reference detector'} (${fallback.frames} to label): stopped after ${fallback.started.toFixed(1)} s, the rest extrapolated at ${referenceRate.toFixed(4)} s per frame`,
          fallbackExtrapolated: true,
        });
        break;
      }
    }
    return { runs, maxRssMiB: maxRss() };
  } finally {
    await engine.close();
  }
}

/** Insert and lookup rates of the label store with synthetic detections (15 per frame) on a registered video. */
async function storeRates(job: ChildJob): Promise<Record<string, number>> {
  const catalog = await Catalog.open(job.catalog);
  try {
    const video = (await catalog.listVideos())[0]!;
    const model = await catalog.registerModel({ name: 'synthetic-store-bench', sha256: 'f'.repeat(64), family: 'ultralytics', inputWidth: 640, inputHeight: 640, labels: ['person', 'bicycle'] });
    const perFrame = 15;
    const frames = video.frameCount;
    let t = performance.now();
    for (let f = 0; f < frames; f += 256) {
      const batch = [];
      for (let k = f; k < Math.min(frames, f + 256); k++) {
        const detections = Array.from({ length: perFrame }, (_, i) => ({ classId: i % 2, score: 0.5 + (i % 5) / 10, xmin: i, ymin: i, xmax: i + 20, ymax: i + 40 }));
        batch.push({ frame: k, timestamp: k / 10, detections });
      }
      await catalog.writeLabels(video.id, model.id, batch);
    }
    const insertSeconds = (performance.now() - t) / 1000;
    const rows = frames * perFrame;
    t = performance.now();
    let read = 0;
    const lookups = 200;
    for (let i = 0; i < lookups; i++) {
      const start = Math.floor(((i * 7919) % 997) / 997 * (frames - 256));
      read += (await catalog.readDetections(video.id, model.id, { start, end: start + 256 })).length;
    }
    const lookupSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const labelled = await catalog.labelledFrames(video.id, model.id);
    const listSeconds = (performance.now() - t) / 1000;
    return {
      detectionRows: rows,
      insertRowsPerSecond: rows / insertSeconds,
      insertFramesPerSecond: frames / insertSeconds,
      lookupRangesPerSecond: lookups / lookupSeconds,
      lookupRowsPerSecond: read / lookupSeconds,
      labelledFramesListed: labelled.length,
      listLabelledSeconds: listSeconds,
    };
  } finally {
    await catalog.close();
  }
}

function maxRss(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

function runChild(job: ChildJob): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify(job)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    p.on('error', reject);
    p.on('close', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) reject(new Error(`child ${job.kind} exited ${code}: ${out.slice(-2000)}`));
      else resolve(JSON.parse(last) as ChildResult);
    });
  });
}

interface QueryRow {
  name: string;
  sql: string;
  cold: RunFigures;
  warm?: RunFigures;
  /** Peak RSS of the child that ran cold then warm. */
  rssMiB: number;
  fnr?: number;
  fpr?: number;
  error?: number;
}

interface LengthRow {
  copies: number;
  frames: number;
  minutes: number;
  registerSeconds: number;
  decodeSeconds: number;
  naiveSeconds: number;
  naiveExtrapolated: boolean;
  naiveMaxRssMiB?: number;
  queries: QueryRow[];
  store?: Record<string, number>;
  storeRssMiB?: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { child: { type: 'string' }, copies: { type: 'string' }, 'no-write': { type: 'boolean' }, 'max-fallback-minutes': { type: 'string' }, only: { type: 'string' } } });
  if (values.child) {
    process.stdout.write(`${JSON.stringify(await child(JSON.parse(values.child) as ChildJob))}\n`);
    return;
  }
  const copies = (values.copies ?? '1,4,16').split(',').map(Number);
  // `--only count|presence`: that kind of query alone, written to its own JSON and section.
  const only = values.only;
  if (only !== undefined && only !== 'count' && only !== 'presence') throw new Error(`--only takes count or presence, not ${only}`);
  const selected = QUERIES.filter((q) => only === undefined || q.kind === only);
  const jsonFile = resolveFromRoot(`bench/results/scale${only ? `-${only}` : ''}.json`);
  const section = only ? `Scale: ${only} queries only` : 'Scale';
  const maxFallbackSeconds = Number(values['max-fallback-minutes'] ?? 10) * 60;
  const machine = describeMachine();
  const work = mkdtempSync(join(tmpdir(), 'sieve-scale-bench-'));
  const rows: LengthRow[] = [];
  const truth = new Map<string, RunFigures>();
  let naivePerFrame: number | undefined;
  try {
    for (const n of copies) {
      const path = repeatedTimeline(dataDir(), n);
      const base = join(work, `base-x${n}.duckdb`);
      const registered = await runChild({ kind: 'register', catalog: base, video: path });
      const frames = registered.frames!;
      log(`x${n}: ${frames} frames, registered in ${registered.seconds!.toFixed(1)} s`);
      const t = performance.now();
      for await (const _ of decodeFrames(path, { width: 32, height: 32, batchSize: 256 })) void _;
      const decodeSeconds = (performance.now() - t) / 1000;
      const copy = (name: string) => {
        const file = join(work, `x${n}-${name}.duckdb`);
        copyFileSync(base, file);
        return file;
      };
      let naiveSeconds: number;
      let naiveMaxRssMiB: number | undefined;
      const naiveExtrapolated = naivePerFrame !== undefined;
      if (naivePerFrame === undefined) {
        // Naive, measured: every frame through the reference detector; its labels are the truth
        // of every query (the others then read them from the store).
        const truthCatalog = copy('naive');
        for (const [i, q] of selected.entries()) {
          const run = await runChild({ kind: 'query', catalog: truthCatalog, video: path, sql: q.sql, exact: true });
          truth.set(q.sql, run.runs![0]!);
          if (i === 0) {
            naiveMaxRssMiB = run.maxRssMiB;
            naivePerFrame = run.runs![0]!.seconds / frames;
          }
        }
        naiveSeconds = naivePerFrame! * frames;
        log(`x${n}: naive ${naiveSeconds.toFixed(1)} s`);
      } else naiveSeconds = naivePerFrame * frames;
      const queries: QueryRow[] = [];
      for (const [i, q] of selected.entries()) {
        const file = copy(`q${i}`);
        let result: ChildResult;
        try {
          result = await runChild({ kind: 'query', catalog: file, video: path, sql: q.sql, runs: 2, maxFallbackSeconds, referenceRate: naivePerFrame! });
        } catch (error) {
          log(`x${n}: ${q.name} failed: ${(error as Error).message}`);
          result = { runs: [{ seconds: Number.NaN, referenceCalls: 0, framesDecoded: 0, mode: 'failed', note: `failed: ${(error as Error).message.slice(0, 300)}` }], maxRssMiB: 0 };
        } finally {
          rmSync(file, { force: true });
        }
        const [cold, warm] = result.runs!;
        const exact = truth.get(q.sql)!;
        queries.push({
          name: q.name,
          sql: q.sql,
          cold: cold!,
          ...(warm ? { warm } : {}),
          rssMiB: result.maxRssMiB,
          ...(q.kind === 'presence' ? worse(presenceAccuracy(cold!, new Set(exact.frames), frames), warm ? presenceAccuracy(warm, new Set(exact.frames), frames) : {}) : cold!.value !== undefined ? { error: Math.abs(cold!.value - exact.value!) } : {}),
        });
        log(`x${n}: ${q.name}: cold ${cold!.seconds.toFixed(1)} s (${cold!.referenceCalls} calls)${cold!.fallbackExtrapolated ? ' (fallback, extrapolated)' : ''}, warm ${warm?.seconds.toFixed(1) ?? '-'} s`);
      }
      const row: LengthRow = { copies: n, frames, minutes: frames / 10 / 60, registerSeconds: registered.seconds!, decodeSeconds, naiveSeconds, naiveExtrapolated, ...(naiveMaxRssMiB ? { naiveMaxRssMiB } : {}), queries };
      if (n === copies[copies.length - 1]) {
        const store = await runChild({ kind: 'store', catalog: copy('store'), video: path });
        row.store = store.store!;
        row.storeRssMiB = store.maxRssMiB;
      }
      rows.push(row);
      if (!values['no-write']) writeJson(jsonFile, { date: isoDate(), machine, maxFallbackSeconds, rows, partial: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const result = { date: isoDate(), machine, maxFallbackSeconds, rows };
  if (values['no-write']) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  writeJson(jsonFile, result);
  updateMarkdownSection(resolveFromRoot('BENCHMARKS.md'), section, renderScale(result, only));
  log(`wrote ${jsonFile} and the ${section} section of BENCHMARKS.md`);
}

/** FNR/FPR against the real timeline's exact answer, tiled over the copies (identical frames give identical labels). */
/** The worse FNR and FPR of two runs (either may be missing). */
function worse(a: { fnr?: number; fpr?: number }, b: { fnr?: number; fpr?: number }): { fnr?: number; fpr?: number } {
  if (a.fnr === undefined) return b;
  if (b.fnr === undefined) return a;
  return { fnr: Math.max(a.fnr, b.fnr), fpr: Math.max(a.fpr!, b.fpr!) };
}

function presenceAccuracy(run: RunFigures, truth: Set<number>, frames: number): { fnr?: number; fpr?: number } {
  if (!run.frames || run.fallbackExtrapolated) return {};
  const got = new Set(run.frames);
  let fn = 0;
  let fp = 0;
  let positives = 0;
  for (let f = 0; f < frames; f++) {
    const t = truth.has(f % BASE_FRAMES);
    if (t) positives++;
    if (t && !got.has(f)) fn++;
    if (!t && got.has(f)) fp++;
  }
  return { fnr: fn / Math.max(1, positives), fpr: fp / Math.max(1, frames - positives) };
}

function renderScale(r: { date: string; machine: ReturnType<typeof describeMachine>; maxFallbackSeconds: number; rows: LengthRow[] }, only?: string): string {
  const s = (x: number | undefined, d = 1) => (x === undefined ? '–' : x.toFixed(d));
  const table = markdownTable(
    ['length', 'frames', 'register s', 'decode s', 'naive s', 'query', 'cold s', 'warm s', 'ref calls cold / warm', 'naive/cold', 'naive/warm', 'warm/decode', 'peak RSS MiB', 'accuracy (vs exact)'],
    r.rows.flatMap((row) =>
      row.queries.map((q, i) => {
        const first = i === 0;
        const accuracy = q.fnr !== undefined ? `FNR ${q.fnr.toFixed(4)}, FPR ${q.fpr!.toFixed(4)} (worse of cold and warm; ${q.cold.mode})` : q.error !== undefined ? `abs error ${q.error.toFixed(3)} (± ${s(q.cold.halfWidth, 3)})` : 'not run to the end';
        return [
          first ? `${s(row.minutes)} min` : '',
          first ? String(row.frames) : '',
          first ? s(row.registerSeconds) : '',
          first ? s(row.decodeSeconds) : '',
          first ? `${s(row.naiveSeconds)}${row.naiveExtrapolated ? ' (extrapolated)' : ''}` : '',
          q.name,
          `${s(q.cold.seconds)}${q.cold.fallbackExtrapolated ? '*' : ''}`,
          s(q.warm?.seconds),
          `${q.cold.fallbackExtrapolated ? '≥ ' : ''}${q.cold.referenceCalls} / ${q.warm?.referenceCalls ?? '–'}`,
          `${(row.naiveSeconds / q.cold.seconds).toFixed(1)}x`,
          q.warm ? `${(row.naiveSeconds / q.warm.seconds).toFixed(1)}x` : '–',
          q.warm ? `${(q.warm.seconds / row.decodeSeconds).toFixed(2)}x` : '–',
          String(q.rssMiB),
          accuracy,
        ];
      }),
    ),
    ['l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const rep = (run: RunFigures) => (run.decoded ?? []).map((d) => `${d.size} ${d.frames} (${d.repeated} twice, ${d.dropped} dropped)`).join(', ');
  const reads = r.rows
    .flatMap((row) => row.queries.map((q) => `- ${s(row.minutes)} min, ${q.name}: ${q.cold.reads ? `${q.cold.reads.processes} ffmpeg processes, ${q.cold.reads.seeks} seeks, ${q.cold.reads.framesRead} frames decoded through, longest command ${q.cold.reads.longestCommand} characters; frames per output size: ${rep(q.cold)}` : q.cold.note}`))
    .join('\n');
  const store = r.rows
    .filter((row) => row.store)
    .map((row) => `- ${s(row.minutes)} min, ${row.store!.detectionRows!.toLocaleString('en-US')} synthetic detection rows (15 a frame): insert ${Math.round(row.store!.insertRowsPerSecond!).toLocaleString('en-US')} rows/s (${Math.round(row.store!.insertFramesPerSecond!)} frames/s, in the engine's 256-frame transactions); lookup of a 256-frame range ${s(row.store!.lookupRangesPerSecond)} per second (${Math.round(row.store!.lookupRowsPerSecond!).toLocaleString('en-US')} rows/s); listing all ${row.store!.labelledFramesListed} labelled frames ${s(row.store!.listLabelledSeconds, 3)} s; peak RSS ${row.storeRssMiB} MiB`)
    .join('\n');
  return `\`npm run bench:scale${only ? ` -- --only ${only} --copies ${r.rows.map((row) => row.copies).join(',')}` : ''}\`, ${r.date}. ${machineLine(r.machine)}

Real frames from one fixed camera: the 7.6-minute UCSD Ped2 timeline (\`../shared/data/long/\`, 4,560 frames, 360x240, 10 fps) and copies of it concatenated (stream copy) up to 2 hours. **Repeated content measures cost, never accuracy**: the accuracy column compares each answer with the real timeline's exact answer tiled over the copies (the same frames give the same labels), only to show that the answers stayed right. One run of each; every query runs cold then warm in a child process of its own, on a copy of a catalog where the video is already registered (registering, i.e. hashing the file and probing every frame's timestamp, is once per video and has its own column). Naive is measured on the 7.6-minute timeline and extrapolated from its per-frame rate on the longer ones. Peak RSS is the Node process's (DuckDB and ONNX Runtime included; the ffmpeg children stream frames and are not counted). A cold time marked * was stopped when the plan reached a reference pass that would have taken over ${Math.round(r.maxFallbackSeconds / 60)} minutes (the fallback to labelling every frame, or the uncertain frames of a cascade): its time is what it had spent plus that pass's frames at the measured per-frame reference rate, its reference calls are those of that pass alone (≥), and its peak RSS is that of the part that ran.

${table}

How the cold runs read the video:
${reads}

Label store (DuckDB file):
${store}`;
}

function log(message: string): void {
  process.stderr.write(`[scale] ${message}\n`);
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
