import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import ffmpeg from 'fluent-ffmpeg';
import { VideoError } from '../errors.js';
import { locateFfmpeg, type FfmpegOptions } from './ffmpeg-locator.js';

const execFileAsync = promisify(execFile);

/** What Sieve knows about a video file after probing it. */
export interface VideoInfo {
  readonly path: string;
  readonly sizeBytes: number;
  readonly container: string;
  readonly codec: string;
  readonly width: number;
  readonly height: number;
  /** Decoded frames (exact: counted by decoding, not read from the header). */
  readonly frameCount: number;
  /** Seconds from the first to the end of the last frame. */
  readonly duration: number;
  /** Average frame rate: frames / duration. */
  readonly fps: number;
  /** The frame rate the container header claims. */
  readonly headerFps: number;
  /** True when frame intervals vary by more than 10% from their median. */
  readonly variableFrameRate: boolean;
  /** Presentation time of each frame in seconds from the container's start. */
  readonly timestamps: Float64Array;
}

/**
 * Probes a video: stream metadata, and the exact decoded frames with their container
 * timestamps. Throws `VideoError` (`VIDEO_NOT_FOUND`, `VIDEO_INVALID`, `VIDEO_EMPTY`).
 */
export async function probeVideo(path: string, options: FfmpegOptions = {}): Promise<VideoInfo> {
  const file = resolve(path);
  if (!existsSync(file)) {
    throw new VideoError('VIDEO_NOT_FOUND', `video file not found: ${file}. Check the path, or register the video with 'sieve add'.`, { path: file });
  }
  const stat = statSync(file);
  if (!stat.isFile()) throw new VideoError('VIDEO_NOT_FOUND', `not a file: ${file}`, { path: file });
  const bins = locateFfmpeg(options);
  const metadata = await new Promise<ffmpeg.FfprobeData>((done, fail) => {
    ffmpeg.setFfprobePath(bins.ffprobe);
    ffmpeg.ffprobe(file, (error, data) => (error ? fail(error) : done(data)));
  }).catch((error: unknown) => {
    throw new VideoError('VIDEO_INVALID', `cannot read ${file} as a video: ${ffprobeReason(error)}. Is it a complete video file (MP4, AVI, ...)?`, { path: file }, { cause: error });
  });
  const stream = metadata.streams.find((s) => s.codec_type === 'video');
  if (!stream || !stream.width || !stream.height) {
    throw new VideoError('VIDEO_INVALID', `${file} has no video stream (found: ${metadata.streams.map((s) => s.codec_type).join(', ') || 'nothing'})`, { path: file });
  }
  const timestamps = await frameTimestamps(bins.ffprobe, file, Number(metadata.format.start_time) || 0);
  if (timestamps.length === 0) {
    throw new VideoError('VIDEO_EMPTY', `${file} has a video stream but no frame could be decoded; the file may be truncated or corrupt`, { path: file });
  }
  const headerFps = parseRate(stream.r_frame_rate) || parseRate(stream.avg_frame_rate);
  const intervals = medianInterval(timestamps);
  const last = timestamps[timestamps.length - 1]!;
  const duration = last - timestamps[0]! + (intervals.median || (headerFps ? 1 / headerFps : 0));
  return Object.freeze({
    path: file,
    sizeBytes: stat.size,
    container: String(metadata.format.format_name ?? ''),
    codec: String(stream.codec_name ?? ''),
    width: stream.width,
    height: stream.height,
    frameCount: timestamps.length,
    duration,
    fps: duration > 0 ? timestamps.length / duration : headerFps,
    headerFps,
    variableFrameRate: intervals.variable || (headerFps > 0 && Math.abs(headerFps - timestamps.length / duration) / headerFps > 0.1),
    timestamps,
  });
}

async function frameTimestamps(ffprobePath: string, file: string, startTime: number): Promise<Float64Array> {
  try {
    const { stdout } = await execFileAsync(
      ffprobePath,
      ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=best_effort_timestamp_time', '-of', 'csv=p=0', file],
      { maxBuffer: 256 * 1024 * 1024 },
    );
    const values: number[] = [];
    let previous = -Infinity;
    for (const line of stdout.split('\n')) {
      const text = line.trim().replace(/,$/, '');
      if (!text) continue;
      let t = Number(text);
      // A frame without a timestamp takes its predecessor's plus a tiny step, so order is kept.
      if (!Number.isFinite(t)) t = previous + 1e-6;
      values.push(t - startTime);
      previous = t;
    }
    return Float64Array.from(values);
  } catch (error) {
    throw new VideoError('VIDEO_INVALID', `cannot decode ${file}: ${ffprobeReason(error)}`, { path: file }, { cause: error });
  }
}

function medianInterval(ts: Float64Array): { median: number; variable: boolean } {
  if (ts.length < 3) return { median: 0, variable: false };
  const d: number[] = [];
  for (let i = 1; i < ts.length; i++) d.push(ts[i]! - ts[i - 1]!);
  const sorted = [...d].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  const off = d.filter((x) => Math.abs(x - median) > 0.1 * median).length;
  return { median, variable: median > 0 && off / d.length > 0.05 };
}

function parseRate(rate: string | undefined): number {
  if (!rate) return 0;
  const [n, d] = rate.split('/').map(Number);
  if (!n || !Number.isFinite(n)) return 0;
  return d ? n / d : n;
}

function ffprobeReason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('ffprobe version') && !/^Command failed/.test(l));
  return (lines.find((l) => /Invalid|moov|error|not found|unknown/i.test(l)) ?? lines[lines.length - 1] ?? 'unknown error').slice(0, 300);
}
