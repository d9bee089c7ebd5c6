/**
 * Finite-difference checks of every hand-derived backward rule, run as real ONNX graphs in
 * onnxruntime. Graphs are float32 (ORT's CPU Conv has no double kernel), so each parameter tensor
 * is checked along a few directions (central differences) against `grad · d`, with a tolerance
 * relative to the tensor's gradient norm.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { OnnxSession, TensorData } from '../../src/inference/onnx-runtime.js';
import { dropoutMaskName, initParams, planNetwork, type LayerSpec, type LossKind, type NetworkSpec, type NetworkPlan } from '../../src/training/network.js';
import { buildGradientGraph, buildTrainingGraph, IO } from '../../src/training/training-graph.js';
import { Random } from '../../src/training/random.js';

const N = 3;
const sessions: OnnxSession[] = [];
afterAll(async () => {
  for (const s of sessions) await s.dispose();
});

interface Case {
  readonly name: string;
  readonly size: [number, number];
  readonly layers: readonly LayerSpec[];
  readonly loss: LossKind;
}

const head = (loss: LossKind): number => (loss === 'sigmoid-bce' ? 1 : loss === 'softmax-ce' ? 4 : 2);

/** Every layer appears in a small net of its own; the last cases compose all of them. */
const CASES: Case[] = [
  { name: 'dense', size: [4, 3], loss: 'mse', layers: [{ kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  { name: 'conv2d stride 1 pad 1', size: [6, 6], loss: 'mse', layers: [{ kind: 'conv2d', filters: 3, kernel: 3, padding: 1 }, { kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  { name: 'conv2d stride 2 pad 0 (remainder 1)', size: [8, 7], loss: 'mse', layers: [{ kind: 'conv2d', filters: 3, kernel: 3, stride: 2 }, { kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  { name: 'conv2d input gradient (two convs, stride 2 pad 1)', size: [9, 9], loss: 'mse', layers: [{ kind: 'conv2d', filters: 3, kernel: 3, stride: 2, padding: 1 }, { kind: 'conv2d', filters: 4, kernel: 3, stride: 2, padding: 1 }, { kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  { name: 'relu', size: [6, 6], loss: 'mse', layers: [{ kind: 'conv2d', filters: 3, kernel: 3 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  { name: 'maxpool 2x2', size: [8, 8], loss: 'mse', layers: [{ kind: 'conv2d', filters: 3, kernel: 3, padding: 1 }, { kind: 'maxpool', kernel: 2 }, { kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  { name: 'maxpool 3x3 stride 2 (overlapping)', size: [9, 9], loss: 'mse', layers: [{ kind: 'conv2d', filters: 3, kernel: 3, padding: 1 }, { kind: 'maxpool', kernel: 3, stride: 2 }, { kind: 'flatten' }, { kind: 'dense', units: 2 }] },
  { name: 'global average pool', size: [6, 5], loss: 'mse', layers: [{ kind: 'conv2d', filters: 4, kernel: 3 }, { kind: 'global-avg-pool' }, { kind: 'dense', units: 2 }] },
  { name: 'dropout', size: [4, 4], loss: 'mse', layers: [{ kind: 'flatten' }, { kind: 'dense', units: 6 }, { kind: 'dropout', rate: 0.5 }, { kind: 'dense', units: 2 }] },
  { name: 'dense input gradient + relu', size: [4, 4], loss: 'mse', layers: [{ kind: 'flatten' }, { kind: 'dense', units: 6 }, { kind: 'relu' }, { kind: 'dense', units: 2 }] },
  { name: 'sigmoid-bce loss', size: [4, 4], loss: 'sigmoid-bce', layers: [{ kind: 'flatten' }, { kind: 'dense', units: 1 }] },
  { name: 'softmax-ce loss', size: [4, 4], loss: 'softmax-ce', layers: [{ kind: 'flatten' }, { kind: 'dense', units: 4 }] },
  ...(['sigmoid-bce', 'softmax-ce', 'mse'] as const).map(
    (loss): Case => ({
      name: `composition, ${loss}`,
      size: [12, 12],
      loss,
      layers: [
        { kind: 'conv2d', filters: 4, kernel: 3, padding: 1 },
        { kind: 'relu' },
        { kind: 'maxpool', kernel: 2 },
        { kind: 'conv2d', filters: 5, kernel: 3, stride: 2, padding: 1 },
        { kind: 'relu' },
        { kind: 'conv2d', filters: 6, kernel: 3, padding: 1 },
        { kind: 'global-avg-pool' },
        { kind: 'dense', units: 8 },
        { kind: 'relu' },
        { kind: 'dropout', rate: 0.3 },
        { kind: 'dense', units: head(loss) },
      ],
    }),
  ),
  {
    name: 'composition, NoScope-style (flatten head)',
    size: [10, 10],
    loss: 'sigmoid-bce',
    layers: [
      { kind: 'conv2d', filters: 4, kernel: 3, padding: 1 },
      { kind: 'relu' },
      { kind: 'maxpool', kernel: 2 },
      { kind: 'conv2d', filters: 4, kernel: 3, padding: 1 },
      { kind: 'relu' },
      { kind: 'maxpool', kernel: 2 },
      { kind: 'flatten' },
      { kind: 'dense', units: 6 },
      { kind: 'relu' },
      { kind: 'dropout', rate: 0.5 },
      { kind: 'dense', units: 1 },
    ],
  },
];

/** Random frames, labels, weights, masks and params for a net. */
function problem(spec: NetworkSpec, seed: number) {
  const plan = planNetwork(spec);
  const rng = new Random(seed);
  const { width: w, height: h } = spec;
  const frames = new Uint8Array(N * h * w * 3).map(() => Math.floor(rng.next() * 256));
  const mean = new Float32Array(h * w * 3).map(() => 100 + 50 * rng.next());
  const norm = { mean, scale: 1 / 64 };
  const D = plan.outputs;
  const labels = new Float32Array(N * D);
  for (let n = 0; n < N; n++) {
    if (spec.loss === 'softmax-ce') labels[n * D + Math.floor(rng.next() * D)] = 1;
    else for (let d = 0; d < D; d++) labels[n * D + d] = spec.loss === 'sigmoid-bce' ? (n + d) % 2 : rng.normal();
  }
  const raw = Float32Array.from({ length: N }, () => 0.5 + rng.next());
  const total = raw.reduce((a, b) => a + b, 0);
  const weights = raw.map((x) => x / total);
  const params = initParams(plan, seed);
  for (const p of plan.params) if (!p.decay) for (let i = 0; i < p.size; i++) params[p.offset + i] = 0.1 * rng.normal();
  const feeds: Record<string, TensorData> = {
    [IO.frames]: { type: 'uint8', data: frames, dims: [N, h, w, 3] },
    [IO.labels]: TensorData.float32(labels, [N, D]),
    [IO.weights]: TensorData.float32(weights, [N]),
  };
  for (const layer of plan.layers) {
    if (layer.spec.kind !== 'dropout') continue;
    const size = N * layer.inShape.reduce((a, b) => a * b, 1);
    const keep = 1 - layer.spec.rate;
    feeds[dropoutMaskName(layer)] = TensorData.float32(Float32Array.from({ length: size }, () => (rng.next() < keep ? 1 / keep : 0)), [N, ...layer.inShape]);
  }
  return { plan, norm, feeds, params, labels, weights, rng };
}

async function lossAndGrad(session: OnnxSession, feeds: Record<string, TensorData>, params: Float32Array) {
  const out = await session.run({ ...feeds, [IO.params]: TensorData.float32(params, [params.length]) });
  return { loss: (out[IO.loss]!.data as Float32Array)[0]!, grad: out[IO.grad]!.data as Float32Array, out };
}

function specOf(c: Case): NetworkSpec {
  return { width: c.size[0], height: c.size[1], layers: c.layers, loss: c.loss };
}

describe('finite-difference gradient checks', () => {
  test.each(CASES)('$name', async (c) => {
    const spec = specOf(c);
    const { plan, norm, feeds, params, rng } = problem(spec, 7);
    const session = await OnnxSession.create(buildGradientGraph(spec, norm), { intraOpThreads: 1 });
    sessions.push(session);
    const { grad } = await lossAndGrad(session, feeds, params);
    const eps = 1e-3;
    for (const p of plan.params) {
      const g = grad.subarray(p.offset, p.offset + p.size);
      const gNorm = Math.hypot(...g);
      expect(gNorm, `${p.name}: gradient is zero`).toBeGreaterThan(1e-6);
      // Along the gradient itself, then two random directions (unit length).
      const dirs = [Float64Array.from(g, (x) => x / gNorm)];
      for (let k = 0; k < 2; k++) {
        const r = Float64Array.from({ length: p.size }, () => rng.normal());
        const rn = Math.hypot(...r);
        dirs.push(r.map((x) => x / rn));
      }
      for (const d of dirs) {
        const plus = Float32Array.from(params);
        const minus = Float32Array.from(params);
        for (let i = 0; i < p.size; i++) {
          plus[p.offset + i] += eps * d[i]!;
          minus[p.offset + i] -= eps * d[i]!;
        }
        const lp = (await lossAndGrad(session, feeds, plus)).loss;
        const lm = (await lossAndGrad(session, feeds, minus)).loss;
        const numeric = (lp - lm) / (2 * eps);
        let analytic = 0;
        for (let i = 0; i < p.size; i++) analytic += g[i]! * d[i]!;
        expect(Math.abs(numeric - analytic), `${p.name}: numeric ${numeric} vs analytic ${analytic} (|g| ${gNorm})`).toBeLessThan(1e-2 * gNorm + 5e-4);
      }
    }
  });
});

describe('loss values', () => {
  test.each(['sigmoid-bce', 'softmax-ce', 'mse'] as const)('%s matches a float64 reference from the head output', async (loss) => {
    const spec: NetworkSpec = { width: 4, height: 4, loss, layers: [{ kind: 'flatten' }, { kind: 'dense', units: head(loss) }] };
    const { feeds, params, labels, weights, plan } = problem(spec, 3);
    const session = await OnnxSession.create(buildGradientGraph(spec, norm0(spec)), { intraOpThreads: 1 });
    sessions.push(session);
    const { loss: value, out } = await lossAndGrad(session, feeds, params);
    const D = plan.outputs;
    let expected = 0;
    for (let n = 0; n < N; n++) {
      let l = 0;
      if (loss === 'sigmoid-bce') {
        const p = (out.probability!.data as Float32Array)[n]!;
        l = -(labels[n]! * Math.log(p) + (1 - labels[n]!) * Math.log(1 - p));
      } else if (loss === 'softmax-ce') {
        const probs = out.count_probabilities!.data as Float32Array;
        for (let d = 0; d < D; d++) l -= labels[n * D + d]! * Math.log(probs[n * D + d]!);
      } else {
        const v = out.value!.data as Float32Array;
        for (let d = 0; d < D; d++) l += (v[n * D + d]! - labels[n * D + d]!) ** 2 / D;
      }
      expected += weights[n]! * l;
    }
    expect(value).toBeCloseTo(expected, 4);
  });
});

function norm0(spec: NetworkSpec) {
  return { mean: new Float32Array(spec.width * spec.height * 3).fill(128), scale: 1 / 64 };
}

describe('optimizer updates', () => {
  const spec: NetworkSpec = { width: 6, height: 6, loss: 'sigmoid-bce', layers: [{ kind: 'conv2d', filters: 2, kernel: 3 }, { kind: 'relu' }, { kind: 'flatten' }, { kind: 'dense', units: 1 }] };

  async function setup(plan: NetworkPlan, feeds: Record<string, TensorData>, params: Float32Array) {
    const gs = await OnnxSession.create(buildGradientGraph(spec, norm0(spec)), { intraOpThreads: 1 });
    sessions.push(gs);
    return (await lossAndGrad(gs, feeds, params)).grad;
  }

  test('SGD with momentum and weight decay', async () => {
    const { plan, feeds, params, rng } = problem(spec, 11);
    const grad = await setup(plan, feeds, params);
    const P = plan.paramCount;
    const m = Float32Array.from({ length: P }, () => rng.normal() * 0.1);
    const session = await OnnxSession.create(buildTrainingGraph(spec, norm0(spec), { kind: 'sgd', momentum: 0.8, weightDecay: 0.1 }), { intraOpThreads: 1 });
    sessions.push(session);
    const out = await session.run({ ...feeds, params: TensorData.float32(params, [P]), state_m: TensorData.float32(m, [P]), lr: TensorData.float32(Float32Array.of(0.05), []) });
    const pOut = out[IO.paramsOut]!.data as Float32Array;
    const mOut = out[IO.stateMOut]!.data as Float32Array;
    for (const p of plan.params) {
      for (let i = p.offset; i < p.offset + p.size; i++) {
        const v = 0.8 * m[i]! + grad[i]! + (p.decay ? 0.1 * params[i]! : 0);
        expect(mOut[i]).toBeCloseTo(v, 5);
        expect(pOut[i]).toBeCloseTo(params[i]! - 0.05 * v, 5);
      }
    }
  });

  test('Adam with decoupled weight decay and bias correction', async () => {
    const { plan, feeds, params, rng } = problem(spec, 12);
    const grad = await setup(plan, feeds, params);
    const P = plan.paramCount;
    const m = Float32Array.from({ length: P }, () => rng.normal() * 0.01);
    const v = Float32Array.from({ length: P }, () => rng.next() * 1e-3);
    const [b1, b2, eps, wd, lr, t] = [0.9, 0.99, 1e-6, 0.05, 0.01, 3];
    const session = await OnnxSession.create(buildTrainingGraph(spec, norm0(spec), { kind: 'adam', beta1: b1, beta2: b2, epsilon: eps, weightDecay: wd }), { intraOpThreads: 1 });
    sessions.push(session);
    const f = (x: number) => TensorData.float32(Float32Array.of(x), []);
    const out = await session.run({
      ...feeds,
      params: TensorData.float32(params, [P]),
      state_m: TensorData.float32(m, [P]),
      state_v: TensorData.float32(v, [P]),
      lr: f(lr),
      bias_correction1: f(1 / (1 - b1 ** t)),
      bias_correction2: f(1 / (1 - b2 ** t)),
    });
    const pOut = out[IO.paramsOut]!.data as Float32Array;
    for (const p of plan.params) {
      for (let i = p.offset; i < p.offset + p.size; i++) {
        const m1 = b1 * m[i]! + (1 - b1) * grad[i]!;
        const v1 = b2 * v[i]! + (1 - b2) * grad[i]! ** 2;
        const update = m1 / (1 - b1 ** t) / (Math.sqrt(v1 / (1 - b2 ** t)) + eps) + (p.decay ? wd * params[i]! : 0);
        expect((out[IO.stateMOut]!.data as Float32Array)[i]).toBeCloseTo(m1, 6);
        expect((out[IO.stateVOut]!.data as Float32Array)[i]).toBeCloseTo(v1, 6);
        expect(pOut[i]).toBeCloseTo(params[i]! - lr * update, 5);
      }
    }
  });
});
