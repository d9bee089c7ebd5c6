import { ModelError } from '../errors.js';
import type { FrameBatch } from '../video/frame.js';
import { OnnxSession } from './onnx-runtime.js';

/**
 * A trained specialized model (see src/training) loaded for inference: uint8 RGB frames in, one
 * score per frame out: the probability of presence, or the expected object count.
 */
export class SpecializedModel {
  private constructor(
    private readonly session: OnnxSession,
    readonly width: number,
    readonly height: number,
    private readonly output: string,
  ) {}

  static async load(onnx: Uint8Array, options: { threads?: number } = {}): Promise<SpecializedModel> {
    const session = await OnnxSession.create(onnx, options.threads ? { intraOpThreads: options.threads } : {});
    const input = session.inputs.find((i) => i.name === 'frames');
    const shape = input?.shape;
    const height = Number(shape?.[1]);
    const width = Number(shape?.[2]);
    if (!input || !(width > 0 && height > 0) || Number(shape?.[3]) !== 3) {
      await session.dispose();
      throw new ModelError('MODEL_SHAPE_MISMATCH', `specialized model input must be 'frames' [N,H,W,3], got ${JSON.stringify(session.inputs)}`);
    }
    const output = session.outputs[0]!.name;
    return new SpecializedModel(session, width, height, output);
  }

  /** One score per frame of the batch (frames must be at the model's size). */
  async score(batch: FrameBatch, indices?: readonly number[]): Promise<Float32Array> {
    if (batch.width !== this.width || batch.height !== this.height) {
      throw new ModelError('MODEL_SHAPE_MISMATCH', `specialized model expects ${this.width}x${this.height} frames, got ${batch.width}x${batch.height}`);
    }
    const size = this.width * this.height * 3;
    let data = batch.data.subarray(0, batch.count * size);
    let count = batch.count;
    if (indices) {
      count = indices.length;
      if (count === 0) return new Float32Array(0);
      const packed = new Uint8Array(count * size);
      indices.forEach((i, k) => packed.set(batch.data.subarray(i * size, (i + 1) * size), k * size));
      data = packed;
    }
    const out = (await this.session.run({ frames: { type: 'uint8', data, dims: [count, this.height, this.width, 3] } }))[this.output]!;
    const values = out.data as Float32Array;
    if (out.dims.length === 1 || out.dims[1] === 1) return Float32Array.from(values);
    // Count buckets: the expected count.
    const k = out.dims[1]!;
    const scores = new Float32Array(count);
    for (let n = 0; n < count; n++) {
      let e = 0;
      for (let j = 0; j < k; j++) e += j * values[n * k + j]!;
      scores[n] = e;
    }
    return scores;
  }

  dispose(): Promise<void> {
    return this.session.dispose();
  }
}
