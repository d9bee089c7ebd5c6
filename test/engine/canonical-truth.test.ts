/**
 * Ground truth computed without any of the engine's decoding or detector code: frames decoded and
 * letterboxed by real OpenCV (`test/fidelity/canonical_preprocess.py`, Ultralytics' LetterBox),
 * the ONNX model run through its own onnxruntime-node session, its output decoded and NMS'd here,
 * with the parameters the model's manifest documents (score >= 0.5, class-wise IoU 0.45). The
 * engine's exact answers must equal it, object for object.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalInputs } from '../../bench/canonical-preprocess.js';
import { openEngine, type Engine } from '../../src/engine.js';
import { findModelManifest, type ModelManifest } from '../../src/inference/model-manifest.js';
import { model, opencvPython, video } from '../helpers.js';

const python = opencvPython();
const FRAMES = 40;
const CLIPS = [
  { file: 'road_polecam.mp4', width: 640, height: 360 },
  { file: 'india_intersection_320.mp4', width: 320, height: 240 },
] as const;

interface Box {
  cls: number;
  score: number;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

function iou(a: Box, b: Box): number {
  const w = Math.max(0, Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1));
  const h = Math.max(0, Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1));
  const inter = w * h;
  return inter / ((a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter);
}

/** YOLO11 output [1, 84, 8400] -> boxes in source pixels (best class per anchor, class-wise NMS, Ultralytics' scale_boxes). */
function decode(out: Float32Array, width: number, height: number): Box[] {
  const n = 8400;
  const found: Box[] = [];
  for (let i = 0; i < n; i++) {
    let best = 0;
    let cls = 0;
    for (let c = 0; c < 80; c++) {
      const p = out[(4 + c) * n + i]!;
      if (p > best) {
        best = p;
        cls = c;
      }
    }
    if (best < 0.5) continue;
    const [cx, cy, w, h] = [out[i]!, out[n + i]!, out[2 * n + i]!, out[3 * n + i]!];
    found.push({ cls, score: best, x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 });
  }
  found.sort((a, b) => b.score - a.score);
  const kept: Box[] = [];
  for (const b of found) if (kept.every((k) => k.cls !== b.cls || iou(k, b) <= 0.45)) kept.push(b);
  const gain = Math.min(640 / width, 640 / height);
  const padX = Math.round((640 - width * gain) / 2 - 0.1);
  const padY = Math.round((640 - height * gain) / 2 - 0.1);
  const clip = (v: number, max: number) => Math.min(Math.max(v, 0), max);
  return kept.map((b) => ({ ...b, x1: clip((b.x1 - padX) / gain, width), x2: clip((b.x2 - padX) / gain, width), y1: clip((b.y1 - padY) / gain, height), y2: clip((b.y2 - padY) / gain, height) }));
}

let session: ort.InferenceSession;
let engine: Engine;
let dir: string;

beforeAll(async () => {
  if (!python) return;
  session = await ort.InferenceSession.create(model('yolo11n_int8dyn_640.onnx'));
  dir = mkdtempSync(join(tmpdir(), 'sieve-canonical-truth-'));
  engine = await openEngine({ catalog: join(dir, 'c.duckdb') });
}, 60_000);
afterAll(async () => {
  await engine?.close();
  await session?.release();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!python).each(CLIPS)('$file: the engine against a truth computed without its decoder or detector', (clip) => {
  it(`every object of the first ${FRAMES} frames, score >= 0.5`, async () => {
    // Only what the script needs: the family and input size.
    const manifest = { family: 'ultralytics', input: { width: 640, height: 640 } } as unknown as ModelManifest;
    const truth: Box[][] = [];
    for await (const f of canonicalInputs(python!, video(clip.file), manifest, Array.from({ length: FRAMES }, (_, i) => i))) {
      const plane = 640 * 640;
      const input = new Float32Array(3 * plane);
      for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) input[c * plane + p] = f.hwc[p * 3 + c]! / 255;
      const out = await session.run({ images: new ort.Tensor('float32', input, [1, 3, 640, 640]) });
      truth.push(decode(out.output0!.data as Float32Array, clip.width, clip.height));
    }
    const result = await engine.query(`SELECT * FROM v WHERE frame < ${FRAMES} AND score >= 0.5`, { videos: { v: video(clip.file) }, exact: true });
    const labels = findModelManifest('yolo11n_int8dyn_640')!.labels;
    const got = Array.from({ length: FRAMES }, () => [] as Box[]);
    for (const r of result.rows as { frame: number; class: string; score: number; xmin: number; ymin: number; xmax: number; ymax: number }[]) {
      got[r.frame]!.push({ cls: labels.indexOf(r.class), score: r.score, x1: r.xmin, y1: r.ymin, x2: r.xmax, y2: r.ymax });
    }
    let objects = 0;
    for (let f = 0; f < FRAMES; f++) {
      const want = truth[f]!.map((b) => `${labels[b.cls]} ${b.score.toFixed(4)} ${b.x1.toFixed(1)},${b.y1.toFixed(1)},${b.x2.toFixed(1)},${b.y2.toFixed(1)}`).sort();
      const have = got[f]!.map((b) => `${labels[b.cls]} ${b.score.toFixed(4)} ${b.x1.toFixed(1)},${b.y1.toFixed(1)},${b.x2.toFixed(1)},${b.y2.toFixed(1)}`).sort();
      expect(have, `frame ${f}`).toEqual(want);
      objects += want.length;
    }
    expect(objects).toBeGreaterThan(FRAMES);
  }, 300_000);
});
