/**
 * Ground truth computed in the test, without the engine: the ffmpeg and ffprobe binaries run
 * directly as child processes, and the reference detector runs on the frames they give.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import type { Detection } from '../../src/inference/detection.js';
import { ReferenceDetector } from '../../src/inference/reference-detector.js';
import { locateFfmpeg } from '../../src/video/index.js';

const execFileAsync = promisify(execFile);

export interface ProbedVideo {
  readonly width: number;
  readonly height: number;
  /** Seconds from the container's start of every decoded frame (ffprobe's frame timestamps). */
  readonly timestamps: readonly number[];
}

/** Frame size and per-frame timestamps, straight from ffprobe. */
export async function probeWithFfprobe(file: string, bins: { ffprobePath?: string } = {}): Promise<ProbedVideo> {
  const ffprobe = bins.ffprobePath ?? locateFfmpeg().ffprobe;
  const { stdout: streamJson } = await execFileAsync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height:format=start_time', '-of', 'json', file]);
  const info = JSON.parse(streamJson) as { streams: { width: number; height: number }[]; format: { start_time?: string } };
  const start = Number(info.format.start_time ?? 0) || 0;
  // best_effort_timestamp is the one that exists in AVI too (pts is N/A there).
  const { stdout } = await execFileAsync(ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=best_effort_timestamp_time', '-of', 'csv=p=0', file], {
    maxBuffer: 64 << 20,
  });
  const timestamps = stdout
    .split('\n')
    .map((l) => l.trim().replace(/,$/, ''))
    .filter((l) => l.length > 0)
    .map((l) => Number(l) - start);
  if (timestamps.some((t) => !Number.isFinite(t))) throw new Error(`ffprobe gave a frame without a timestamp in ${file}`);
  return { width: info.streams[0]!.width, height: info.streams[0]!.height, timestamps };
}

/**
 * Frames [start, end) in decode order, scaled to `width x height`, as packed RGB (one Buffer per
 * frame), converted from YUV as OpenCV's VideoCapture does (BT.601, limited range: none of the
 * clips used here is yuvj). ffmpeg decodes from the beginning; the frames before `start` are dropped here.
 */
export function decodeFrameRange(file: string, start: number, end: number, width: number, height: number, bins: { ffmpegPath?: string } = {}): Promise<Buffer[]> {
  const ffmpeg = bins.ffmpegPath ?? locateFfmpeg().ffmpeg;
  const args = ['-v', 'error', '-nostdin', '-i', file, '-map', '0:v:0', '-vsync', '0', '-vf', `scale=${width}:${height}:flags=bilinear:in_color_matrix=bt601:in_range=tv,format=rgb24`, '-frames:v', String(end), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
  const size = width * height * 3;
  return new Promise((resolve, reject) => {
    const child = spawn(ffmpeg, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const kept: Buffer[] = [];
    let pending: Buffer = Buffer.alloc(0);
    let index = 0;
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      while (pending.length >= size) {
        if (index >= start) kept.push(Buffer.from(pending.subarray(0, size)));
        pending = pending.subarray(size);
        index++;
      }
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0 || index !== end || pending.length !== 0) {
        reject(new Error(`ffmpeg exited ${code} after ${index} frames (+${pending.length} bytes), wanted ${end} frames of ${width}x${height}: ${stderr}`));
        return;
      }
      resolve(kept);
    });
  });
}

/**
 * Reference detections of frames [start, end): decoded by ffmpeg at the detector's decode size and
 * run through `detector` one frame at a time.
 */
export async function detectFrameRange(detector: ReferenceDetector, file: string, video: ProbedVideo, start: number, end: number, bins: { ffmpegPath?: string } = {}): Promise<Detection[][]> {
  const size = detector.decodeSize(video.width, video.height);
  const frames = await decodeFrameRange(file, start, end, size.width, size.height, bins);
  const out: Detection[][] = [];
  for (let i = 0; i < frames.length; i++) {
    const data = frames[i]!;
    const frame = start + i;
    const [dets] = await detector.detect(
      { width: size.width, height: size.height, count: 1, frames: Int32Array.of(frame), timestamps: Float64Array.of(video.timestamps[frame]!), data: new Uint8Array(data.buffer, data.byteOffset, data.length) },
      { width: video.width, height: video.height },
    );
    out.push(dets!);
  }
  return out;
}
