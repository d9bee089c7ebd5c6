import { afterAll, describe, expect, test } from 'vitest';
import { OnnxSession, TensorData } from '../../src/inference/onnx-runtime.js';
import { dropoutMaskName, planNetwork } from '../../src/training/network.js';
import { Random } from '../../src/training/random.js';
import { timeSplit, trainModel, type TrainingData, type TrainingProgress } from '../../src/training/trainer.js';
import { buildTrainingGraph, IO } from '../../src/training/training-graph.js';

/** Noisy frames with 0..maxObjects bright squares; label = number of squares. */
function synthetic(n: number, size: number, maxObjects: number, seed: number): TrainingData {
  const rng = new Random(seed);
  const frameSize = size * size * 3;
  const images = new Uint8Array(n * frameSize);
  const labels = new Int32Array(n);
  for (let f = 0; f < n; f++) {
    const off = f * frameSize;
    for (let j = 0; j < frameSize; j++) images[off + j] = 60 + Math.floor(rng.next() * 60) + (j % (size * 3)) / 6;
    const objects = Math.floor(rng.next() * (maxObjects + 1));
    labels[f] = objects;
    for (let o = 0; o < objects; o++) {
      const s = 5;
      const x0 = o * Math.floor(size / maxObjects) + Math.floor(rng.next() * (Math.floor(size / maxObjects) - s));
      const y0 = Math.floor(rng.next() * (size - s));
      for (let y = y0; y < y0 + s; y++) for (let x = x0; x < x0 + s; x++) images.set([230, 200, 40], off + (y * size + x) * 3);
    }
  }
  return { images, width: size, height: size, labels, frames: Int32Array.from({ length: n }, (_, i) => i * 3) };
}

const sessions: OnnxSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.dispose();
});

describe('trainModel', () => {
  const data = synthetic(600, 32, 1, 1);
  const options = { task: { kind: 'presence' }, seed: 42, maxEpochs: 8, threads: 2 } as const;

  test('learns presence; held-out = the later time blocks; progress is reported', async () => {
    const progress: TrainingProgress[] = [];
    const model = await trainModel(data, { ...options, onProgress: (p) => progress.push(p) });
    const { metrics, manifest } = model;
    expect(metrics.heldOut.accuracy).toBeGreaterThan(0.95);
    expect(metrics.heldOut.frames + metrics.validation.frames + metrics.trainFrames).toBe(600);
    const f = manifest.training.frames;
    const lastEarlier = Math.max(...[...f.train, ...f.validation].map((s) => s.end));
    expect(lastEarlier).toBeLessThanOrEqual(f.test[0]!.start);
    expect(f.test).toHaveLength(1);
    expect(f.validation.length).toBeGreaterThan(1);
    expect(metrics.heldOut.confusion!.flat().reduce((a, b) => a + b, 0)).toBe(metrics.heldOut.frames);
    expect(progress.length).toBeGreaterThan(metrics.epochs);
    expect(progress.filter((p) => p.validationLoss !== undefined)).toHaveLength(metrics.epochs);
    expect(manifest.input).toEqual({ name: 'frames', type: 'uint8', layout: 'NHWC', channels: 'RGB', width: 32, height: 32 });
    expect(manifest.output.name).toBe('probability');
    expect(model.timing.imagesPerSecond).toBeGreaterThan(0);
  });

  test('stops at the next step when its AbortSignal fires (Ctrl-C during a cold query)', async () => {
    const controller = new AbortController();
    let steps = 0;
    const run = trainModel(data, {
      ...options,
      maxEpochs: 40,
      signal: controller.signal,
      onProgress: (p) => {
        steps++;
        if (p.epoch === 1 && p.step === 3) controller.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'INTERRUPTED' });
    // Aborted in the first epoch: no further steps ran (no validation pass either).
    expect(steps).toBe(3);
  });

  test('a fixed seed gives the same model bit for bit; another seed does not', async () => {
    const a = await trainModel(data, { ...options, maxEpochs: 2 });
    const b = await trainModel(data, { ...options, maxEpochs: 2 });
    const c = await trainModel(data, { ...options, maxEpochs: 2, seed: 43 });
    expect(Buffer.from(a.onnx).equals(Buffer.from(b.onnx))).toBe(true);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(b.params.buffer))).toBe(true);
    expect(Buffer.from(a.params.buffer).equals(Buffer.from(c.params.buffer))).toBe(false);
  });

  test('the exported model, run through OnnxSession, gives the training graph forward outputs', async () => {
    const model = await trainModel(data, { ...options, maxEpochs: 1 });
    const plan = planNetwork(model.spec);
    const B = 16;
    const frames = { type: 'uint8' as const, data: data.images.subarray(0, B * 32 * 32 * 3), dims: [B, 32, 32, 3] };
    const step = await OnnxSession.create(buildTrainingGraph(model.spec, model.normalization, { kind: 'sgd' }));
    const exported = await OnnxSession.create(model.onnx);
    sessions.push(step, exported);
    const P = plan.paramCount;
    const feeds: Record<string, TensorData> = {
      [IO.frames]: frames,
      [IO.labels]: TensorData.float32(new Float32Array(B), [B, 1]),
      [IO.weights]: TensorData.float32(new Float32Array(B).fill(1 / B), [B]),
      [IO.params]: TensorData.float32(model.params, [P]),
      [IO.stateM]: TensorData.float32(new Float32Array(P), [P]),
      [IO.lr]: TensorData.float32(Float32Array.of(0), []),
    };
    for (const layer of plan.layers) {
      if (layer.spec.kind === 'dropout') feeds[dropoutMaskName(layer)] = TensorData.float32(new Float32Array(B * layer.inShape[0]!).fill(1), [B, ...layer.inShape]);
    }
    const trained = (await step.run(feeds)).probability!.data as Float32Array;
    const served = (await exported.run({ frames })).probability!.data as Float32Array;
    expect(served).toHaveLength(B);
    for (let i = 0; i < B; i++) expect(served[i]).toBeCloseTo(trained[i]!, 5);
    expect(exported.inputs[0]).toMatchObject({ name: 'frames', type: 'uint8' });
  });

  test('a count model beats predicting the mean count', async () => {
    const counts = synthetic(900, 32, 3, 2);
    const model = await trainModel(counts, { task: { kind: 'count', maxCount: 4 }, seed: 1, maxEpochs: 15, threads: 2 });
    const h = model.metrics.heldOut;
    expect(model.manifest.output).toMatchObject({ name: 'count_probabilities', shape: ['N', 5] });
    expect(h.meanAbsoluteError!).toBeLessThan(0.5 * h.baselineMeanAbsoluteError!);
  });

  test('SGD with momentum and a regression task run end to end', async () => {
    const model = await trainModel(synthetic(300, 32, 2, 3), { task: { kind: 'regression' }, optimizer: { kind: 'sgd', momentum: 0.9, weightDecay: 1e-4 }, learningRate: 0.005, seed: 1, maxEpochs: 6, threads: 2 });
    expect(model.manifest.output.name).toBe('value');
    expect(model.metrics.heldOut.meanAbsoluteError!).toBeLessThan(model.metrics.heldOut.baselineMeanAbsoluteError!);
  });
});

test('timeSplit: the later blocks are held out; validation blocks are spread over the earlier span', () => {
  const frames = Int32Array.from({ length: 100 }, (_, i) => (i * 37) % 100); // 0..99, shuffled
  const s = timeSplit(frames, { blocks: 10, validation: 0.2, test: 0.2 });
  const pick = (idx: Int32Array) => Array.from(idx, (i) => frames[i]!);
  expect(pick(s.test)).toEqual(Array.from({ length: 20 }, (_, i) => 80 + i));
  // 8 earlier blocks of 10 frames, 2 of them (evenly spaced) for validation.
  expect(pick(s.validation)).toEqual([...Array.from({ length: 10 }, (_, i) => 30 + i), ...Array.from({ length: 10 }, (_, i) => 70 + i)]);
  expect(s.train).toHaveLength(60);
  expect(timeSplit(frames, { blocks: 10, validation: 0, test: 0 }).train).toHaveLength(100);
});
