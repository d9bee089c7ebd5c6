import { expect, test } from 'vitest';
import { measureInferenceCost, NOSCOPE_SEARCH_SPACE, searchArchitectures } from '../../src/training/architecture-search.js';
import { planNetwork } from '../../src/training/network.js';
import { Random } from '../../src/training/random.js';
import { noScopeLayers, type TrainingData } from '../../src/training/trainer.js';

/** Frames with a bright square in half of them, at any size. */
function squares(size: number): TrainingData {
  const n = 300;
  const rng = new Random(size);
  const fs = size * size * 3;
  const images = new Uint8Array(n * fs);
  const labels = new Int32Array(n);
  for (let f = 0; f < n; f++) {
    for (let j = 0; j < fs; j++) images[f * fs + j] = 80 + Math.floor(rng.next() * 50);
    if ((labels[f] = rng.next() < 0.5 ? 1 : 0)) {
      const s = Math.round(size / 6);
      const x0 = Math.floor(rng.next() * (size - s));
      const y0 = Math.floor(rng.next() * (size - s));
      for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) images.set([240, 240, 240], f * fs + (y * size + x) * 3);
    }
  }
  return { images, width: size, height: size, labels, frames: Int32Array.from({ length: n }, (_, i) => i) };
}

test('the NoScope search space has 81 valid candidates', () => {
  expect(NOSCOPE_SEARCH_SPACE).toHaveLength(81);
  for (const a of NOSCOPE_SEARCH_SPACE) {
    const plan = planNetwork({ width: a.inputSize, height: a.inputSize, loss: 'sigmoid-bce', layers: noScopeLayers(a, 1) });
    expect(plan.paramCount).toBeGreaterThan(0);
  }
});

test('search reports held-out accuracy and measured cost per candidate', async () => {
  const candidates = [
    { convBlocks: 1, baseFilters: 16, dense: 32, inputSize: 32 },
    { convBlocks: 2, baseFilters: 16, dense: 32, inputSize: 50 },
    { convBlocks: 3, baseFilters: 32, dense: 64, inputSize: 64 },
  ];
  const asked: number[] = [];
  const done: number[] = [];
  const results = await searchArchitectures(
    (size) => {
      asked.push(size);
      return squares(size);
    },
    { task: { kind: 'presence' }, candidates, seed: 3, maxEpochs: 6, threads: 2, onCandidate: (_, d) => done.push(d) },
  );
  expect(asked).toEqual([32, 50, 64]);
  expect(done).toEqual([1, 2, 3]);
  expect(results.map((r) => r.architecture)).toEqual(candidates);
  for (const r of results) {
    expect(r.heldOutAccuracy).toBeGreaterThan(0.8);
    expect(r.secondsPerFrame).toBeGreaterThan(0);
    expect(r.model.manifest.input.width).toBe(r.architecture.inputSize);
  }
  // The biggest net costs more per frame than the smallest.
  expect(results[2]!.secondsPerFrame).toBeGreaterThan(results[0]!.secondsPerFrame);
}, 120_000);

test('measureInferenceCost times the exported model', async () => {
  const [r] = await searchArchitectures(squares, { task: { kind: 'presence' }, candidates: [{ convBlocks: 1, baseFilters: 16, dense: 32, inputSize: 32 }], maxEpochs: 1, threads: 2 });
  const s = await measureInferenceCost(r!.model.onnx, 32, 32, { batchSize: 8, minSeconds: 0.05 });
  expect(s).toBeGreaterThan(0);
  expect(s).toBeLessThan(0.05);
});
