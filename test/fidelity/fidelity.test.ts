/**
 * Sieve's reference-detector input against the canonical one: real OpenCV in Python
 * (cv2.VideoCapture, Ultralytics' LetterBox, YOLOX's preproc), on real clips that need a 2x upscale
 * (320x240 H.264, and a 320x192 MPEG-4 AVI made here from a shared clip), a downscale (890x646) and
 * a clip tagged BT.709 (which OpenCV converts with BT.601 all the same),
 * through both ffmpeg builds. Pixel tolerance: 0 levels (the tensors must be bit-identical), and
 * the detections of both inputs must be equal frame by frame.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalInputs, canonicalTensor, tensorDifference } from '../../bench/canonical-preprocess.js';
import { ReferenceDetector } from '../../src/inference/reference-detector.js';
import { decodeFrames } from '../../src/video/decoder.js';
import { probeVideo } from '../../src/video/probe.js';
import type { FrameBatch } from '../../src/video/frame.js';
import { dataDir, ffmpegBackends, opencvPython, video } from '../helpers.js';

const python = opencvPython();
const MODELS = ['yolo11n_int8dyn_640', 'yolox_nano_416'] as const;
const backends = ffmpegBackends();
let tmp: string;
let lowAvi: string;
let mjpeg: string;
const detectors = new Map<string, ReferenceDetector>();

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sieve-fidelity-'));
  // A low-resolution MPEG-4 Part 2 AVI, as old cameras record: 320x192, needs a 2x upscale.
  lowAvi = join(tmp, 'interstate_320x192_mpeg4.avi');
  const made = spawnSync(backends[0]!.ffmpegPath, ['-v', 'error', '-i', video('interstate_overpass.avi'), '-frames:v', '90', '-vf', 'scale=320:192', '-c:v', 'mpeg4', '-q:v', '4', '-an', lowAvi]);
  if (made.status !== 0) throw new Error(`could not make the low-resolution clip: ${made.stderr}`);
  // Full-range YUV (yuvj420p), as MJPEG cameras send: OpenCV converts it full range.
  mjpeg = join(tmp, 'polecam_320x180_mjpeg.avi');
  const mj = spawnSync(backends[0]!.ffmpegPath, ['-v', 'error', '-i', video('road_polecam.mp4'), '-frames:v', '40', '-vf', 'scale=320:180', '-c:v', 'mjpeg', '-pix_fmt', 'yuvj420p', '-q:v', '3', '-an', mjpeg]);
  if (mj.status !== 0) throw new Error(`could not make the MJPEG clip: ${mj.stderr}`);
  for (const name of MODELS) detectors.set(name, await ReferenceDetector.load(name, { dataDir, download: false, cacheDir: join(tmp, 'cache') }));
}, 60_000);
afterAll(async () => {
  for (const d of detectors.values()) await d.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

const clips = () => [
  { name: 'india_intersection_320.mp4 (320x240, 2x up)', path: video('india_intersection_320.mp4'), frames: [0, 150, 400, 700, 1000, 1300, 1600, 1985] },
  { name: 'low-res MPEG-4 AVI (320x192, 2x up)', path: lowAvi, frames: [0, 11, 30, 45, 60, 89] },
  { name: 'MJPEG AVI, full-range yuvj420p (320x180, 2x up)', path: mjpeg, frames: [0, 13, 39] },
  { name: 'grocery_cctv_screencast.mp4 (890x646, down)', path: video('grocery_cctv_screencast.mp4'), frames: [0, 200, 450, 700, 1020] },
  // Tagged BT.709: OpenCV converts with BT.601 regardless, so must Sieve.
  { name: 'campus_pedestrians_vtest.mp4 (480x360 BT.709, 1.33x up)', path: video('campus_pedestrians_vtest.mp4'), frames: [0, 260, 530, 794] },
];

describe.skipIf(!python).each(backends)('$name ffmpeg', (backend) => {
  const ffmpeg = { ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath };

  it.each(MODELS)('%s: tensors bit-identical to OpenCV, detections equal frame by frame', async (name) => {
    const d = detectors.get(name)!;
    for (const clip of clips()) {
      const info = await probeVideo(clip.path, ffmpeg);
      const source = { width: info.width, height: info.height };
      const size = d.decodeSize(info.width, info.height);
      const batches: FrameBatch[] = [];
      for await (const b of decodeFrames(clip.path, { ...ffmpeg, ...size, frames: clip.frames })) batches.push(b);
      const frames = batches.flatMap((b) => Array.from(b.frames));
      expect(frames, clip.name).toEqual(clip.frames);
      let k = 0;
      let objects = 0;
      for await (const canonical of canonicalInputs(python!, clip.path, d.manifest, clip.frames)) {
        const batch = batches.find((b) => b.frames.includes(canonical.frame))!;
        const i = batch.frames.indexOf(canonical.frame);
        const want = canonicalTensor(canonical.hwc, d.manifest);
        const got = d.preprocess(batch, i, source);
        const diff = tensorDifference(got, want, d.manifest.input.scale);
        expect(diff, `${clip.name} frame ${canonical.frame}: ${diff.differing} values differ, by up to ${diff.maxLevels} levels`).toEqual({ differing: 0, maxLevels: 0 });
        const [sieve] = await d.detect({ ...batch, count: 1, frames: batch.frames.subarray(i, i + 1), timestamps: batch.timestamps.subarray(i, i + 1), data: batch.data.subarray(i * size.width * size.height * 3, (i + 1) * size.width * size.height * 3) }, source);
        const reference = await d.detectInput(want, source);
        expect(sieve, `${clip.name} frame ${canonical.frame}`).toEqual(reference);
        objects += reference.length;
        k++;
      }
      expect(k).toBe(clip.frames.length);
      // The frames hold objects, so equal detections are not all empty lists.
      expect(objects, clip.name).toBeGreaterThan(0);
    }
  }, 180_000);

  it('the comparison can fail: frames scaled by ffmpeg (bilinear, the old path) differ from OpenCV', async () => {
    const d = detectors.get('yolo11n_int8dyn_640')!;
    const clip = clips()[0]!;
    const source = { width: 320, height: 240 };
    const batches: FrameBatch[] = [];
    for await (const b of decodeFrames(clip.path, { ...ffmpeg, width: 640, height: 480, scaler: 'bilinear', frames: clip.frames.slice(0, 3) })) batches.push(b);
    let worst = 0;
    for await (const canonical of canonicalInputs(python!, clip.path, d.manifest, clip.frames.slice(0, 3))) {
      const batch = batches.find((b) => b.frames.includes(canonical.frame))!;
      const diff = tensorDifference(d.preprocess(batch, batch.frames.indexOf(canonical.frame), source), canonicalTensor(canonical.hwc, d.manifest), d.manifest.input.scale);
      worst = Math.max(worst, diff.maxLevels);
      expect(diff.differing).toBeGreaterThan(1000);
    }
    expect(worst).toBeGreaterThan(3);
  }, 60_000);
});
