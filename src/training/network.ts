/**
 * Network description, parameter layout and the forward / hand-derived backward passes emitted as
 * standard ONNX ops. Activations are NCHW float32; the batch dimension is symbolic (`N`).
 */
import type { GraphBuilder } from './onnx-graph.js';
import { Random } from './random.js';

export type LayerSpec =
  | { readonly kind: 'conv2d'; readonly filters: number; readonly kernel: number; readonly stride?: number; readonly padding?: number }
  | { readonly kind: 'relu' }
  | { readonly kind: 'maxpool'; readonly kernel: number; readonly stride?: number }
  | { readonly kind: 'global-avg-pool' }
  | { readonly kind: 'flatten' }
  | { readonly kind: 'dense'; readonly units: number }
  | { readonly kind: 'dropout'; readonly rate: number };

/**
 * What the network's last dense layer feeds: `sigmoid-bce` (one logit, presence), `softmax-ce`
 * (one logit per count bucket 0..K), `mse` (regression, identity output).
 */
export type LossKind = 'sigmoid-bce' | 'softmax-ce' | 'mse';

export interface NetworkSpec {
  /** Input frame size in pixels (frames are RGB, 3 channels). */
  readonly width: number;
  readonly height: number;
  /** Layers in order; the last one is a `dense` layer giving the outputs. */
  readonly layers: readonly LayerSpec[];
  readonly loss: LossKind;
}

/** Mean-image subtraction then scaling, applied inside every graph: `(x - mean) * scale`. */
export interface Normalization {
  /** Mean image, H x W x 3 (RGB, HWC), in 0..255 units. */
  readonly mean: Float32Array;
  readonly scale: number;
}

/** One parameter tensor's place in the flat parameter vector. */
export interface ParamInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  /** Weight decay applies to weights, not biases. */
  readonly decay: boolean;
  /** Fan-in, for initialisation. */
  readonly fanIn: number;
}

/** Activation shape without the batch dimension: [C, H, W] or [F]. */
export type Shape = readonly number[];

export interface LayerPlan {
  readonly spec: LayerSpec;
  readonly index: number;
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly params: readonly ParamInfo[];
}

export interface NetworkPlan {
  readonly spec: NetworkSpec;
  readonly layers: readonly LayerPlan[];
  readonly params: readonly ParamInfo[];
  readonly paramCount: number;
  /** Outputs of the last layer (1 for presence, K+1 for count buckets). */
  readonly outputs: number;
}

/** Checks a spec and computes every layer's shapes and the flat parameter layout. */
export function planNetwork(spec: NetworkSpec): NetworkPlan {
  let shape: Shape = [3, spec.height, spec.width];
  let offset = 0;
  const params: ParamInfo[] = [];
  const add = (name: string, dims: number[], decay: boolean, fanIn: number): ParamInfo => {
    const size = dims.reduce((a, b) => a * b, 1);
    const p = { name, shape: dims, offset, size, decay, fanIn };
    offset += size;
    params.push(p);
    return p;
  };
  const layers = spec.layers.map((layer, index): LayerPlan => {
    const inShape = shape;
    let own: ParamInfo[] = [];
    switch (layer.kind) {
      case 'conv2d': {
        const [c, h, w] = spatial(inShape, layer.kind, index);
        const s = layer.stride ?? 1;
        const p = layer.padding ?? 0;
        const k = layer.kernel;
        const ho = Math.floor((h + 2 * p - k) / s) + 1;
        const wo = Math.floor((w + 2 * p - k) / s) + 1;
        if (ho < 1 || wo < 1) throw new RangeError(`layer ${index} (conv2d): a ${k}x${k} kernel does not fit a ${h}x${w} input`);
        own = [add(`conv${index}.weight`, [layer.filters, c, k, k], true, c * k * k), add(`conv${index}.bias`, [layer.filters], false, c * k * k)];
        shape = [layer.filters, ho, wo];
        break;
      }
      case 'maxpool': {
        const [c, h, w] = spatial(inShape, layer.kind, index);
        const s = layer.stride ?? layer.kernel;
        const ho = Math.floor((h - layer.kernel) / s) + 1;
        const wo = Math.floor((w - layer.kernel) / s) + 1;
        if (ho < 1 || wo < 1) throw new RangeError(`layer ${index} (maxpool): a ${layer.kernel}x${layer.kernel} window does not fit a ${h}x${w} input`);
        shape = [c, ho, wo];
        break;
      }
      case 'global-avg-pool':
        shape = [spatial(inShape, layer.kind, index)[0]];
        break;
      case 'flatten':
        shape = [inShape.reduce((a, b) => a * b, 1)];
        break;
      case 'dense': {
        if (inShape.length !== 1) throw new RangeError(`layer ${index} (dense) needs a flat input; add a 'flatten' or 'global-avg-pool' layer before it`);
        own = [add(`dense${index}.weight`, [layer.units, inShape[0]!], true, inShape[0]!), add(`dense${index}.bias`, [layer.units], false, inShape[0]!)];
        shape = [layer.units];
        break;
      }
      case 'dropout':
        if (!(layer.rate >= 0 && layer.rate < 1)) throw new RangeError(`layer ${index} (dropout): rate must be in [0, 1)`);
        break;
      case 'relu':
        break;
    }
    return { spec: layer, index, inShape, outShape: shape, params: own };
  });
  const last = spec.layers[spec.layers.length - 1];
  if (!last || last.kind !== 'dense') throw new RangeError('the last layer must be a dense layer giving the outputs');
  if (spec.loss === 'sigmoid-bce' && last.units !== 1) throw new RangeError('sigmoid-bce needs a last dense layer with 1 unit');
  if (spec.loss === 'softmax-ce' && last.units < 2) throw new RangeError('softmax-ce needs a last dense layer with K+1 >= 2 units');
  return { spec, layers, params, paramCount: offset, outputs: last.units };
}

function spatial(shape: Shape, kind: string, index: number): [number, number, number] {
  if (shape.length !== 3) throw new RangeError(`layer ${index} (${kind}) needs a C x H x W input, got [${shape.join(', ')}]`);
  return shape as [number, number, number];
}

/** He-normal weights, zero biases, from a seeded PRNG. */
export function initParams(plan: NetworkPlan, seed: number): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(plan.paramCount);
  for (const p of plan.params) {
    if (!p.decay) continue;
    const std = Math.sqrt(2 / p.fanIn);
    for (let i = 0; i < p.size; i++) out[p.offset + i] = rng.normal() * std;
  }
  return out;
}

/** Names of the graph values a layer's backward pass needs. */
interface LayerTrace {
  readonly input: string;
  readonly output: string;
  readonly indices?: string;
  readonly mask?: string;
}

export interface ForwardResult {
  readonly logits: string;
  readonly traces: readonly LayerTrace[];
}

/** Graph value names of the dropout masks fed to a training graph, one per dropout layer. */
export function dropoutMaskName(layer: LayerPlan): string {
  return `dropout_mask_${layer.index}`;
}

/**
 * Emits normalisation and the forward pass. `param(info)` names each parameter tensor in the
 * graph. With `training`, dropout layers multiply by a fed mask (already scaled by 1/(1-rate));
 * otherwise dropout is the identity.
 */
export function emitForward(g: GraphBuilder, plan: NetworkPlan, frames: string, norm: Normalization, param: (p: ParamInfo) => string, training: boolean): ForwardResult {
  const { width, height } = plan.spec;
  const mean = g.constant(norm.mean, [1, height, width, 3], 'mean_image');
  const centred = g.op1('Sub', [g.op1('Cast', [frames], { to: 1 }), mean]);
  let x = g.op1('Transpose', [g.op1('Mul', [centred, g.scalar(norm.scale)])], { perm: [0, 3, 1, 2] }, 'normalized');
  const traces: LayerTrace[] = [];
  for (const layer of plan.layers) {
    const input = x;
    const l = layer.spec;
    let indices: string | undefined;
    let mask: string | undefined;
    switch (l.kind) {
      case 'conv2d': {
        const s = l.stride ?? 1;
        const p = l.padding ?? 0;
        x = g.op1('Conv', [x, param(layer.params[0]!), param(layer.params[1]!)], { kernel_shape: [l.kernel, l.kernel], strides: [s, s], pads: [p, p, p, p] });
        break;
      }
      case 'relu':
        x = g.op1('Relu', [x]);
        break;
      case 'maxpool': {
        const s = l.stride ?? l.kernel;
        const attrs = { kernel_shape: [l.kernel, l.kernel], strides: [s, s] };
        if (training) [x, indices] = g.op('MaxPool', [x], attrs, 2) as [string, string];
        else x = g.op1('MaxPool', [x], attrs);
        break;
      }
      case 'global-avg-pool':
        x = g.op1('Flatten', [g.op1('GlobalAveragePool', [x])], { axis: 1 });
        break;
      case 'flatten':
        if (layer.inShape.length > 1) x = g.op1('Flatten', [x], { axis: 1 });
        break;
      case 'dense':
        x = g.op1('Gemm', [x, param(layer.params[0]!), param(layer.params[1]!)], { transB: 1 });
        break;
      case 'dropout':
        if (training && l.rate > 0) {
          mask = g.input(dropoutMaskName(layer), 'float32', ['N', ...layer.inShape]);
          x = g.op1('Mul', [x, mask]);
        }
        break;
    }
    traces.push({ input, output: x, ...(indices ? { indices } : {}), ...(mask ? { mask } : {}) });
  }
  return { logits: x, traces };
}

/**
 * Emits the backward pass from `dLogits`; returns each parameter's gradient value name, in
 * `plan.params` order.
 */
export function emitBackward(g: GraphBuilder, plan: NetworkPlan, forward: ForwardResult, dLogits: string, param: (p: ParamInfo) => string): string[] {
  const grads = new Map<string, string>();
  const firstWithParams = plan.layers.findIndex((l) => l.params.length > 0);
  let dy = dLogits;
  for (let i = plan.layers.length - 1; i >= firstWithParams; i--) {
    const layer = plan.layers[i]!;
    const { input, output, indices, mask } = forward.traces[i]!;
    const needInput = i > firstWithParams;
    const l = layer.spec;
    switch (l.kind) {
      case 'conv2d': {
        const [w, b] = layer.params as [ParamInfo, ParamInfo];
        const s = l.stride ?? 1;
        const p = l.padding ?? 0;
        const k = l.kernel;
        const [c, h, wd] = layer.inShape as [number, number, number];
        const rh = (h + 2 * p - k) % s;
        const rw = (wd + 2 * p - k) % s;
        grads.set(b.name, g.op1('ReduceSum', [dy, g.ints([0, 2, 3])], { keepdims: 0 }));
        // dW = dY x patches^T summed over batch and positions; patches (im2col) come from a grouped
        // convolution with one-hot kernels, so any stride and padding work unchanged.
        const patches = g.op1('Conv', [input, g.constant(patchKernel(c, k), [c * k * k, 1, k, k])], { group: c, kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p] });
        const cols = g.op1('Reshape', [g.op1('Transpose', [patches], { perm: [1, 0, 2, 3] }), g.ints([c * k * k, -1])]);
        const dyT = g.op1('Reshape', [g.op1('Transpose', [dy], { perm: [1, 0, 2, 3] }), g.ints([l.filters, -1])]);
        grads.set(w.name, g.op1('Reshape', [g.op1('Gemm', [dyT, cols], { transB: 1 }), g.ints(w.shape)]));
        if (needInput && s === 1 && p < k) {
          // Stride 1: dX is a plain convolution of dY with the flipped, transposed kernel (faster
          // than ConvTranspose in ONNX Runtime's CPU kernels).
          const flipped = g.op1('Slice', [g.op1('Transpose', [param(w)], { perm: [1, 0, 2, 3] }), g.ints([-1, -1]), g.ints([-k - 1, -k - 1]), g.ints([2, 3]), g.ints([-1, -1])]);
          const q = k - 1 - p;
          dy = g.op1('Conv', [dy, flipped], { kernel_shape: [k, k], pads: [q, q, q, q] });
        } else if (needInput) {
          dy = g.op1('ConvTranspose', [dy, param(w)], { kernel_shape: [k, k], strides: [s, s], pads: [p, p, p, p], output_padding: [rh, rw] });
        }
        break;
      }
      case 'relu':
        dy = g.op1('Where', [g.op1('Greater', [output, g.scalar(0)]), dy, g.scalar(0)]);
        break;
      case 'maxpool': {
        if (tiledPool(layer)) {
          // Windows tile the input, so every input element has at most one window: MaxUnpool puts
          // dY back at the argmax positions. A ReLU just before folds in at pooled resolution (at
          // an argmax the input is the max, so input > 0 exactly when the max is).
          const foldRelu = i - 1 > firstWithParams && plan.layers[i - 1]!.spec.kind === 'relu';
          if (foldRelu) dy = g.op1('Where', [g.op1('Greater', [output, g.scalar(0)]), dy, g.scalar(0)]);
          dy = g.op1('MaxUnpool', [dy, indices!, g.op1('Shape', [input])], { kernel_shape: [l.kernel, l.kernel], strides: [l.kernel, l.kernel] });
          if (foldRelu) i--;
          break;
        }
        const zeros = g.op1('Reshape', [g.op1('ConstantOfShape', [g.op1('Shape', [input])]), g.ints([-1])]);
        const flatIdx = g.op1('Reshape', [indices!, g.ints([-1])]);
        const flatDy = g.op1('Reshape', [dy, g.ints([-1])]);
        const scattered = g.op1('ScatterElements', [zeros, flatIdx, flatDy], { axis: 0, reduction: 'add' });
        dy = g.op1('Reshape', [scattered, g.op1('Shape', [input])]);
        break;
      }
      case 'global-avg-pool': {
        const [, h, wd] = layer.inShape as [number, number, number];
        const scaled = g.op1('Unsqueeze', [g.op1('Mul', [dy, g.scalar(1 / (h * wd))]), g.ints([2, 3])]);
        dy = g.op1('Expand', [scaled, g.op1('Shape', [input])]);
        break;
      }
      case 'flatten':
        if (layer.inShape.length > 1) dy = g.op1('Reshape', [dy, g.op1('Shape', [input])]);
        break;
      case 'dense': {
        const [w, b] = layer.params as [ParamInfo, ParamInfo];
        grads.set(b.name, g.op1('ReduceSum', [dy, g.ints([0])], { keepdims: 0 }));
        grads.set(w.name, g.op1('Gemm', [dy, input], { transA: 1 }));
        if (needInput) dy = g.op1('MatMul', [dy, param(w)]);
        break;
      }
      case 'dropout':
        if (mask) dy = g.op1('Mul', [dy, mask]);
        break;
    }
  }
  return plan.params.map((p) => grads.get(p.name)!);
}

/** One-hot kernels [C*k*k, 1, k, k] that copy each input pixel of a k x k window to its own channel. */
function patchKernel(channels: number, k: number): Float32Array {
  const kk = k * k;
  const out = new Float32Array(channels * kk * kk);
  for (let c = 0; c < channels; c++) for (let j = 0; j < kk; j++) out[(c * kk + j) * kk + j] = 1;
  return out;
}

/** A max-pool whose windows tile its input exactly (stride = kernel, sides divisible). */
function tiledPool(layer: LayerPlan): boolean {
  if (layer.spec.kind !== 'maxpool') return false;
  const k = layer.spec.kernel;
  return (layer.spec.stride ?? k) === k && layer.inShape[1]! % k === 0 && layer.inShape[2]! % k === 0;
}
