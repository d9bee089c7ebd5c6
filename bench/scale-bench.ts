/**
 * `npm run bench:scale`: how Sieve's cost grows with the video's length, on the real 7.6-minute
 * UCSD Ped2 timeline and copies of it concatenated up to 2 hours (repeated content measures
 * cost, never accuracy: the accuracy columns only check that the answers stay right).
 *
 * Per length: the decode floor (every frame at 32x32), naive (the reference detector on every
 * frame: measured on the real timeline, extrapolated from its per-frame rate on the longer ones),
 * cold and warm runs of a presence and an FCOUNT query, their reference calls and each run's peak
 * RSS (every run in a child process of its own, so peaks do not carry over; ffmpeg's own
 * processes are not included), and the label store's insert and lookup rates with 1 million+
 * detection rows. Registration (hashing and probing the file) is done once per length, before the
 * runs, and reported on its own.
 *
 * When the optimizer falls back to labelling every frame and that would take more than
 * `--max-fallback-minutes` (default 10), the run is stopped when the fallback starts and its time
 * is extrapolated from the measured per-frame reference rate; such cells are marked.
 *
 * Flags: `--copies 1,4,16`, `--no-write`, `--max-fallback-minutes n`.
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

const PRESENCE = "SELECT frame FROM v WHERE class = 'bicycle'";
const FCOUNT = "SELECT FCOUNT(*) FROM v WHERE class = 'person' ERROR WITHIN 0.1 AT CONFIDENCE 95%";
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
      let fallback: { started: number; frames: number } | undefined;
      const t = performance.now();
      const onProgress = (e: { phase: string; total: number }) => {
        if (job.exact || fallback || e.phase !== 'label' || !job.maxFallbackSeconds) return;
        if (e.total * referenceRate > job.maxFallbackSeconds) {
          fallback = { started: (performance.now() - t) / 1000, frames: e.total };
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
          note: `fell back to labelling every frame (${fallback.frames} to label): stopped after ${fallback.started.toFixed(1)} s, the rest extrapolated at ${referenceRate.toFixed(4)} s per frame`,
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

interface LengthRow {
  copies: number;
  frames: number;
  minutes: number;
  registerSeconds: number;
  decodeSeconds: number;
  naiveSeconds: number;
  naiveExtrapolated: boolean;
  naiveMaxRssMiB?: number;
  presence: { cold: RunFigures; warm?: RunFigures; coldRssMiB: number; fnr?: number; fpr?: number };
  fcount: { cold: RunFigures; warm?: RunFigures; coldRssMiB: number; error?: number };
  store?: Record<string, number>;
  storeRssMiB?: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { child: { type: 'string' }, copies: { type: 'string' }, 'no-write': { type: 'boolean' }, 'max-fallback-minutes': { type: 'string' } } });
  if (values.child) {
    process.stdout.write(`${JSON.stringify(await child(JSON.parse(values.child) as ChildJob))}\n`);
    return;
  }
  const copies = (values.copies ?? '1,4,16').split(',').map(Number);
  const maxFallbackSeconds = Number(values['max-fallback-minutes'] ?? 10) * 60;
  const machine = describeMachine();
  const work = mkdtempSync(join(tmpdir(), 'sieve-scale-bench-'));
  const rows: LengthRow[] = [];
  let truthPresence: Set<number> | undefined;
  let truthFcount: number | undefined;
  let naivePerFrame: number | undefined;
  try {
    for (const n of copies) {
      const path = repeatedTimeline(dataDir(), n);
      const base = join(work, `base-x${n}.duckdb`);
      const registered = await runChild({ kind: 'register', catalog: base, video: path });
      const frames = registered.frames!;
      log(`x${n}: ${frames} frames, registered in ${registered.seconds!.toFixed(1)} s`);
      let t = performance.now();
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
        // Naive, measured: every frame through the reference detector; its labels are the truth.
        const truthCatalog = copy('naive');
        const naive = await runChild({ kind: 'query', catalog: truthCatalog, video: path, sql: PRESENCE, exact: true });
        naiveSeconds = naive.runs![0]!.seconds;
        naiveMaxRssMiB = naive.maxRssMiB;
        naivePerFrame = naiveSeconds / frames;
        truthPresence = new Set(naive.runs![0]!.frames);
        const count = await runChild({ kind: 'query', catalog: truthCatalog, video: path, sql: FCOUNT, exact: true });
        truthFcount = count.runs![0]!.value;
        log(`x${n}: naive ${naiveSeconds.toFixed(1)} s`);
      } else naiveSeconds = naivePerFrame * frames;
      const presence = await runChild({ kind: 'query', catalog: copy('presence'), video: path, sql: PRESENCE, runs: 2, maxFallbackSeconds, referenceRate: naivePerFrame });
      const fcount = await runChild({ kind: 'query', catalog: copy('fcount'), video: path, sql: FCOUNT, runs: 2, maxFallbackSeconds, referenceRate: naivePerFrame });
      const [pCold, pWarm] = presence.runs!;
      const [cCold, cWarm] = fcount.runs!;
      const row: LengthRow = {
        copies: n,
        frames,
        minutes: frames / 10 / 60,
        registerSeconds: registered.seconds!,
        decodeSeconds,
        naiveSeconds,
        naiveExtrapolated,
        ...(naiveMaxRssMiB ? { naiveMaxRssMiB } : {}),
        presence: { cold: pCold!, ...(pWarm ? { warm: pWarm } : {}), coldRssMiB: presence.maxRssMiB, ...presenceAccuracy(pWarm ?? pCold!, truthPresence!, frames) },
        fcount: { cold: cCold!, ...(cWarm ? { warm: cWarm } : {}), coldRssMiB: fcount.maxRssMiB, ...(cCold?.value !== undefined ? { error: Math.abs(cCold.value - truthFcount!) } : {}) },
      };
      if (n === copies[copies.length - 1] || frames * 15 >= 1_000_000) {
        const store = await runChild({ kind: 'store', catalog: copy('store'), video: path });
        row.store = store.store!;
        row.storeRssMiB = store.maxRssMiB;
      }
      rows.push(row);
      log(`x${n}: presence cold ${pCold!.seconds.toFixed(1)} s (${pCold!.referenceCalls} calls), fcount cold ${cCold!.seconds.toFixed(1)} s (${cCold!.referenceCalls} calls)`);
      for (const f of ['presence', 'fcount'] as const) rmSync(join(work, `x${n}-${f}.duckdb`), { force: true });
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const result = { date: isoDate(), machine, presence: PRESENCE, fcount: FCOUNT, maxFallbackSeconds, rows };
  if (values['no-write']) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  writeJson(resolveFromRoot('bench/results/scale.json'), result);
  updateMarkdownSection(resolveFromRoot('BENCHMARKS.md'), 'Scale', renderScale(result));
  log('wrote bench/results/scale.json and the Scale section of BENCHMARKS.md');
}

/** FNR/FPR against the real timeline's exact answer, tiled over the copies (identical frames give identical labels). */
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

function renderScale(r: { date: string; machine: ReturnType<typeof describeMachine>; presence: string; fcount: string; rows: LengthRow[] }): string {
  const s = (x: number | undefined, d = 1) => (x === undefined ? '–' : x.toFixed(d));
  const mark = (run: RunFigures | undefined) => (run?.fallbackExtrapolated ? '*' : '');
  const table = markdownTable(
    ['length', 'frames', 'register s', 'decode s', 'naive s', 'query', 'cold s', 'warm s', 'ref calls cold / warm', 'naive/cold', 'warm/decode', 'peak RSS MiB', 'accuracy'],
    r.rows.flatMap((row) => {
      const naive = `${s(row.naiveSeconds)}${row.naiveExtrapolated ? ' (extrapolated)' : ''}`;
      const len = `${s(row.minutes)} min`;
      return [
        [len, String(row.frames), s(row.registerSeconds), s(row.decodeSeconds), naive, 'presence (bicycle)', `${s(row.presence.cold.seconds)}${mark(row.presence.cold)}`, s(row.presence.warm?.seconds), `${row.presence.cold.referenceCalls} / ${row.presence.warm?.referenceCalls ?? '–'}`, `${(row.naiveSeconds / row.presence.cold.seconds).toFixed(1)}x`, row.presence.warm ? `${(row.presence.warm.seconds / row.decodeSeconds).toFixed(2)}x` : '–', String(row.presence.coldRssMiB), row.presence.fnr !== undefined ? `FNR ${row.presence.fnr.toFixed(4)}, FPR ${row.presence.fpr!.toFixed(4)} (${row.presence.warm?.mode ?? row.presence.cold.mode})` : 'not run to the end'],
        [len, String(row.frames), '', '', '', 'FCOUNT (person)', `${s(row.fcount.cold.seconds)}${mark(row.fcount.cold)}`, s(row.fcount.warm?.seconds), `${row.fcount.cold.referenceCalls} / ${row.fcount.warm?.referenceCalls ?? '–'}`, `${(row.naiveSeconds / row.fcount.cold.seconds).toFixed(1)}x`, row.fcount.warm ? `${(row.fcount.warm.seconds / row.decodeSeconds).toFixed(2)}x` : '–', String(row.fcount.coldRssMiB), row.fcount.error !== undefined ? `abs error ${row.fcount.error.toFixed(3)} (± ${s(row.fcount.cold.halfWidth, 3)})` : 'not run to the end'],
      ];
    }),
    ['l', 'r', 'r', 'r', 'r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const store = r.rows.filter((row) => row.store).map((row) => `- ${s(row.minutes)} min, ${row.store!.detectionRows!.toLocaleString('en-US')} synthetic detection rows (15 per frame): insert ${Math.round(row.store!.insertRowsPerSecond!).toLocaleString('en-US')} rows/s (${Math.round(row.store!.insertFramesPerSecond!)} frames/s, in the engine's 256-frame transactions); lookup of a 256-frame range ${s(row.store!.lookupRangesPerSecond)} /s (${Math.round(row.store!.lookupRowsPerSecond!).toLocaleString('en-US')} rows/s); listing all ${row.store!.labelledFramesListed} labelled frames ${s(row.store!.listLabelledSeconds, 3)} s; peak RSS ${row.storeRssMiB} MiB`).join('\n');
  const reads = r.rows.map((row) => {
    const c = row.presence.cold;
    const rep = (run: RunFigures) => (run.decoded ?? []).map((d) => `${d.size}: ${d.frames} (${d.repeated} twice, ${d.dropped} dropped)`).join(', ');
    return `- ${s(row.minutes)} min: presence cold ${c.reads ? `${c.reads.processes} ffmpeg processes, ${c.reads.seeks} seeks, ${c.reads.framesRead} frames decoded through, longest command ${c.reads.longestCommand} chars; frames per size ${rep(c)}` : c.note}; FCOUNT cold ${row.fcount.cold.reads ? `${row.fcount.cold.reads.processes} processes, ${row.fcount.cold.reads.seeks} seeks, longest command ${row.fcount.cold.reads.longestCommand} chars; ${rep(row.fcount.cold)}` : row.fcount.cold.note}`;
  }).join('\n');
  return `\`npm run bench:scale\`, ${r.date}. ${machineLine(r.machine)}

Real frames from one fixed camera: the 7.6-minute UCSD Ped2 timeline (\`../shared/data/long/\`, 4,560 frames, 360x240, 10 fps) and copies of it concatenated (stream copy) to 30 minutes and 2 hours. **Repeated content measures cost, never accuracy**: the accuracy column compares each answer with the real timeline's exact answer tiled over the copies (the same frames give the same labels), only to show the answers stayed right. Queries: \`${r.presence}\` (default targets 0.01 / 0.01) and \`${r.fcount}\`. One run each; every run is a child process of its own on a copy of a catalog where the video is already registered (registration: hashing and probing every frame's timestamp, once per video, in its own column). Naive is measured on the 7.6-minute timeline and extrapolated from its per-frame rate on the longer ones. Peak RSS is the Node process's (DuckDB and ONNX Runtime included; the ffmpeg children stream and are not counted). A cold time marked * stopped when the optimizer fell back to labelling every frame and that would have taken over ${Math.round((r as { maxFallbackSeconds?: number }).maxFallbackSeconds ?? 600) / 60} minutes: its time is what it had spent plus the remaining frames at the measured per-frame reference rate.

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
