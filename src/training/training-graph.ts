/**
 * Builds the ONNX graphs of training: one training step (forward, loss, backward, optimizer
 * update), a loss-and-gradient graph (for gradient checks), and the inference graph that is both
 * the evaluation graph during training (parameters fed) and the exported model (parameters baked).
 *
 * Parameters and optimizer state travel as flat float32 vectors (`params`, `state_m`, `state_v`)
 * in and out of every step, so one step is one `run` with a handful of inputs whatever the
 * network's depth.
 */
import { GraphBuilder, type Dim } from './onnx-graph.js';
import { emitBackward, emitForward, planNetwork, type NetworkPlan, type NetworkSpec, type Normalization, type ParamInfo } from './network.js';

export type OptimizerSpec =
  | { readonly kind: 'sgd'; readonly momentum?: number; readonly weightDecay?: number }
  /** Adam with decoupled weight decay (AdamW). */
  | { readonly kind: 'adam'; readonly beta1?: number; readonly beta2?: number; readonly epsilon?: number; readonly weightDecay?: number };

/** Graph input and output names shared by the trainer and the tests. */
export const IO = Object.freeze({
  frames: 'frames',
  labels: 'labels',
  weights: 'weights',
  params: 'params',
  stateM: 'state_m',
  stateV: 'state_v',
  lr: 'lr',
  biasCorrection1: 'bias_correction1',
  biasCorrection2: 'bias_correction2',
  loss: 'loss',
  grad: 'grad',
  paramsOut: 'params_out',
  stateMOut: 'state_m_out',
  stateVOut: 'state_v_out',
});

/** The inference output's name and shape for a loss kind. */
export function headOutput(plan: NetworkPlan): { readonly name: string; readonly dims: readonly Dim[] } {
  switch (plan.spec.loss) {
    case 'sigmoid-bce':
      return { name: 'probability', dims: ['N'] };
    case 'softmax-ce':
      return { name: 'count_probabilities', dims: ['N', plan.outputs] };
    case 'mse':
      return { name: 'value', dims: ['N', plan.outputs] };
  }
}

function emitHead(g: GraphBuilder, plan: NetworkPlan, logits: string): void {
  const { name, dims } = headOutput(plan);
  if (plan.spec.loss === 'sigmoid-bce') g.op1('Reshape', [g.op1('Sigmoid', [logits]), g.ints([-1])], {}, name);
  else if (plan.spec.loss === 'softmax-ce') g.op1('Softmax', [logits], { axis: 1 }, name);
  else g.op1('Identity', [logits], {}, name);
  g.output(name, 'float32', dims);
}

/** Frames input: uint8 RGB, NHWC, at the network's input size. */
function framesInput(g: GraphBuilder, plan: NetworkPlan): string {
  return g.input(IO.frames, 'uint8', ['N', plan.spec.height, plan.spec.width, 3]);
}

function flatParams(g: GraphBuilder, plan: NetworkPlan): (p: ParamInfo) => string {
  const flat = g.input(IO.params, 'float32', [plan.paramCount]);
  const names = new Map<string, string>();
  for (const p of plan.params) {
    const slice = g.op1('Slice', [flat, g.ints([p.offset]), g.ints([p.offset + p.size]), g.ints([0])]);
    names.set(p.name, g.op1('Reshape', [slice, g.ints(p.shape)], {}, p.name));
  }
  return (p) => names.get(p.name)!;
}

/**
 * Loss over the batch and its gradient with respect to the logits. `labels` is [N, D] (0/1 for
 * sigmoid-bce, one-hot buckets for softmax-ce, targets for mse); `weights` is [N] and should sum to
 * 1 over the batch, so the loss is a weighted mean.
 */
function emitLoss(g: GraphBuilder, plan: NetworkPlan, z: string): { loss: string; dz: string } {
  const y = g.input(IO.labels, 'float32', ['N', plan.outputs]);
  const w = g.op1('Unsqueeze', [g.input(IO.weights, 'float32', ['N']), g.ints([1])]);
  let perSample: string;
  let dz: string;
  switch (plan.spec.loss) {
    case 'sigmoid-bce': {
      // max(z, 0) - z*y + log(1 + exp(-|z|)): stable for any z.
      const soft = g.op1('Log', [g.op1('Add', [g.scalar(1), g.op1('Exp', [g.op1('Neg', [g.op1('Abs', [z])])])])]);
      perSample = g.op1('Add', [g.op1('Sub', [g.op1('Relu', [z]), g.op1('Mul', [z, y])]), soft]);
      dz = g.op1('Mul', [w, g.op1('Sub', [g.op1('Sigmoid', [z]), y])]);
      break;
    }
    case 'softmax-ce': {
      const logp = g.op1('LogSoftmax', [z], { axis: 1 });
      perSample = g.op1('Neg', [g.op1('ReduceSum', [g.op1('Mul', [y, logp]), g.ints([1])], { keepdims: 1 })]);
      dz = g.op1('Mul', [w, g.op1('Sub', [g.op1('Exp', [logp]), y])]);
      break;
    }
    case 'mse': {
      const d = g.op1('Sub', [z, y]);
      perSample = g.op1('ReduceMean', [g.op1('Mul', [d, d])], { axes: [1], keepdims: 1 });
      dz = g.op1('Mul', [w, g.op1('Mul', [d, g.scalar(2 / plan.outputs)])]);
      break;
    }
  }
  const loss = g.op1('ReduceSum', [g.op1('Mul', [w, perSample])], { keepdims: 0 }, IO.loss);
  g.output(IO.loss, 'float32', []);
  return { loss, dz };
}

function emitGradients(g: GraphBuilder, plan: NetworkPlan, norm: Normalization, name: string): { params: string; grad: string } {
  const frames = framesInput(g, plan);
  const param = flatParams(g, plan);
  const forward = emitForward(g, plan, frames, norm, param, true);
  emitHead(g, plan, forward.logits);
  const { dz } = emitLoss(g, plan, forward.logits);
  const grads = emitBackward(g, plan, forward, dz, param);
  const grad = g.op1('Concat', grads.map((gr) => g.op1('Reshape', [gr, g.ints([-1])])), { axis: 0 }, name);
  return { params: IO.params, grad };
}

/**
 * Loss and flat gradient (`grad`, same layout as `params`) for one batch; used by the
 * finite-difference checks. Inputs: frames, labels, weights, params, one mask per dropout layer.
 */
export function buildGradientGraph(spec: NetworkSpec, norm: Normalization): Uint8Array {
  const plan = planNetwork(spec);
  const g = new GraphBuilder('sieve_gradient');
  emitGradients(g, plan, norm, IO.grad);
  g.output(IO.grad, 'float32', [plan.paramCount]);
  return g.toBytes();
}

/**
 * One training step: inputs frames, labels, weights, params, optimizer state (`state_m`, and
 * `state_v` for Adam), `lr` (and for Adam `bias_correction1` = 1/(1-beta1^t),
 * `bias_correction2` = 1/(1-beta2^t)), one mask per dropout layer; outputs loss, the head output
 * of the forward pass, and the updated params and state.
 */
export function buildTrainingGraph(spec: NetworkSpec, norm: Normalization, optimizer: OptimizerSpec): Uint8Array {
  const plan = planNetwork(spec);
  const g = new GraphBuilder('sieve_training_step');
  const { params, grad } = emitGradients(g, plan, norm, 'grad_flat');
  const P = plan.paramCount;
  const m = g.input(IO.stateM, 'float32', [P]);
  const lr = g.input(IO.lr, 'float32', []);
  const wd = optimizer.weightDecay ?? 0;
  const decayMask = (): string => {
    const mask = new Float32Array(P);
    for (const p of plan.params) if (p.decay) mask.fill(1, p.offset, p.offset + p.size);
    return g.constant(mask, [P], 'decay_mask');
  };
  if (optimizer.kind === 'sgd') {
    // PyTorch semantics: g += wd*p; v = mu*v + g; p -= lr*v.
    const gr = wd > 0 ? g.op1('Add', [grad, g.op1('Mul', [g.op1('Mul', [decayMask(), g.scalar(wd)]), params])]) : grad;
    const v = g.op1('Add', [g.op1('Mul', [m, g.scalar(optimizer.momentum ?? 0.9)]), gr], {}, IO.stateMOut);
    g.op1('Sub', [params, g.op1('Mul', [v, lr])], {}, IO.paramsOut);
  } else {
    const b1 = optimizer.beta1 ?? 0.9;
    const b2 = optimizer.beta2 ?? 0.999;
    const v = g.input(IO.stateV, 'float32', [P]);
    const bc1 = g.input(IO.biasCorrection1, 'float32', []);
    const bc2 = g.input(IO.biasCorrection2, 'float32', []);
    const m1 = g.op1('Add', [g.op1('Mul', [m, g.scalar(b1)]), g.op1('Mul', [grad, g.scalar(1 - b1)])], {}, IO.stateMOut);
    const v1 = g.op1('Add', [g.op1('Mul', [v, g.scalar(b2)]), g.op1('Mul', [g.op1('Mul', [grad, grad]), g.scalar(1 - b2)])], {}, IO.stateVOut);
    const denom = g.op1('Add', [g.op1('Sqrt', [g.op1('Mul', [v1, bc2])]), g.scalar(optimizer.epsilon ?? 1e-8)]);
    let step = g.op1('Div', [g.op1('Mul', [m1, bc1]), denom]);
    // Decoupled decay: p -= lr * (update + wd*p) on weights.
    if (wd > 0) step = g.op1('Add', [step, g.op1('Mul', [g.op1('Mul', [decayMask(), g.scalar(wd)]), params])]);
    g.op1('Sub', [params, g.op1('Mul', [step, lr])], {}, IO.paramsOut);
    g.output(IO.stateVOut, 'float32', [P]);
  }
  g.output(IO.paramsOut, 'float32', [P]);
  g.output(IO.stateMOut, 'float32', [P]);
  return g.toBytes();
}

/**
 * The inference graph: uint8 RGB NHWC frames in, the head output out (`probability` [N] for
 * presence, `count_probabilities` [N, K+1] for counts, `value` [N, D] for regression). With
 * `params`, the weights are baked in as initializers (the exported model); without, they are the
 * `params` input (evaluation during training).
 */
export function buildInferenceGraph(spec: NetworkSpec, norm: Normalization, params?: Float32Array, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const plan = planNetwork(spec);
  const g = new GraphBuilder('sieve_specialized_model');
  const frames = framesInput(g, plan);
  const param = params
    ? (p: ParamInfo) => g.constant(params.slice(p.offset, p.offset + p.size), p.shape, p.name)
    : flatParams(g, plan);
  if (params && params.length !== plan.paramCount) throw new RangeError(`expected ${plan.paramCount} parameters, got ${params.length}`);
  const forward = emitForward(g, plan, frames, norm, param, false);
  emitHead(g, plan, forward.logits);
  return g.toBytes(metadata);
}
