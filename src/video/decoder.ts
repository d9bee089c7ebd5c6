import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { promisify } from 'node:util';
import { InterruptedError, VideoError } from '../errors.js';
import { locateFfmpeg, passthroughTiming, type FfmpegBinaries, type FfmpegOptions } from './ffmpeg-locator.js';
import { FfmpegProcess } from './ffmpeg-process.js';
import type { FrameBatch, FrameRange } from './frame.js';
import { planRead, segmentFrames, selectExpression, type FrameGrid, type FrameSet, type ReadSegment } from './read-plan.js';

const execFileAsync = promisify(execFile);

export type Scaler = 'area' | 'bilinear' | 'bicubic' | 'fast_bilinear';

/** One scaled RGB output of a decode pass. */
export interface DecodeOutput {
  readonly width: number;
  readonly height: number;
  /** ffmpeg's scaler: `area` (default) suits big reductions, `bilinear` suits detector input. */
  readonly scaler?: Scaler;
  /**
   * `opencv`: YUV -> RGB as OpenCV's `VideoCapture` converts (it calls swscale without colour
   * details): the BT.601 matrix, full range only for the `yuvj*` formats, whatever the stream's
   * colour metadata says. ffmpeg's own filter follows the metadata (BT.709 on campus and shopfront:
   * up to 16 levels apart). Default: ffmpeg's.
   */
  readonly color?: 'opencv';
}

/** What decode passes did, summed over the calls that share this object. */
export interface DecodeStats {
  /** ffmpeg processes started, and how many of them began with a keyframe seek. */
  processes: number;
  seeks: number;
  /** Frames ffmpeg decoded to reach the output frames (counted from each process's start). */
  framesRead: number;
  /** Frames ffmpeg output (per output size), and those the reader dropped as not asked for. */
  framesOutput: number;
  framesDropped: number;
  seconds: number;
  /** Seconds from starting a seeking process to its first frame, summed. */
  seekSeconds: number;
  /** Characters in the longest ffmpeg command line started (bounded, whatever the frames asked for). */
  longestCommand: number;
}

export function emptyDecodeStats(): DecodeStats {
  return { processes: 0, seeks: 0, framesRead: 0, framesOutput: 0, framesDropped: 0, seconds: 0, seekSeconds: 0, longestCommand: 0 };
}

/** Adds one set of decode statistics into another. */
export function addDecodeStats(into: DecodeStats, from: DecodeStats): void {
  into.processes += from.processes;
  into.seeks += from.seeks;
  into.framesRead += from.framesRead;
  into.framesOutput += from.framesOutput;
  into.framesDropped += from.framesDropped;
  into.seconds += from.seconds;
  into.seekSeconds += from.seekSeconds;
  into.longestCommand = Math.max(into.longestCommand, from.longestCommand);
}

/** Counts frames decoded per output size within one query, so that a repeat shows. */
export interface DecodeLedger {
  /** A frame ffmpeg output at `size`: delivered to the caller, or dropped as not asked for. */
  record(size: string, frame: number, delivered: boolean): void;
  /** Whether the frame was delivered at `size` before (bounded covers avoid such frames). */
  has(size: string, frame: number): boolean;
}

/** Seconds per keyframe seek and per output pixel: what a read plan weighs a cover against a seek with. */
export interface OutputCost {
  readonly seekSeconds: number;
  readonly outputPerPixel: number;
}

/** How a decode pass reads: what every kind of pass takes besides its frames and sizes. */
export interface ReadOptions extends FfmpegOptions {
  /** The video's probed frame timestamps: enables keyframe seeks and checks where each lands. */
  readonly timestamps?: Float64Array;
  /** Gap in frames above which a seek beats decoding through (from measured costs; default never). */
  readonly seekGap?: number;
  /** Seconds per seek and per output pixel: how many covered frames a seek is worth (see read-plan). */
  readonly outputCost?: OutputCost;
  /** Frames per yielded batch (default 32). */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
  readonly ledger?: DecodeLedger;
  readonly stats?: DecodeStats;
}

export interface FrameSetDecodeOptions extends ReadOptions {
  readonly outputs: readonly DecodeOutput[];
  readonly frames: FrameSet;
}

export interface DecodeOptions extends ReadOptions, DecodeOutput {
  /** Frames [start, end) every `step`; default: every frame. */
  readonly range?: Partial<FrameRange>;
  /** An explicit ascending list of frame indices to decode (overrides `range`). */
  readonly frames?: ArrayLike<number>;
  /** Frames never to output (a grid decoded earlier in the same query). */
  readonly skip?: FrameGrid;
}

/**
 * Streams RGB frames out of a video through ffmpeg, scaled, with frame ranges and lists pushed
 * down into a `select` expression of bounded size (see `read-plan.ts`). Memory is bounded:
 * ffmpeg blocks while the consumer is busy. Frame indices count decoded frames from 0.
 *
 * @example
 * for await (const batch of decodeFrames('clip.mp4', { width: 64, height: 64, range: { step: 5 } })) {
 *   console.log(batch.frames[0], batch.timestamps[0]);
 * }
 */
export async function* decodeFrames(path: string, options: DecodeOptions): AsyncGenerator<FrameBatch> {
  const skip = options.skip ? { skip: options.skip } : {};
  const frames: FrameSet = options.frames
    ? { kind: 'list', frames: Int32Array.from(options.frames as ArrayLike<number>), ...skip }
    : { kind: 'range', start: options.range?.start ?? 0, end: options.range?.end ?? Infinity, step: options.range?.step ?? 1, ...skip };
  const output: DecodeOutput = { width: options.width, height: options.height, ...(options.scaler ? { scaler: options.scaler } : {}), ...(options.color ? { color: options.color } : {}) };
  for await (const [batch] of decodeFrameSet(path, { ...options, outputs: [output], frames })) yield batch!;
}

/**
 * Decodes a frame set once and scales every frame to each of `outputs` in the same ffmpeg
 * process (`split`), yielding one batch per output with the same frames: one read of the file
 * gives the reference detector's input and the specialized models' thumbnails.
 */
export async function* decodeFrameSet(path: string, options: FrameSetDecodeOptions): AsyncGenerator<FrameBatch[]> {
  for (const o of options.outputs) {
    if (!(o.width > 0 && o.height > 0 && Number.isInteger(o.width) && Number.isInteger(o.height))) {
      throw new VideoError('DECODE_BAD_SIZE', `decode size must be positive integers, got ${o.width}x${o.height}`);
    }
  }
  if (options.outputs.length === 0) throw new VideoError('DECODE_BAD_SIZE', 'a decode pass needs at least one output size');
  let segments: ReadSegment[];
  try {
    const pixels = options.outputs.reduce((a, o) => a + o.width * o.height, 0);
    const c = options.outputCost;
    const mergeGap = c ? Math.ceil(c.seekSeconds / Math.max(1e-9, c.outputPerPixel * pixels)) : undefined;
    segments = planRead(options.frames, { seekGap: options.timestamps ? options.seekGap : undefined, ...(mergeGap ? { mergeGap } : {}), avoid: avoidance(options) });
  } catch (error) {
    throw new VideoError('DECODE_BAD_RANGE', (error as Error).message);
  }
  const wanted = wantedTest(options.frames);
  const bins = locateFfmpeg(options);
  const seeks = segments.some((s) => s.seek);
  const seeking = seeks || options.outputs.some((o) => o.color === 'opencv') ? await seekInfo(bins.ffprobe, path) : undefined;
  if (seeks && seeking && !seeking.exact) segments = planRead(options.frames, { avoid: avoidance(options) });
  for (let i = 0; i < segments.length; i++) {
    if (options.signal?.aborted) throw new InterruptedError();
    const seg = segments[i]!;
    try {
      yield* readSegment(path, bins, seg, options, wanted, seeking);
    } catch (error) {
      // A seek that lands off its frame is thrown before any frame of it is yielded: read the
      // rest of the set, and this file from now on, in one sequential pass.
      if (!(error instanceof VideoError && error.code === 'VIDEO_SEEK_MISMATCH') || !seeking) throw error;
      seeking.exact = false;
      segments = [...segments.slice(0, i), ...planRead(from(options.frames, seg.first), { avoid: avoidance(options) })];
      i--;
    }
  }
}

/** Frames this query already has at every output size: a cover should not decode them again. */
function avoidance(options: FrameSetDecodeOptions): ((f: number) => boolean) | undefined {
  const ledger = options.ledger;
  if (!ledger) return undefined;
  const sizes = options.outputs.map((o) => `${o.width}x${o.height}`);
  return (f) => sizes.some((s) => ledger.has(s, f));
}

/** The part of a frame set at or after `first`. */
function from(set: FrameSet, first: number): FrameSet {
  if (set.kind === 'range') return { ...set, start: set.start + Math.max(0, Math.ceil((first - set.start) / set.step)) * set.step };
  return { ...set, frames: set.frames.filter((f) => f >= first) };
}

/** What the decoder needs to know about a file beyond its frames. */
export interface StreamInfo {
  /** The container's start time: seek targets are relative to it. */
  readonly startTime: number;
  /** Whether its timestamps place frames exactly (seeks, reduced decoding). */
  exact: boolean;
  /** A `yuvj*` pixel format (full-range YUV, as MJPEG cameras send). */
  readonly fullRangeFormat: boolean;
}

/** Per file (path and mtime). */
const streamInfos = new Map<string, StreamInfo>();

export async function seekInfo(ffprobe: string, path: string): Promise<StreamInfo> {
  const key = `${path}|${statSync(path).mtimeMs}`;
  let info = streamInfos.get(key);
  if (!info) {
    const args = ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'format=format_name,start_time:stream=pix_fmt', '-of', 'json', path];
    const { stdout } = await execFileAsync(ffprobe, args).catch(() => ({ stdout: '{}' }));
    const probed = JSON.parse(stdout || '{}') as { format?: { format_name?: string; start_time?: string }; streams?: { pix_fmt?: string }[] };
    const format = probed.format;
    const startTime = Number(format?.start_time);
    // AVI frames carry no presentation timestamps: a seek cannot be checked, and lands off by a
    // frame or more (measured on interstate_overpass.avi), so AVI is always read sequentially.
    const exact = Number.isFinite(startTime) && !/\bavi\b/.test(format?.format_name ?? '');
    info = { startTime: Number.isFinite(startTime) ? startTime : 0, exact, fullRangeFormat: /^yuvj/.test(probed.streams?.[0]?.pix_fmt ?? '') };
    streamInfos.set(key, info);
  }
  return info;
}

/** The `scale` filter of one output (see {@link DecodeOutput.color}). */
export function scaleFilter(o: DecodeOutput, info: StreamInfo | undefined): string {
  const color = o.color === 'opencv' ? `:in_color_matrix=bt601:in_range=${info?.fullRangeFormat ? 'pc' : 'tv'}` : '';
  return `scale=${o.width}:${o.height}:flags=${o.scaler ?? 'area'}${color},format=rgb24`;
}

function wantedTest(set: FrameSet): (f: number) => boolean {
  if (set.kind === 'range') return () => true;
  const list = set.frames;
  let p = 0;
  return (f) => {
    while (p < list.length && list[p]! < f) p++;
    return list[p] === f;
  };
}

function ffmpegArgs(path: string, seg: ReadSegment, outputs: readonly DecodeOutput[], seekTo: number | undefined, bins: FfmpegBinaries, info: StreamInfo | undefined): string[] {
  const whole = !seg.seek && !seg.skip && seg.terms.length === 1 && seg.terms[0]!.lo === 0 && seg.terms[0]!.step === 1;
  const head = `[0:v:0]${whole ? '' : `select='${selectExpression(seg)}',`}showinfo=checksum=0`;
  const scale = (o: DecodeOutput) => scaleFilter(o, info);
  const graph =
    outputs.length === 1
      ? `${head},${scale(outputs[0]!)}[o0]`
      : `${head},split=${outputs.length}${outputs.map((_, i) => `[s${i}]`).join('')};${outputs.map((o, i) => `[s${i}]${scale(o)}[o${i}]`).join(';')}`;
  const args = ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'info'];
  // -copyts keeps the container's timestamps, so where the seek landed can be checked.
  if (seekTo !== undefined) args.push('-ss', seekTo.toFixed(6), '-copyts');
  args.push('-i', path, '-filter_complex', graph);
  outputs.forEach((_, i) => {
    args.push('-map', `[o${i}]`, ...passthroughTiming(bins), '-an', '-sn');
    if (Number.isFinite(seg.outputCount)) args.push('-frames:v', String(seg.outputCount));
    args.push('-f', 'rawvideo', '-pix_fmt', 'rgb24', `pipe:${i === 0 ? 1 : i + 2}`);
  });
  return args;
}

/** Where a seek lands: halfway between the frame before the segment and its first frame. */
function seekTime(seg: ReadSegment, ts: Float64Array | undefined): number | undefined {
  if (!seg.seek || !ts) return undefined;
  const t = ts[seg.first];
  const before = ts[seg.first - 1];
  if (t === undefined || before === undefined) return undefined;
  return (t + before) / 2;
}

async function* readSegment(
  path: string,
  bins: FfmpegBinaries,
  planned: ReadSegment,
  options: FrameSetDecodeOptions,
  wanted: (f: number) => boolean,
  info: StreamInfo | undefined,
): AsyncGenerator<FrameBatch[]> {
  const ts = options.timestamps;
  const startTime = info?.startTime ?? 0;
  const seekTo = seekTime(planned, ts);
  const seg = seekTo === undefined && planned.seek ? { ...planned, seek: false } : planned;
  const args = ffmpegArgs(path, seg, options.outputs, seekTo, bins, info);
  if (options.stats) options.stats.longestCommand = Math.max(options.stats.longestCommand, [bins.ffmpeg, ...args].join(' ').length);
  const frameBytes = options.outputs.map((o) => o.width * o.height * 3);
  const proc = new FfmpegProcess(bins.ffmpeg, args, frameBytes, batchFrames(options.batchSize, frameBytes));
  const kill = () => proc.kill();
  options.signal?.addEventListener('abort', kill, { once: true });
  const frames = segmentFrames(seg);
  let produced = 0;
  let lastFrame = -1;
  try {
    for (;;) {
      if (options.signal?.aborted) throw new InterruptedError();
      // Timestamps come from showinfo when the probe's are not given, and to check a seek.
      const n = await proc.ready(!ts || (produced === 0 && seekTo !== undefined), produced);
      if (options.signal?.aborted) throw new InterruptedError();
      if (n === 0) break;
      if (produced === 0 && seekTo !== undefined) {
        if (options.stats) options.stats.seekSeconds += (performance.now() - proc.started) / 1000;
        checkSeek(path, seg, proc.showTimes[0] === undefined ? Number.NaN : proc.showTimes[0] - startTime, ts!);
      }
      const index = Array.from({ length: n }, () => {
        const f = frames.next();
        if (f.done) throw new Error('internal: ffmpeg output more frames than its read plan selects');
        return f.value;
      });
      const batch = takeBatch(proc, options, index, index.map(wanted), (k) => ts?.[index[k]!] ?? proc.showTimes[produced + k] ?? Number.NaN);
      produced += n;
      lastFrame = index[n - 1]!;
      proc.resume();
      if (batch[0]!.count > 0) yield batch;
    }
    proc.check(path);
    if (Number.isFinite(seg.outputCount) && produced < seg.outputCount) {
      throw new VideoError(
        'VIDEO_DECODE_SHORT',
        `ffmpeg gave ${produced} of the ${seg.outputCount} frames asked for from ${path} (frames ${seg.first}-${seg.terms[seg.terms.length - 1]!.hi}): the file is shorter than when it was registered, or damaged. Re-register it with 'sieve add' or check the file.`,
        { path },
      );
    }
  } finally {
    options.signal?.removeEventListener('abort', kill);
    proc.kill();
    if (options.stats) {
      const s = options.stats;
      s.processes++;
      if (seekTo !== undefined) s.seeks++;
      s.seconds += (performance.now() - proc.started) / 1000;
      if (lastFrame >= 0) s.framesRead += lastFrame + 1 - (seekTo !== undefined ? seg.first : 0);
    }
  }
}

/**
 * At most this many bytes per output in one batch. A bigger fresh buffer is mapped page by page
 * on every batch (measured filling 890x646 frames: 6.3 ms a frame in batches of 32, 1.1 ms in
 * batches of 4, 0.17 ms one at a time in uninitialised memory), which made decoding at the source
 * size 3x slower than the pipe.
 */
const BATCH_BYTES = 2 * 1024 * 1024;

function batchFrames(requested: number | undefined, frameBytes: readonly number[]): number {
  return Math.max(1, Math.min(requested ?? 32, Math.floor(BATCH_BYTES / Math.max(...frameBytes))));
}

/** The next frames of a process, one batch per output, keeping the wanted ones. */
function takeBatch(proc: FfmpegProcess, options: FrameSetDecodeOptions, index: readonly number[], keep: readonly boolean[], time: (k: number) => number): FrameBatch[] {
  const n = index.length;
  const kept = keep.filter(Boolean).length;
  if (options.stats) {
    options.stats.framesOutput += n;
    options.stats.framesDropped += n - kept;
  }
  const frames = Int32Array.from(index.filter((_, k) => keep[k]));
  const timestamps = Float64Array.from(index.map((_, k) => k).filter((k) => keep[k]), time);
  return options.outputs.map((o, i) => {
    const bytes = o.width * o.height * 3;
    // Every byte is written below: no need to zero it first.
    const data = new Uint8Array(Buffer.allocUnsafeSlow(kept * bytes).buffer, 0, kept * bytes);
    let at = 0;
    for (let k = 0; k < n; k++) {
      options.ledger?.record(`${o.width}x${o.height}`, index[k]!, keep[k]!);
      proc.take(i, keep[k] ? data : undefined, at);
      if (keep[k]) at += bytes;
    }
    return { width: o.width, height: o.height, count: kept, frames, timestamps, data };
  });
}

/** After a seek, the first frame must be the one the plan expects (else ffmpeg landed elsewhere). */
function checkSeek(path: string, seg: ReadSegment, landed: number, ts: Float64Array): void {
  const expected = ts[seg.first]!;
  const interval = Math.max(1e-4, expected - (ts[seg.first - 1] ?? expected - 0.04));
  if (!(Math.abs(landed - expected) < interval / 4)) {
    throw new VideoError(
      'VIDEO_SEEK_MISMATCH',
      `seeking in ${path} to frame ${seg.first} (${expected.toFixed(3)} s) landed at ${landed.toFixed(3)} s`,
      { path },
    );
  }
}
