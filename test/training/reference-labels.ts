/**
 * Reference-detector labels for the real-data training tests, cached under
 * node_modules/.cache/sieve-test/ by video, model, score threshold and frame step, and the same
 * frames decoded small for training.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ReferenceDetector } from '../../src/inference/reference-detector.js';
import type { TrainingData } from '../../src/training/trainer.js';
import { decodeFrames, probeVideo } from '../../src/video/index.js';
import { dataDir, repoRoot, video } from '../helpers.js';

export const REFERENCE = 'yolo11n_int8dyn_640';
const CACHE = join(repoRoot, 'node_modules', '.cache', 'sieve-test');

export interface Labels {
  readonly frames: number[];
  /** Objects per labelled frame, by class name (classes never seen are absent). */
  readonly counts: Record<string, number[]>;
}

let detector: ReferenceDetector | undefined;

/** Releases the detector if labelling loaded it. */
export async function disposeDetector(): Promise<void> {
  await detector?.dispose();
  detector = undefined;
}

/** Reference-detector object counts (score >= 0.5) on every `step`-th frame, cached. */
export async function referenceLabels(name: string, step: number): Promise<Labels> {
  const file = join(CACHE, `labels-${name}-${REFERENCE}-score0.5-step${step}.json`);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as Labels;
  detector ??= await ReferenceDetector.load(REFERENCE, { dataDir, download: false, scoreThreshold: 0.5 });
  const path = video(name);
  const info = await probeVideo(path);
  const size = detector.decodeSize(info.width, info.height);
  const labels: Labels = { frames: [], counts: {} };
  for await (const batch of decodeFrames(path, { ...size, range: { step }, batchSize: 16 })) {
    const detections = await detector.detect(batch, info);
    for (let i = 0; i < batch.count; i++) {
      const at = labels.frames.length;
      labels.frames.push(batch.frames[i]!);
      for (const d of detections[i]!) {
        const counts = (labels.counts[detector.labels[d.classId]!] ??= []);
        while (counts.length <= at) counts.push(0);
        counts[at]!++;
      }
    }
  }
  for (const counts of Object.values(labels.counts)) while (counts.length < labels.frames.length) counts.push(0);
  mkdirSync(CACHE, { recursive: true });
  writeFileSync(file, JSON.stringify(labels));
  return labels;
}

/** The labelled frames at size x size RGB (squashed), with their counts of `className`. */
export async function trainingData(name: string, step: number, className: string, size = 64): Promise<TrainingData> {
  const labels = await referenceLabels(name, step);
  const images = new Uint8Array(labels.frames.length * size * size * 3);
  const frames = new Int32Array(labels.frames.length);
  let n = 0;
  for await (const batch of decodeFrames(video(name), { width: size, height: size, range: { step }, batchSize: 64 })) {
    images.set(batch.data, n * size * size * 3);
    frames.set(batch.frames, n);
    n += batch.count;
  }
  if (n !== labels.frames.length || frames.some((f, i) => f !== labels.frames[i])) throw new Error(`decoded frames of ${name} do not match the labelled ones`);
  const counts = labels.counts[className] ?? [];
  return { images, width: size, height: size, frames, labels: Int32Array.from(labels.frames, (_, i) => counts[i] ?? 0) };
}
