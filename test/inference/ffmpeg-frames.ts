/** Test helper: decodes chosen frames of a video to packed RGB with the ffmpeg binary shipped in node_modules. */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import type { FrameBatch } from '../../src/video/frame.js';

export const DATA_DIR = resolve(process.env.SIEVE_DATA_DIR ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'data'));
const FFMPEG = resolve(import.meta.dirname, '..', '..', 'node_modules', '@ffmpeg-installer', 'linux-x64', 'ffmpeg');

/** Frames `indices` (decode order) of `videos/<video>`, scaled to `width x height`. */
export function decodeFrames(video: string, indices: readonly number[], width: number, height: number): FrameBatch {
  const select = indices.map((n) => `eq(n\\,${n})`).join('+');
  const data = execFileSync(
    FFMPEG,
    ['-v', 'error', '-i', join(DATA_DIR, 'videos', video), '-vf', `select=${select},scale=${width}:${height}`, '-vsync', '0', '-frames:v', String(indices.length), '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
    { maxBuffer: 1 << 30 },
  );
  if (data.length !== indices.length * width * height * 3) throw new Error(`ffmpeg gave ${data.length} bytes for ${indices.length} frames of ${width}x${height}`);
  return {
    width,
    height,
    count: indices.length,
    frames: Int32Array.from(indices),
    timestamps: new Float64Array(indices.length),
    data: new Uint8Array(data.buffer, data.byteOffset, data.length),
  };
}
