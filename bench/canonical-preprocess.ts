/**
 * The canonical pre-processing of a reference detector, computed by real OpenCV in Python
 * (`test/fidelity/canonical_preprocess.py`: cv2.VideoCapture, Ultralytics' LetterBox or YOLOX's
 * preproc), streamed into Node frame by frame, for the fidelity test and `bench:fidelity`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import type { ModelManifest } from '../src/inference/model-manifest.js';
import { packageRoot } from '../src/inference/model-manifest.js';

export interface CanonicalFrame {
  readonly frame: number;
  /** The letterboxed input, HWC uint8 in the model's channel order, `input.height x input.width x 3`. */
  readonly hwc: Uint8Array;
}

/** A python3 with cv2 and numpy: `SIEVE_OPENCV_PYTHON`, Debian's `/usr/bin/python3`, or `python3` on PATH; `undefined` when none has them. */
export function findOpencvPython(): string | undefined {
  for (const python of [process.env.SIEVE_OPENCV_PYTHON, '/usr/bin/python3', 'python3'].filter((p): p is string => !!p)) {
    if (spawnSync(python, ['-c', 'import cv2, numpy'], { encoding: 'utf8' }).status === 0) return python;
  }
  return undefined;
}

/** The script's path (next to the tests, beside `src/` in the repository). */
export function canonicalScript(): string {
  return join(packageRoot(), 'test', 'fidelity', 'canonical_preprocess.py');
}

/**
 * Streams the canonical inputs of `frames` (ascending; every frame when omitted) of `video` for
 * `manifest`'s model. `python` must have cv2 and numpy.
 */
export async function* canonicalInputs(python: string, video: string, manifest: ModelManifest, frames?: readonly number[]): AsyncGenerator<CanonicalFrame> {
  const { width, height } = manifest.input;
  const args = [canonicalScript(), video, manifest.family, String(width), String(height), ...(frames ? [frames.join(',')] : [])];
  const child = spawn(python, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const size = width * height * 3;
  let pending: Buffer = Buffer.alloc(0);
  let header = false;
  let k = 0;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      if (!header) {
        const nl = pending.indexOf(10);
        if (nl < 0) continue;
        header = true;
        pending = pending.subarray(nl + 1);
      }
      while (pending.length >= size) {
        const hwc = new Uint8Array(pending.subarray(0, size));
        pending = pending.subarray(size);
        yield { frame: frames ? frames[k]! : k, hwc };
        k++;
      }
    }
    const code = await exited;
    if (code !== 0) throw new Error(`canonical pre-processing failed (exit ${code}): ${stderr.trim()}`);
    if (frames && k !== frames.length) throw new Error(`canonical pre-processing gave ${k} of ${frames.length} frames of ${video}`);
  } finally {
    child.kill();
  }
}

/** The model input tensor `[3, H, W]` of a canonical frame: plane k = channel k x scale (what `preprocess` builds). */
export function canonicalTensor(hwc: Uint8Array, manifest: ModelManifest, out = new Float32Array(hwc.length)): Float32Array {
  const plane = manifest.input.width * manifest.input.height;
  const scale = manifest.input.scale;
  for (let p = 0, s = 0; p < plane; p++, s += 3) {
    out[p] = hwc[s]! * scale;
    out[plane + p] = hwc[s + 1]! * scale;
    out[2 * plane + p] = hwc[s + 2]! * scale;
  }
  return out;
}

/** How far two input tensors are apart, in 0-255 pixel levels. */
export function tensorDifference(a: Float32Array, b: Float32Array, scale: number): { readonly differing: number; readonly maxLevels: number } {
  if (a.length !== b.length) throw new RangeError(`tensors of ${a.length} and ${b.length} values`);
  let differing = 0;
  let max = 0;
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      differing++;
      max = Math.max(max, Math.abs(a[i]! - b[i]!) / scale);
    }
  }
  return { differing, maxLevels: Math.round(max) };
}
