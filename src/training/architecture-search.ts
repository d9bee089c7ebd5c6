/**
 * NoScope's architecture search: train each candidate network, then report its held-out accuracy
 * and its inference cost per frame measured on this machine. Results are plain data for the
 * catalog; nothing is stored here.
 */
import { OnnxSession } from '../inference/onnx-runtime.js';
import { planNetwork } from './network.js';
import { Random } from './random.js';
import { noScopeLayers, taskOutputs, trainModel, type Architecture, type TrainedModel, type TrainingData, type TrainingProgress, type TrainOptions } from './trainer.js';

/** 1-3 conv blocks x 16/32/64 base filters x dense 32/64/128 x input 32/50/64 px (81 candidates). */
export const NOSCOPE_SEARCH_SPACE: readonly Architecture[] = Object.freeze(
  [32, 50, 64].flatMap((inputSize) =>
    [1, 2, 3].flatMap((convBlocks) => [16, 32, 64].flatMap((baseFilters) => [32, 64, 128].map((dense) => Object.freeze({ convBlocks, baseFilters, dense, inputSize })))),
  ),
);

export interface ArchitectureResult {
  readonly architecture: Architecture;
  readonly heldOutAccuracy: number;
  readonly heldOutLoss: number;
  /** Inference seconds per frame of the exported model through `OnnxSession`, on this machine. */
  readonly secondsPerFrame: number;
  readonly parameterCount: number;
  readonly model: TrainedModel;
}

export interface SearchOptions extends Omit<TrainOptions, 'architecture' | 'layers' | 'onProgress'> {
  /** Default {@link NOSCOPE_SEARCH_SPACE}. */
  readonly candidates?: readonly Architecture[];
  /** Batch size the inference cost is measured at (default 64). */
  readonly costBatchSize?: number;
  readonly onProgress?: (candidate: number, candidates: number, progress: TrainingProgress) => void;
  readonly onCandidate?: (result: ArchitectureResult, done: number, candidates: number) => void;
}

/**
 * Trains every candidate on frames at its input size (`frames(size)` is asked once per size) and
 * measures each exported model's cost per frame.
 *
 * @example
 * const results = await searchArchitectures((size) => decodeLabelled(video, size), { task: { kind: 'presence' }, seed: 1 });
 * const cheapest = results.filter((r) => r.heldOutAccuracy >= 0.95).sort((a, b) => a.secondsPerFrame - b.secondsPerFrame)[0];
 */
export async function searchArchitectures(frames: (size: number) => TrainingData | Promise<TrainingData>, options: SearchOptions): Promise<ArchitectureResult[]> {
  const { candidates = NOSCOPE_SEARCH_SPACE, costBatchSize = 64, onProgress, onCandidate, ...train } = options;
  const bySize = new Map<number, TrainingData>();
  const results: ArchitectureResult[] = [];
  for (const [i, architecture] of candidates.entries()) {
    let data = bySize.get(architecture.inputSize);
    if (!data) {
      data = await frames(architecture.inputSize);
      if (data.width !== architecture.inputSize || data.height !== architecture.inputSize) {
        throw new RangeError(`frames(${architecture.inputSize}) returned ${data.width}x${data.height} frames`);
      }
      bySize.set(architecture.inputSize, data);
    }
    const model = await trainModel(data, {
      ...train,
      layers: noScopeLayers(architecture, taskOutputs(train.task), train.dropout ?? 0.5),
      ...(onProgress ? { onProgress: (p: TrainingProgress) => onProgress(i, candidates.length, p) } : {}),
    });
    const secondsPerFrame = await measureInferenceCost(model.onnx, architecture.inputSize, architecture.inputSize, { batchSize: costBatchSize, ...(train.threads ? { threads: train.threads } : {}) });
    const result: ArchitectureResult = {
      architecture,
      heldOutAccuracy: model.metrics.heldOut.accuracy,
      heldOutLoss: model.metrics.heldOut.loss,
      secondsPerFrame,
      parameterCount: planNetwork(model.spec).paramCount,
      model,
    };
    results.push(result);
    onCandidate?.(result, i + 1, candidates.length);
  }
  return results;
}

/**
 * Seconds per frame of an exported model run through `OnnxSession` on batches of `batchSize`
 * frames (after two warm-up runs, for at least `minSeconds`).
 */
export async function measureInferenceCost(
  onnx: Uint8Array,
  width: number,
  height: number,
  options: { readonly batchSize?: number; readonly threads?: number; readonly minSeconds?: number } = {},
): Promise<number> {
  const batchSize = options.batchSize ?? 64;
  const session = await OnnxSession.create(onnx, options.threads ? { intraOpThreads: options.threads } : {});
  try {
    const rng = new Random(1);
    const data = Uint8Array.from({ length: batchSize * width * height * 3 }, () => Math.floor(rng.next() * 256));
    const feeds = { frames: { type: 'uint8' as const, data, dims: [batchSize, height, width, 3] } };
    for (let i = 0; i < 2; i++) await session.run(feeds);
    const minMs = (options.minSeconds ?? 0.3) * 1000;
    let runs = 0;
    const start = performance.now();
    while (runs < 3 || performance.now() - start < minMs) {
      await session.run(feeds);
      runs++;
    }
    return (performance.now() - start) / 1000 / (runs * batchSize);
  } finally {
    await session.dispose();
  }
}
