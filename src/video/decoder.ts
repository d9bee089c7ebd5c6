import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import ffmpeg from 'fluent-ffmpeg';
import { InterruptedError, VideoError } from '../errors.js';
import { locateFfmpeg, type FfmpegOptions } from './ffmpeg-locator.js';
import type { FrameBatch, FrameRange } from './frame.js';

export interface DecodeOptions extends FfmpegOptions {
  /** Output frame size; ffmpeg scales on the way out (aspect ratio is the caller's choice). */
  readonly width: number;
  readonly height: number;
  /** Frames [start, end) every `step`; default: every frame. */
  readonly range?: Partial<FrameRange>;
  /** An explicit ascending list of frame indices to decode (overrides `range`). */
  readonly frames?: ArrayLike<number>;
  /** Frames per yielded batch (default 32). */
  readonly batchSize?: number;
  /** ffmpeg's scaler: `area` (default) suits big reductions, `bilinear` suits detector input. */
  readonly scaler?: 'area' | 'bilinear' | 'bicubic' | 'fast_bilinear';
  readonly signal?: AbortSignal;
}

/**
 * Streams RGB frames out of a video through ffmpeg, scaled, with frame-range and sampling pushed
 * down into ffmpeg's `select` filter. Memory is bounded: ffmpeg blocks while the consumer is
 * busy. Frame indices count decoded frames from 0; timestamps are the container's.
 *
 * @example
 * for await (const batch of decodeFrames('clip.mp4', { width: 64, height: 64, range: { step: 5 } })) {
 *   console.log(batch.frames[0], batch.timestamps[0]);
 * }
 */
export async function* decodeFrames(path: string, options: DecodeOptions): AsyncGenerator<FrameBatch> {
  const { width, height } = options;
  if (!(width > 0 && height > 0 && Number.isInteger(width) && Number.isInteger(height))) {
    throw new VideoError('DECODE_BAD_SIZE', `decode size must be positive integers, got ${width}x${height}`);
  }
  const batchSize = Math.max(1, options.batchSize ?? 32);
  const plan = selection(options);
  if (plan.count === 0) return;
  const bins = locateFfmpeg(options);
  const filters = `${plan.filter}scale=${width}:${height}:flags=${options.scaler ?? 'area'},format=rgb24,showinfo`;
  let scriptDir: string | undefined;
  const command = ffmpeg(path).setFfmpegPath(bins.ffmpeg).inputOptions(['-hide_banner', '-nostats', '-nostdin']);
  const outputOptions = ['-map', '0:v:0', '-vsync', '0', '-an', '-sn', '-pix_fmt', 'rgb24', '-loglevel', 'info'];
  if (filters.length > 4000) {
    scriptDir = mkdtempSync(join(tmpdir(), 'sieve-select-'));
    writeFileSync(join(scriptDir, 'filter.txt'), filters);
    outputOptions.push('-filter_script:v', join(scriptDir, 'filter.txt'));
  } else {
    outputOptions.push('-vf', filters);
  }
  if (Number.isFinite(plan.count)) outputOptions.push('-frames:v', String(plan.count));
  command.outputOptions(outputOptions).format('rawvideo');

  const timestamps: number[] = [];
  const stderrTail: string[] = [];
  let finished = false;
  let failure: Error | undefined;
  let aborted = false;
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  command.on('stderr', (line: string) => {
    if (line.includes('Parsed_showinfo') && line.includes('pts_time:')) {
      const m = /pts_time:\s*(-?[0-9.e+-]+)/.exec(line);
      if (m) timestamps.push(Number(m[1]));
      notify();
    } else {
      stderrTail.push(line);
      if (stderrTail.length > 30) stderrTail.shift();
    }
  });
  command.on('error', (error: Error) => {
    if (!aborted) failure = error;
    finished = true;
    notify();
  });
  command.on('end', () => {
    finished = true;
    notify();
  });
  const onAbort = () => {
    aborted = true;
    command.kill('SIGKILL');
  };
  options.signal?.addEventListener('abort', onAbort, { once: true });

  const stream = command.pipe() as Readable;
  const frameBytes = width * height * 3;
  let buffer = new Uint8Array(batchSize * frameBytes);
  let filled = 0; // bytes in `buffer`
  let produced = 0; // frames yielded so far
  const waitForTimestamps = async (needed: number) => {
    while (timestamps.length < needed && !finished) await new Promise<void>((r) => (wake = r));
  };
  const emit = async (frames: number): Promise<FrameBatch> => {
    await waitForTimestamps(produced + frames);
    const batch: FrameBatch = {
      width,
      height,
      count: frames,
      frames: Int32Array.from({ length: frames }, (_, i) => plan.frameAt(produced + i)),
      timestamps: Float64Array.from({ length: frames }, (_, i) => timestamps[produced + i] ?? Number.NaN),
      data: buffer.subarray(0, frames * frameBytes),
    };
    produced += frames;
    buffer = new Uint8Array(batchSize * frameBytes);
    filled = 0;
    return batch;
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (options.signal?.aborted) throw new InterruptedError();
      let offset = 0;
      while (offset < chunk.length) {
        const take = Math.min(chunk.length - offset, buffer.length - filled);
        buffer.set(chunk.subarray(offset, offset + take), filled);
        filled += take;
        offset += take;
        if (filled === buffer.length) yield await emit(batchSize);
      }
    }
    while (!finished) await new Promise<void>((r) => (wake = r));
    if (options.signal?.aborted) throw new InterruptedError();
    if (failure) throw decodeError(path, failure, stderrTail);
    const rest = Math.floor(filled / frameBytes);
    if (rest > 0) yield await emit(rest);
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      aborted = true;
      command.kill('SIGKILL');
    }
    if (scriptDir) rmSync(scriptDir, { recursive: true, force: true });
  }
}

interface Selection {
  /** `select=...,` or empty for every frame. */
  readonly filter: string;
  /** Frames ffmpeg will output (Infinity when the range is open-ended). */
  readonly count: number;
  readonly frameAt: (k: number) => number;
}

function selection(options: DecodeOptions): Selection {
  if (options.frames) {
    const list = Int32Array.from(options.frames as ArrayLike<number>);
    for (let i = 1; i < list.length; i++) {
      if (list[i]! <= list[i - 1]!) throw new VideoError('DECODE_BAD_RANGE', 'frames to decode must be strictly ascending');
    }
    if (list.length === 0) return { filter: '', count: 0, frameAt: () => 0 };
    const terms: string[] = [];
    for (let i = 0; i < list.length; ) {
      let j = i;
      while (j + 1 < list.length && list[j + 1] === list[j]! + 1) j++;
      terms.push(i === j ? `eq(n\\,${list[i]})` : `between(n\\,${list[i]}\\,${list[j]})`);
      i = j + 1;
    }
    return { filter: `select='${terms.join('+')}',`, count: list.length, frameAt: (k) => list[k]! };
  }
  const start = Math.max(0, Math.floor(options.range?.start ?? 0));
  const end = options.range?.end ?? Infinity;
  const step = Math.max(1, Math.floor(options.range?.step ?? 1));
  if (end <= start) return { filter: '', count: 0, frameAt: () => 0 };
  const conditions: string[] = [];
  if (start > 0) conditions.push(`gte(n\\,${start})`);
  if (Number.isFinite(end)) conditions.push(`lt(n\\,${end})`);
  if (step > 1) conditions.push(`not(mod(n-${start}\\,${step}))`);
  const count = Number.isFinite(end) ? Math.ceil((end - start) / step) : Infinity;
  return { filter: conditions.length ? `select='${conditions.join('*')}',` : '', count, frameAt: (k) => start + k * step };
}

function decodeError(path: string, error: Error, stderr: readonly string[]): VideoError {
  const reason = stderr.filter((l) => /error|invalid|corrupt|moov|No such file|does not contain/i.test(l)).slice(-2).join('; ') || error.message.split('\n')[0];
  return new VideoError('VIDEO_DECODE_FAILED', `ffmpeg could not decode ${path}: ${reason}`, { path }, { cause: error });
}
