import { InterruptedError, VideoError } from '../errors.js';
import { scaleFilter, seekInfo, type DecodeOutput, type DecodeStats, type DecodeLedger } from './decoder.js';
import { locateFfmpeg, passthroughTiming, type FfmpegOptions } from './ffmpeg-locator.js';
import { FfmpegProcess } from './ffmpeg-process.js';
import type { FrameBatch } from './frame.js';

/**
 * ffmpeg's decoder-level frame skipping: `noref` does not decode frames no other frame refers to
 * (measured here at 1.3-2x less decoding, keeping 26-66% of the frames), `nokey` decodes keyframes
 * only. Which frames come out depends on the encoding, so they are identified by their timestamps.
 */
export type ReducedMode = 'noref' | 'nokey';

export interface ReducedDecodeOptions extends FfmpegOptions {
  readonly mode: ReducedMode;
  readonly outputs: readonly DecodeOutput[];
  /** Frames [start, end): the decoded ones among them are yielded. */
  readonly start: number;
  readonly end: number;
  /** The probe's timestamps: the only way to tell which frames ffmpeg kept. */
  readonly timestamps: Float64Array;
  /** Seek to `start` when it is further than this from the file's start (frames). */
  readonly seekGap?: number;
  /** Frames never to deliver (the query has them already); output by ffmpeg, they are dropped. */
  readonly exclude?: (frame: number) => boolean;
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
  readonly ledger?: DecodeLedger;
  readonly stats?: DecodeStats;
}

/**
 * The frames of [start, end) that the decoder produces in a reduced mode, scaled to each output,
 * in order. Throws `DECODE_MODE_UNSUPPORTED` for a file whose timestamps cannot place frames
 * (AVI), before any frame is yielded; the caller then reads every frame.
 */
export async function* decodeReduced(path: string, options: ReducedDecodeOptions): AsyncGenerator<FrameBatch[]> {
  const bins = locateFfmpeg(options);
  const info = await seekInfo(bins.ffprobe, path);
  if (!info.exact) throw new VideoError('DECODE_MODE_UNSUPPORTED', `${path} has no frame timestamps to tell which frames -skip_frame ${options.mode} kept; read every frame instead`, { path });
  const ts = options.timestamps;
  const { start, end } = options;
  if (!(end > start)) return;
  const seekTo = start > 0 && start > (options.seekGap ?? Infinity) ? (ts[start - 1]! + ts[start]!) / 2 : undefined;
  const scale = options.outputs.map((o, i) => `[s${i}]${scaleFilter(o, info)}[o${i}]`);
  const head = options.outputs.length === 1 ? '[0:v:0]showinfo=checksum=0[s0]' : `[0:v:0]showinfo=checksum=0,split=${options.outputs.length}${options.outputs.map((_, i) => `[s${i}]`).join('')}`;
  const graph = [head, ...scale].join(';');
  const args = ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'info', '-skip_frame', options.mode, ...(seekTo !== undefined ? ['-ss', seekTo.toFixed(6)] : []), '-copyts', '-i', path, '-filter_complex', graph];
  options.outputs.forEach((_, i) => args.push('-map', `[o${i}]`, ...passthroughTiming(bins), '-an', '-sn', '-f', 'rawvideo', '-pix_fmt', 'rgb24', `pipe:${i === 0 ? 1 : i + 2}`));
  if (options.stats) options.stats.longestCommand = Math.max(options.stats.longestCommand, [bins.ffmpeg, ...args].join(' ').length);
  const proc = new FfmpegProcess(bins.ffmpeg, args, options.outputs.map((o) => o.width * o.height * 3), Math.max(1, options.batchSize ?? 32));
  const kill = () => proc.kill();
  options.signal?.addEventListener('abort', kill, { once: true });
  let produced = 0;
  let last = -1;
  try {
    for (let past = false; !past; ) {
      const n = await proc.ready(true, produced);
      if (options.signal?.aborted) throw new InterruptedError();
      if (n === 0) break;
      const index = Array.from({ length: n }, (_, k) => frameAt(path, ts, proc.showTimes[produced + k]! - info.startTime));
      const keep = index.map((f) => f >= start && f < end && f > last && !options.exclude?.(f));
      for (const f of index) if (f >= end - 1) past = true;
      const batch = take(proc, options, index, keep);
      produced += n;
      for (const f of index) if (f < end) last = Math.max(last, f);
      proc.resume();
      if (batch[0]!.count > 0) yield batch;
    }
    if (!proc.done) return;
    proc.check(path);
  } finally {
    options.signal?.removeEventListener('abort', kill);
    proc.kill();
    if (options.stats) {
      options.stats.processes++;
      if (seekTo !== undefined) options.stats.seeks++;
      options.stats.seconds += (performance.now() - proc.started) / 1000;
      if (last >= 0) options.stats.framesRead += last + 1 - (seekTo !== undefined ? start : 0);
    }
  }
}

/** The probed frame at time `t` (within a quarter of a frame interval), else an error. */
function frameAt(path: string, ts: Float64Array, t: number): number {
  let lo = 0;
  let hi = ts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ts[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  const best = lo > 0 && Math.abs(ts[lo - 1]! - t) < Math.abs(ts[lo]! - t) ? lo - 1 : lo;
  const gaps = [(ts[best + 1] ?? Infinity) - ts[best]!, ts[best]! - (ts[best - 1] ?? -Infinity)].filter(Number.isFinite);
  const interval = gaps.length > 0 ? Math.min(...gaps) : 1;
  if (!(Math.abs(ts[best]! - t) < interval / 4)) {
    throw new VideoError('VIDEO_FRAME_UNMATCHED', `ffmpeg gave a frame at ${t.toFixed(4)} s in ${path} that matches no probed frame (nearest ${ts[best]!.toFixed(4)} s): the file changed since it was registered? Re-register it with 'sieve add'.`, { path });
  }
  return best;
}

function take(proc: FfmpegProcess, options: ReducedDecodeOptions, index: readonly number[], keep: readonly boolean[]): FrameBatch[] {
  const kept = keep.filter(Boolean).length;
  if (options.stats) {
    options.stats.framesOutput += index.length;
    options.stats.framesDropped += index.length - kept;
  }
  const frames = Int32Array.from(index.filter((_, k) => keep[k]));
  const timestamps = Float64Array.from(frames, (f) => options.timestamps[f]!);
  return options.outputs.map((o, i) => {
    const bytes = o.width * o.height * 3;
    const data = new Uint8Array(kept * bytes);
    let at = 0;
    index.forEach((f, k) => {
      options.ledger?.record(`${o.width}x${o.height}`, f, keep[k]!);
      proc.take(i, keep[k] ? data : undefined, at);
      if (keep[k]) at += bytes;
    });
    return { width: o.width, height: o.height, count: kept, frames, timestamps, data };
  });
}

/** What a reduced mode keeps and saves on this file, measured on a stretch of it. */
export interface ReducedMeasure {
  /** The widest gap between consecutive kept frames. */
  readonly maxGap: number;
  readonly keptShare: number;
  /** Seconds of a reduced read over seconds of a full read of the same frames (same output). */
  readonly costRatio: number;
}

/** Reads frames [start, end) at 32x32 both ways and compares (about a second on 600 frames). */
export async function measureReduced(path: string, mode: ReducedMode, options: FfmpegOptions & { readonly start: number; readonly end: number; readonly timestamps: Float64Array; readonly decodeAll: () => AsyncIterable<unknown> }): Promise<ReducedMeasure> {
  let t = performance.now();
  for await (const _ of options.decodeAll()) void _;
  const full = performance.now() - t;
  t = performance.now();
  let kept = 0;
  let maxGap = 0;
  let previous = options.start - 1;
  for await (const [b] of decodeReduced(path, { ...options, mode, outputs: [{ width: 32, height: 32 }], batchSize: 128 })) {
    for (const f of b!.frames) {
      maxGap = Math.max(maxGap, f - previous);
      previous = f;
      kept++;
    }
  }
  maxGap = Math.max(maxGap, options.end - previous);
  return { maxGap, keptShare: kept / Math.max(1, options.end - options.start), costRatio: (performance.now() - t) / Math.max(1e-3, full) };
}
