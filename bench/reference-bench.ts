/**
 * `npm run bench:reference`: how fast the reference detectors and the decoder run on this
 * machine, per video and model, with detections per frame beside every speed.
 *
 * - decode: every frame of the video, at the model's decode size (bilinear) and at 64x64 (area,
 *   the cascade's low-res floor), `--decode-repeats` times.
 * - inference: the detector over `--frames` frames spread evenly through the video, already
 *   decoded in memory, `--repeats` times; inference alone is the detector's `timings.inferenceMs`.
 * - full: decode + pre + inference + post, wall clock, over the first `--frames` frames (a
 *   contiguous run, so ffmpeg decodes exactly the frames detected, as a naive scan would).
 *
 * Flags: `--videos a,b` `--models x,y` `--frames N` `--repeats R` `--decode-repeats R` `--no-write`;
 * on a shared machine, `--max-others 0.1` `--quiet-timeout 30` `--max-wait 240` (seconds) bound
 * how long repeats wait for other processes to go quiet; `--render` rewrites BENCHMARKS.md from
 * the stored JSON without measuring.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { basename, extname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { builtinModelManifests } from '../src/inference/model-manifest.js';
import { ReferenceDetector } from '../src/inference/reference-detector.js';
import type { Detection } from '../src/inference/detection.js';
import { decodeFrames, probeVideo, type FrameBatch, type VideoInfo } from '../src/video/index.js';
import {
  dataDir,
  describeMachine,
  formatNumber,
  formatStat,
  isoDate,
  machineLine,
  markdownTable,
  rate,
  repeatQuiet,
  resolveFromRoot,
  roundStat,
  stat,
  updateMarkdownSection,
  writeJson,
  type MachineInfo,
  type QuietOptions,
  type QuietRepeated,
  type Stat,
} from './bench-util.js';

const VIDEO_EXTENSIONS = new Set(['.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v']);
const CLASSES = ['person', 'car'] as const;
const LOW_RES = { width: 64, height: 64, scaler: 'area' } as const;
const WARMUP_FRAMES = 3;

interface Size {
  readonly width: number;
  readonly height: number;
}

interface DecodeFigure {
  readonly size: string;
  readonly scaler: string;
  readonly frames: number;
  readonly fps: Stat;
  readonly othersCpu: Contention;
}

/** How much of the machine other processes used during the kept repeats, and how many were re-run. */
interface Contention {
  readonly maxShare: number;
  readonly rerun: number;
}

interface Row {
  readonly video: string;
  readonly model: string;
  readonly modelInput: string;
  readonly decodeSize: string;
  readonly decode: DecodeFigure;
  readonly decodeLowRes: DecodeFigure;
  readonly sample: { readonly frames: number; readonly first: number; readonly last: number; readonly repeats: number; readonly warmupFrames: number };
  /** Frames/s from the detector's own inference time alone. */
  readonly inferenceFps: Stat;
  readonly msPerFrame: { readonly preprocess: Stat; readonly inference: Stat; readonly postprocess: Stat; readonly detectWall: Stat };
  /** Decode + pre + inference + post, wall clock, over frames [0, fullFrames). */
  readonly full: { readonly frames: number; readonly fps: Stat };
  /** Other processes' use of the machine during this row's inference and full-pipeline repeats. */
  readonly othersCpu: Contention;
  readonly detections: {
    readonly scoreThreshold: number;
    /** Mean detections per frame over the sample, all classes. */
    readonly perFrame: number;
    readonly perFrameByClass: Readonly<Record<string, number>>;
    /** Share of sampled frames with at least one object of the class. */
    readonly framesWithClass: Readonly<Record<string, number>>;
    /** True when every repeat found exactly the same boxes. */
    readonly deterministic: boolean;
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      videos: { type: 'string' },
      models: { type: 'string' },
      frames: { type: 'string', default: '60' },
      repeats: { type: 'string', default: '3' },
      'decode-repeats': { type: 'string', default: '3' },
      'max-others': { type: 'string', default: '0.1' },
      'quiet-timeout': { type: 'string', default: '30' },
      'max-wait': { type: 'string', default: '240' },
      'no-write': { type: 'boolean', default: false },
      render: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log('usage: node dist/bench/reference-bench.js [--videos a,b] [--models x,y] [--frames 60] [--repeats 3] [--decode-repeats 3] [--max-others 0.1] [--quiet-timeout 30] [--max-wait 240] [--no-write] | --render');
    console.log('--render rewrites the BENCHMARKS.md section (and the summary) from bench/results/reference.json without measuring.');
    return;
  }
  const resultPath = resolveFromRoot('bench', 'results', 'reference.json');
  if (values.render) {
    const stored = JSON.parse(readFileSync(resultPath, 'utf8')) as ReferenceResult;
    publish({ ...stored, summary: summarize(stored.rows) }, resultPath, false);
    return;
  }
  const sampleSize = positiveInt(values.frames, '--frames');
  const repeats = positiveInt(values.repeats, '--repeats');
  const decodeRepeats = positiveInt(values['decode-repeats'], '--decode-repeats');
  const waitBudget = { remainingMs: Number(values['max-wait']) * 1000 };
  if (!(waitBudget.remainingMs >= 0)) throw new Error(`--max-wait must be seconds >= 0, got '${values['max-wait']}'`);
  const quiet: QuietOptions = { maxShare: Number(values['max-others']), timeoutMs: positiveInt(values['quiet-timeout'], '--quiet-timeout') * 1000, budget: waitBudget };
  if (!(quiet.maxShare! >= 0 && quiet.maxShare! <= 1)) throw new Error(`--max-others must be a share of the machine in 0..1, got '${values['max-others']}'`);
  const data = dataDir();
  const videoDir = join(data, 'videos');
  const videoFiles = pick(
    readdirSync(videoDir).filter((f) => VIDEO_EXTENSIONS.has(extname(f).toLowerCase())).sort(),
    values.videos,
    (f) => [f, basename(f, extname(f))],
    'video',
  );
  const manifests = pick([...builtinModelManifests()], values.models, (m) => [m.name, m.file], 'model');

  const machine = describeMachine();
  const started = performance.now();
  const log = (text: string) => console.error(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${text}`);
  log(`reference bench: ${videoFiles.length} videos x ${manifests.length} models, ${sampleSize} sampled frames x ${repeats} repeats; data ${data}`);
  log(machineLine(machine));

  const videos: VideoInfo[] = [];
  for (const file of videoFiles) videos.push(await probeVideo(join(videoDir, file)));
  const detectors: ReferenceDetector[] = [];
  for (const manifest of manifests) detectors.push(await ReferenceDetector.load(manifest.name, { dataDir: data, download: false }));

  // Decode-only, once per distinct (video, size, scaler): models sharing a decode size share it.
  const decodeCache = new Map<string, DecodeFigure>();
  const decodeFigure = async (video: VideoInfo, size: Size, scaler: 'bilinear' | 'area'): Promise<DecodeFigure> => {
    const key = `${video.path}|${size.width}x${size.height}|${scaler}`;
    const hit = decodeCache.get(key);
    if (hit) return hit;
    const run = await repeatQuiet(decodeRepeats, async () => {
      let frames = 0;
      for await (const batch of decodeFrames(video.path, { ...size, scaler, batchSize: 32 })) frames += batch.count;
      return frames;
    }, quiet);
    const frames = run.results[0]!;
    if (run.results.some((n) => n !== video.frameCount)) {
      throw new Error(`${basename(video.path)}: decoded ${run.results.join('/')} frames at ${size.width}x${size.height}, probe counted ${video.frameCount}`);
    }
    const figure = { size: `${size.width}x${size.height}`, scaler, frames, fps: roundStat(rate(frames, run.ms), 1), othersCpu: contention([run]) };
    decodeCache.set(key, figure);
    log(`decode ${basename(video.path)} @ ${figure.size} ${scaler}: ${formatStat(figure.fps)} frames/s${busyNote(figure.othersCpu)}`);
    return figure;
  };
  for (const video of videos) {
    await decodeFigure(video, LOW_RES, LOW_RES.scaler);
    for (const detector of detectors) await decodeFigure(video, detector.decodeSize(video.width, video.height), 'bilinear');
  }

  const rows: Row[] = [];
  for (const detector of detectors) {
    for (const video of videos) {
      rows.push(await measure(detector, video, { sampleSize, repeats, quiet }, decodeFigure));
      const r = rows[rows.length - 1]!;
      log(
        `${detector.name} on ${r.video}: inference ${formatStat(r.inferenceFps, 1)} fr/s, full ${formatStat(r.full.fps, 1)} fr/s, ` +
          CLASSES.map((c) => `${c} ${r.detections.perFrameByClass[c]}/frame`).join(', ') +
          busyNote(r.othersCpu),
      );
    }
    await detector.dispose();
  }

  const seconds = Math.round((performance.now() - started) / 1000);
  log(`done in ${seconds} s`);
  const result: ReferenceResult = {
    benchmark: 'reference',
    date: new Date().toISOString(),
    machine,
    loadavgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100),
    durationSeconds: seconds,
    settings: {
      dataDir: data,
      sampleFrames: sampleSize,
      repeats,
      decodeRepeats,
      warmupFrames: WARMUP_FRAMES,
      quiet: { maxShare: quiet.maxShare, timeoutMs: quiet.timeoutMs, maxWaitMs: Number(values['max-wait']) * 1000, waitBudgetLeftMs: Math.round(waitBudget.remainingMs) },
      executionProvider: 'cpu',
      lowRes: LOW_RES,
      filters: { videos: values.videos ?? null, models: values.models ?? null },
    },
    videos: videos.map((v) => ({ name: basename(v.path), width: v.width, height: v.height, frames: v.frameCount, fps: Math.round(v.fps * 100) / 100, codec: v.codec })),
    summary: summarize(rows),
    rows,
  };
  publish(result, resultPath, values['no-write']);
}

interface ReferenceResult {
  readonly benchmark: 'reference';
  readonly date: string;
  readonly machine: MachineInfo;
  readonly loadavgAtEnd: readonly number[];
  readonly durationSeconds: number;
  readonly settings: {
    readonly sampleFrames: number;
    readonly repeats: number;
    readonly decodeRepeats: number;
    readonly warmupFrames: number;
    readonly quiet: { readonly maxShare?: number | undefined; readonly timeoutMs?: number | undefined; readonly maxWaitMs: number; readonly waitBudgetLeftMs?: number };
    readonly filters: { readonly videos: string | null; readonly models: string | null };
    readonly [more: string]: unknown;
  };
  readonly videos: readonly unknown[];
  readonly summary: readonly ModelSummary[];
  readonly rows: readonly Row[];
}

function publish(result: ReferenceResult, path: string, dryRun: boolean): void {
  const table = `${renderSummary(result.summary)}\n\nPer video:\n\n${renderTable(result.rows)}`;
  console.log(table);
  if (dryRun) return;
  writeJson(path, result);
  updateMarkdownSection(resolveFromRoot('BENCHMARKS.md'), 'Reference detectors', renderSection(result.date, machineLine(result.machine), result.settings, result.durationSeconds, table), INTRO);
  console.error('wrote bench/results/reference.json and the "Reference detectors" section of BENCHMARKS.md');
}

const INTRO = '# Benchmarks\n\nMeasured figures for Sieve, one section per benchmark (`npm run bench:*`); the raw results are in `bench/results/`.\n';

async function measure(
  detector: ReferenceDetector,
  video: VideoInfo,
  { sampleSize, repeats, quiet }: { sampleSize: number; repeats: number; quiet: QuietOptions },
  decodeFigure: (video: VideoInfo, size: Size, scaler: 'bilinear' | 'area') => Promise<DecodeFigure>,
): Promise<Row> {
  const source = { width: video.width, height: video.height };
  const size = detector.decodeSize(video.width, video.height);
  const decodeOptions = { ...size, scaler: 'bilinear' as const };

  // Warm-up: the first runs of a session allocate and pick kernels.
  for await (const batch of decodeFrames(video.path, { ...decodeOptions, range: { start: 0, end: WARMUP_FRAMES } })) await detector.detect(batch, source);

  // Inference on frames spread evenly through the video, decoded beforehand.
  const n = Math.min(sampleSize, video.frameCount);
  const indices = Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) * video.frameCount) / n));
  const sample: FrameBatch[] = [];
  for await (const batch of decodeFrames(video.path, { ...decodeOptions, frames: indices, batchSize: 16 })) sample.push(batch);
  const decoded = sample.reduce((k, b) => k + b.count, 0);
  if (decoded !== n) throw new Error(`${basename(video.path)}: decoded ${decoded} of ${n} sampled frames`);
  const timings = detector.timings;
  const run = await repeatQuiet(repeats, async () => {
    const before = { ...timings };
    const detections: Detection[][] = [];
    for (const batch of sample) detections.push(...(await detector.detect(batch, source)));
    return {
      detections,
      preprocessMs: timings.preprocessMs - before.preprocessMs,
      inferenceMs: timings.inferenceMs - before.inferenceMs,
      postprocessMs: timings.postprocessMs - before.postprocessMs,
    };
  }, quiet);
  const perFrame = (values: number[]) => roundStat(stat(values.map((ms) => ms / n)), 2);

  // Full pipeline: decode + detect, wall clock, over a contiguous run of frames.
  const fullFrames = n;
  const full = await repeatQuiet(repeats, async () => {
    let frames = 0;
    for await (const batch of decodeFrames(video.path, { ...decodeOptions, range: { start: 0, end: fullFrames }, batchSize: 16 })) {
      await detector.detect(batch, source);
      frames += batch.count;
    }
    return frames;
  }, quiet);
  if (full.results.some((k) => k !== fullFrames)) throw new Error(`${basename(video.path)}: full pipeline saw ${full.results.join('/')} of ${fullFrames} frames`);

  const first = run.results[0]!.detections;
  const classIds = Object.fromEntries(CLASSES.map((c) => [c, detector.labels.indexOf(c)]));
  const share = (count: (dets: Detection[]) => number) => Math.round((first.reduce((s, d) => s + count(d), 0) / n) * 1000) / 1000;
  const { manifest } = detector;
  return {
    video: basename(video.path),
    model: detector.name,
    modelInput: `${manifest.input.width}x${manifest.input.height}`,
    decodeSize: `${size.width}x${size.height}`,
    decode: await decodeFigure(video, size, 'bilinear'),
    decodeLowRes: await decodeFigure(video, LOW_RES, LOW_RES.scaler),
    sample: { frames: n, first: indices[0]!, last: indices[n - 1]!, repeats, warmupFrames: WARMUP_FRAMES },
    inferenceFps: roundStat(rate(n, run.results.map((r) => r.inferenceMs)), 1),
    msPerFrame: {
      preprocess: perFrame(run.results.map((r) => r.preprocessMs)),
      inference: perFrame(run.results.map((r) => r.inferenceMs)),
      postprocess: perFrame(run.results.map((r) => r.postprocessMs)),
      detectWall: perFrame([...run.ms]),
    },
    full: { frames: fullFrames, fps: roundStat(rate(fullFrames, full.ms), 1) },
    othersCpu: contention([run, full]),
    detections: {
      scoreThreshold: detector.scoreThreshold,
      perFrame: share((d) => d.length),
      perFrameByClass: Object.fromEntries(CLASSES.map((c) => [c, share((d) => d.filter((x) => x.classId === classIds[c]).length)])),
      framesWithClass: Object.fromEntries(CLASSES.map((c) => [c, share((d) => (d.some((x) => x.classId === classIds[c]) ? 1 : 0))])),
      deterministic: run.results.every((r) => sameDetections(r.detections, first)),
    },
  };
}

/** Per model, over every video: a detector's cost does not depend on what the frames show. */
interface ModelSummary {
  readonly model: string;
  readonly modelInput: string;
  readonly videos: number;
  /** Every repeat of every video pooled. */
  readonly inferenceFps: Stat;
  readonly fullFps: Stat;
  readonly inferenceMsPerFrame: number;
  /** Mean over videos of each video's mean detections per frame. */
  readonly perFrameByClass: Readonly<Record<string, number>>;
}

function summarize(rows: readonly Row[]): ModelSummary[] {
  const models = [...new Set(rows.map((r) => r.model))];
  return models.map((model) => {
    const mine = rows.filter((r) => r.model === model);
    const inference = stat(mine.flatMap((r) => r.inferenceFps.samples));
    return {
      model,
      modelInput: mine[0]!.modelInput,
      videos: mine.length,
      inferenceFps: roundStat(inference, 1),
      fullFps: roundStat(stat(mine.flatMap((r) => r.full.fps.samples)), 1),
      inferenceMsPerFrame: Math.round((1000 / inference.median) * 100) / 100,
      perFrameByClass: Object.fromEntries(
        CLASSES.map((c) => [c, Math.round((mine.reduce((s, r) => s + (r.detections.perFrameByClass[c] ?? 0), 0) / mine.length) * 1000) / 1000]),
      ),
    };
  });
}

function renderSummary(summary: readonly ModelSummary[]): string {
  return markdownTable(
    ['model', 'input', 'videos', 'inference fr/s', 'infer ms/frame', 'full fr/s (decode + detect)', ...CLASSES.map((c) => `${c}/frame (mean over videos)`)],
    summary.map((m) => [
      m.model,
      m.modelInput,
      String(m.videos),
      formatStat(m.inferenceFps, 1),
      formatNumber(m.inferenceMsPerFrame, 1),
      formatStat(m.fullFps, 1),
      ...CLASSES.map((c) => formatNumber(m.perFrameByClass[c] ?? Number.NaN, 2)),
    ]),
    ['l', 'l', 'r', 'r', 'r', 'r', ...CLASSES.map(() => 'r' as const)],
  );
}

function renderTable(rows: readonly Row[]): string {
  return markdownTable(
    ['video', 'model', 'decode size', 'decode fr/s @ size', 'decode fr/s @ 64x64', 'inference fr/s', 'full fr/s', 'ms/frame pre / infer / post', ...CLASSES.map((c) => `${c}/frame`), 'dets/frame', "others' CPU"],
    rows.map((r) => [
      r.video,
      r.model,
      r.decodeSize,
      formatStat(r.decode.fps),
      formatStat(r.decodeLowRes.fps),
      formatStat(r.inferenceFps, 1),
      formatStat(r.full.fps, 1),
      [r.msPerFrame.preprocess, r.msPerFrame.inference, r.msPerFrame.postprocess].map((s) => formatNumber(s.median, 1)).join(' / '),
      ...CLASSES.map((c) => formatNumber(r.detections.perFrameByClass[c] ?? Number.NaN, 2)),
      formatNumber(r.detections.perFrame, 2) + (r.detections.deterministic ? '' : ' (varies!)'),
      `${Math.round(Math.max(r.othersCpu.maxShare, r.decode.othersCpu.maxShare, r.decodeLowRes.othersCpu.maxShare) * 100)}%`,
    ]),
    ['l', 'l', 'l', 'r', 'r', 'r', 'r', 'r', ...CLASSES.map(() => 'r' as const), 'r', 'r'],
  );
}

function renderSection(
  date: string,
  machine: string,
  settings: ReferenceResult['settings'],
  seconds: number,
  table: string,
): string {
  const narrowed = [settings.filters.videos && `videos ${settings.filters.videos}`, settings.filters.models && `models ${settings.filters.models}`].filter(Boolean);
  return [
    `\`npm run bench:reference\` — ${date.slice(0, 16).replace('T', ' ')} UTC, ${seconds} s${narrowed.length ? `, narrowed to ${narrowed.join('; ')}` : ''}.`,
    '',
    `Machine: ${machine}. CPU execution provider, ONNX Runtime's default threads.`,
    '',
    'How each figure is taken (every figure is the median over repeats, with (min–max) where they differ):',
    '',
    `- **decode fr/s**: ffmpeg decoding every frame of the video into RGB, ${settings.decodeRepeats} repeats; at the model's decode size (source scaled to fit the model input, bilinear) and at 64x64 (area), the cascade's low-res floor. Models with the same decode size share one measurement.`,
    `- **inference fr/s**: the detector's own inference time alone (\`timings.inferenceMs\`), over ${settings.sampleFrames} frames spread evenly through the video, decoded beforehand, after ${settings.warmupFrames} warm-up frames; ${settings.repeats} repeats. **ms/frame** splits the detector's time into pre-processing (letterbox), inference and post-processing (decode + NMS) — medians.`,
    `- **full fr/s**: decode + pre + inference + post, wall clock, over the first ${settings.sampleFrames} frames (contiguous, so ffmpeg decodes only frames that are detected, as a naive scan of every frame would), ${settings.repeats} repeats. This is the \`naive\` rate of DESIGN.md's "Performance, defined", on a sample.`,
    `- **person/frame, car/frame, dets/frame**: mean detections per sampled frame at the model's default score threshold after class-wise NMS — the accuracy-side figure beside the speed (the strongest model, yolo11n_int8dyn_640, is the reference; a lower count from another model mostly means missed objects). Full data: \`bench/results/reference.json\`.`,
    `- **others' CPU**: this machine is shared; every repeat waits until other processes go quiet, and a repeat during which they used more than ${Math.round((settings.quiet.maxShare ?? 0.1) * 100)}% of the CPU is run again (up to 4 tries, keeping the least disturbed; waiting and re-runs together get at most ${Math.round(settings.quiet.maxWaitMs / 1000)} s per run, then repeats are kept as measured). The column is the most other processes used during any kept repeat of the row (its decodes included); above ${Math.round((settings.quiet.maxShare ?? 0.1) * 100)}% the row's speeds are pessimistic.`,
    `- **Per model** pools every repeat on every video: a detector's input size is fixed, so its cost does not depend on the video (full fr/s does a little, through the decode size). Differences between videos of more than the (min–max) of one row come from the machine (a shared VM whose speed drifts over minutes), not from the video.`,
    '',
    table,
  ].join('\n');
}

function contention(runs: readonly QuietRepeated<unknown>[]): Contention {
  return {
    maxShare: Math.round(Math.max(0, ...runs.flatMap((r) => r.othersShare)) * 100) / 100,
    rerun: runs.reduce((n, r) => n + r.discarded, 0),
  };
}

function busyNote(c: Contention): string {
  return c.maxShare > 0.1 || c.rerun > 0 ? ` [others used up to ${Math.round(c.maxShare * 100)}% of the CPU; ${c.rerun} repeats re-run]` : '';
}

function sameDetections(a: readonly Detection[][], b: readonly Detection[][]): boolean {
  if (a.length !== b.length) return false;
  return a.every((frame, i) => frame.length === b[i]!.length && frame.every((d, j) => d.classId === b[i]![j]!.classId && d.score === b[i]![j]!.score && d.xmin === b[i]![j]!.xmin));
}

function pick<T>(all: readonly T[], wanted: string | undefined, names: (item: T) => string[], what: string): T[] {
  if (!wanted) return [...all];
  const list = wanted.split(',').map((s) => s.trim()).filter(Boolean);
  return list.map((name) => {
    const hit = all.find((item) => names(item).includes(name));
    if (!hit) throw new Error(`unknown ${what} '${name}'; known: ${all.map((item) => names(item)[0]).join(', ')}`);
    return hit;
  });
}

function positiveInt(text: string | undefined, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${flag} must be a positive integer, got '${text}'`);
  return n;
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exitCode = 1;
});
