/**
 * `npm run bench:train`: training and inference throughput of the NoScope-style specialized model
 * (2 x [3x3 conv, ReLU, 2x2 max-pool] with 16 then 32 filters, dense 64, ReLU, dropout 0.5, one
 * output; sigmoid BCE; Adam), all inside ONNX Runtime, with PyTorch (CPU) on the same net, batch
 * and thread count when a `python3` with `torch` is present (nothing is installed otherwise).
 *
 * - step: the training-step graph alone, parameters and Adam state carried between runs as
 *   inputs/outputs (what ONNX Runtime's kernels plus the binding cost).
 * - trainer: `trainModel` end to end over epochs (batch assembly, class weights, dropout masks,
 *   validation skipped), images/s of its optimisation steps.
 * - inference: the exported model through `OnnxSession`, batches of the same size.
 *
 * Flags: `--sizes 32,64` `--batch 64` `--threads N` (default: all cores) `--repeats 3`
 * `--seconds 2` (per timed repeat) `--no-write`.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { OnnxSession, TensorData } from '../src/inference/onnx-runtime.js';
import { dropoutMaskName, initParams, planNetwork, type NetworkSpec } from '../src/training/network.js';
import { Random } from '../src/training/random.js';
import { noScopeLayers, trainModel, type TrainingData } from '../src/training/trainer.js';
import { buildTrainingGraph, IO } from '../src/training/training-graph.js';
import { describeMachine, formatStat, isoDate, machineLine, markdownTable, rate, repeat, resolveFromRoot, roundStat, updateMarkdownSection, writeJson, type Stat } from './bench-util.js';

const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '32,64' },
    batch: { type: 'string', default: '64' },
    threads: { type: 'string', default: String(cpus().length) },
    repeats: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '2' },
    'no-write': { type: 'boolean', default: false },
  },
});
const sizes = args.sizes.split(',').map(Number);
const B = Number(args.batch);
const threads = Number(args.threads);
const repeats = Number(args.repeats);
const seconds = Number(args.seconds);
const ARCH = { convBlocks: 2, baseFilters: 16, dense: 64 } as const;

interface Row {
  readonly inputSize: number;
  readonly parameters: number;
  readonly stepImagesPerSecond: Stat;
  readonly trainerImagesPerSecond: Stat;
  readonly inferenceImagesPerSecond: Stat;
  readonly pytorch: { readonly trainImagesPerSecond: Stat; readonly inferenceImagesPerSecond: Stat; readonly version: string } | { readonly skipped: string };
}

function frames(n: number, size: number, seed: number): TrainingData {
  const rng = new Random(seed);
  const images = Uint8Array.from({ length: n * size * size * 3 }, () => Math.floor(rng.next() * 256));
  return { images, width: size, height: size, labels: Int32Array.from({ length: n }, (_, i) => i % 2), frames: Int32Array.from({ length: n }, (_, i) => i) };
}

/** Runs `step` until `seconds` pass once, to size the timed repeats. */
async function calibrate(step: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < 500 || n < 3) {
    await step();
    n++;
  }
  return Math.max(3, Math.round((n * seconds * 1000) / (performance.now() - t0)));
}

async function stepThroughput(spec: NetworkSpec): Promise<Stat> {
  const plan = planNetwork(spec);
  const P = plan.paramCount;
  const norm = { mean: new Float32Array(spec.width * spec.height * 3).fill(128), scale: 1 / 64 };
  const session = await OnnxSession.create(buildTrainingGraph(spec, norm, { kind: 'adam', weightDecay: 1e-4 }), { intraOpThreads: threads });
  const data = frames(B, spec.width, 1);
  let params: Float32Array = initParams(plan, 1);
  let m: Float32Array = new Float32Array(P);
  let v: Float32Array = new Float32Array(P);
  const fixed: Record<string, TensorData> = {
    [IO.frames]: { type: 'uint8', data: data.images, dims: [B, spec.height, spec.width, 3] },
    [IO.labels]: TensorData.float32(Float32Array.from(data.labels), [B, 1]),
    [IO.weights]: TensorData.float32(new Float32Array(B).fill(1 / B), [B]),
    [IO.lr]: TensorData.float32(Float32Array.of(1e-3), []),
    [IO.biasCorrection1]: TensorData.float32(Float32Array.of(1), []),
    [IO.biasCorrection2]: TensorData.float32(Float32Array.of(1), []),
  };
  for (const layer of plan.layers) {
    if (layer.spec.kind === 'dropout') fixed[dropoutMaskName(layer)] = TensorData.float32(new Float32Array(B * layer.inShape[0]!).fill(2), [B, ...layer.inShape]);
  }
  const step = async () => {
    const out = await session.run({ ...fixed, [IO.params]: TensorData.float32(params, [P]), [IO.stateM]: TensorData.float32(m, [P]), [IO.stateV]: TensorData.float32(v, [P]) });
    params = out[IO.paramsOut]!.data as Float32Array;
    m = out[IO.stateMOut]!.data as Float32Array;
    v = out[IO.stateVOut]!.data as Float32Array;
  };
  const n = await calibrate(step);
  const run = await repeat(repeats, async () => {
    for (let i = 0; i < n; i++) await step();
  });
  await session.dispose();
  return rate(n * B, run.ms);
}

async function trainerThroughput(size: number): Promise<{ stat: Stat; onnx: Uint8Array }> {
  const data = frames(2048, size, 2);
  let onnx: Uint8Array = new Uint8Array();
  const samples: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const model = await trainModel(data, { task: { kind: 'presence' }, architecture: ARCH, batchSize: B, maxEpochs: 3, patience: 100, split: { validation: 0, test: 0 }, threads, seed: r });
    samples.push(model.timing.imagesPerSecond);
    onnx = model.onnx;
  }
  return { stat: statOf(samples), onnx };
}

function statOf(samples: number[]): Stat {
  const sorted = [...samples].sort((a, b) => a - b);
  return { median: sorted[sorted.length >> 1]!, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples };
}

async function inferenceThroughput(onnx: Uint8Array, size: number): Promise<Stat> {
  const session = await OnnxSession.create(onnx, { intraOpThreads: threads });
  const feeds = { frames: { type: 'uint8' as const, data: frames(B, size, 3).images, dims: [B, size, size, 3] } };
  const step = async () => void (await session.run(feeds));
  const n = await calibrate(step);
  const run = await repeat(repeats, async () => {
    for (let i = 0; i < n; i++) await step();
  });
  await session.dispose();
  return rate(n * B, run.ms);
}

/** The same net, batch and threads in PyTorch, when `python3 -c 'import torch'` works. */
function pytorchPeer(size: number): Row['pytorch'] {
  const probe = spawnSync('python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return { skipped: `python3 with torch not found (${(probe.error?.message ?? probe.stderr.trim().split('\n').pop() ?? '').slice(0, 120)})` };
  const dir = mkdtempSync(join(tmpdir(), 'sieve-torch-'));
  try {
    writeFileSync(join(dir, 'peer.py'), TORCH_PEER);
    const out = execFileSync('python3', [join(dir, 'peer.py'), JSON.stringify({ size, batch: B, threads, repeats, seconds })], { encoding: 'utf8', timeout: 600_000 });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { train: number[]; infer: number[] };
    return { version: probe.stdout.trim(), trainImagesPerSecond: statOf(r.train), inferenceImagesPerSecond: statOf(r.infer) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const TORCH_PEER = String.raw`
import json, sys, time, torch, torch.nn as nn
cfg = json.loads(sys.argv[1]); s, B = cfg['size'], cfg['batch']
torch.set_num_threads(cfg['threads']); torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer('mean', torch.full((1, 3, s, s), 128.0))
        self.f = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Flatten(), nn.Linear(32 * (s // 4) ** 2, 64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(64, 1))
    def forward(self, x):  # uint8 NHWC RGB, as Sieve's graphs take it
        return self.f((x.permute(0, 3, 1, 2).float() - self.mean) / 64.0)
net = Net(); opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4); loss_fn = nn.BCEWithLogitsLoss()
x = torch.randint(0, 256, (B, s, s, 3), dtype=torch.uint8); y = (torch.arange(B) % 2).float().unsqueeze(1)
def step():
    opt.zero_grad(); loss = loss_fn(net(x), y); loss.backward(); opt.step()
def timed(fn):
    t0 = time.perf_counter(); n = 0
    while time.perf_counter() - t0 < 0.5 or n < 3: fn(); n += 1
    n = max(3, round(n * cfg['seconds'] / (time.perf_counter() - t0))); rates = []
    for _ in range(cfg['repeats']):
        t0 = time.perf_counter()
        for _ in range(n): fn()
        rates.append(n * B / (time.perf_counter() - t0))
    return rates
net.train(); train = timed(step)
net.eval()
with torch.no_grad(): infer = timed(lambda: torch.sigmoid(net(x)))
print(json.dumps({'train': train, 'infer': infer}))
`;

async function main(): Promise<void> {
  const machine = describeMachine();
  console.log(machineLine(machine));
  console.log(`NoScope-style net ${JSON.stringify(ARCH)}, batch ${B}, ${threads} intra-op threads, ${repeats} repeats of ~${seconds} s`);
  const bar = new cliProgress.SingleBar({ format: 'bench:train [{bar}] {value}/{total} {task}', hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(sizes.length * 4, 0, { task: '' });
  const rows: Row[] = [];
  for (const size of sizes) {
    const spec: NetworkSpec = { width: size, height: size, loss: 'sigmoid-bce', layers: noScopeLayers(ARCH, 1) };
    bar.update({ task: `${size}px training step` });
    const stepRate = await stepThroughput(spec);
    bar.increment(1, { task: `${size}px trainer` });
    const trainer = await trainerThroughput(size);
    bar.increment(1, { task: `${size}px inference` });
    const inference = await inferenceThroughput(trainer.onnx, size);
    bar.increment(1, { task: `${size}px PyTorch peer` });
    const pytorch = pytorchPeer(size);
    bar.increment(1, { task: '' });
    rows.push({ inputSize: size, parameters: planNetwork(spec).paramCount, stepImagesPerSecond: stepRate, trainerImagesPerSecond: trainer.stat, inferenceImagesPerSecond: inference, pytorch });
  }
  bar.stop();
  const torchCell = (r: Row, key: 'trainImagesPerSecond' | 'inferenceImagesPerSecond') => ('skipped' in r.pytorch ? 'skipped' : formatStat(r.pytorch[key]));
  const table = markdownTable(
    ['input', 'params', 'ORT train step (img/s)', 'ORT trainer end to end (img/s)', 'PyTorch train (img/s)', 'ORT inference (img/s)', 'PyTorch inference (img/s)'],
    rows.map((r) => [
      `${r.inputSize}x${r.inputSize}`,
      r.parameters.toLocaleString('en-US'),
      formatStat(r.stepImagesPerSecond),
      formatStat(r.trainerImagesPerSecond),
      torchCell(r, 'trainImagesPerSecond'),
      formatStat(r.inferenceImagesPerSecond),
      torchCell(r, 'inferenceImagesPerSecond'),
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  console.log(`\n${table}`);
  for (const r of rows) if ('skipped' in r.pytorch) console.log(`PyTorch peer skipped at ${r.inputSize}px: ${r.pytorch.skipped}`);
  if (args['no-write']) return;
  const date = isoDate();
  writeJson(resolveFromRoot('bench/results/train.json'), {
    date,
    machine,
    net: { ...ARCH, layers: 'conv3x3(16)-relu-maxpool2-conv3x3(32)-relu-maxpool2-flatten-dense(64)-relu-dropout(0.5)-dense(1)', loss: 'sigmoid-bce', optimizer: 'adam (decoupled weight decay 1e-4)' },
    batchSize: B,
    threads,
    rows: rows.map((r) => ({
      ...r,
      stepImagesPerSecond: roundStat(r.stepImagesPerSecond, 0),
      trainerImagesPerSecond: roundStat(r.trainerImagesPerSecond, 0),
      inferenceImagesPerSecond: roundStat(r.inferenceImagesPerSecond, 0),
    })),
  });
  updateMarkdownSection(resolveFromRoot('BENCHMARKS.md'), 'Training', trainingSection(machineLine(machine), date, table, rows));
}

function trainingSection(machine: string, date: string, table: string, rows: readonly Row[]): string {
  const skipped = rows.some((r) => 'skipped' in r.pytorch) ? '\n\nThe PyTorch peer was skipped: no `python3` with `torch` on this machine (the bench installs nothing).' : '';
  return `\`npm run bench:train\`, ${date}. ${machine}.

NoScope-style net: 2 x [3x3 conv (16, then 32 filters), ReLU, 2x2 max-pool], dense 64, ReLU, dropout 0.5, one sigmoid output; Adam;
batch ${B}, ${threads} intra-op threads; median (min–max) of ${repeats} repeats. "train step" is the ONNX training-step graph alone
(parameters and Adam state passed in and out as flat vectors each step); "trainer end to end" is \`trainModel\` (batch assembly,
class weights, dropout masks and the first, slower run included); inference runs the exported model through \`OnnxSession\`.

${table}${skipped}

For reference, DESIGN.md's prototype (a two-conv CNN on 32x32) trained at about 2,700 images/s here and PyTorch 1.13 at about 3,500.

${accuracySection()}`;
}

/**
 * Accuracy on real videos, from bench/results/train-accuracy.json, which the real-data acceptance
 * test writes when run with SIEVE_RECORD=1 (`SIEVE_RECORD=1 npx vitest run test/training/real-data.test.ts`).
 */
function accuracySection(): string {
  const path = resolveFromRoot('bench/results/train-accuracy.json');
  if (!existsSync(path)) return 'Accuracy on real videos: run `SIEVE_RECORD=1 npx vitest run test/training/real-data.test.ts`, then this bench again.';
  const r = JSON.parse(readFileSync(path, 'utf8')) as AccuracyRecord;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const table = markdownTable(
    ['video', 'target', 'labelled frames (step)', 'held-out frames', 'held-out accuracy', 'confusion [[tn, fp], [fn, tp]]', 'count MAE (mean baseline)', 'epochs'],
    r.rows.map((x) => [
      x.video,
      x.target,
      `${x.frames} (every ${x.step})`,
      String(x.heldOut.frames),
      x.task === 'presence' ? pct(x.heldOut.accuracy) : `${pct(x.heldOut.accuracy)} (exact bucket)`,
      x.heldOut.confusion && x.task === 'presence' ? JSON.stringify(x.heldOut.confusion) : '',
      x.heldOut.meanAbsoluteError !== undefined ? `${x.heldOut.meanAbsoluteError.toFixed(2)} (${x.heldOut.baselineMeanAbsoluteError!.toFixed(2)})` : '',
      String(x.epochs),
    ]),
    ['l', 'l', 'r', 'r', 'r', 'l', 'r', 'r'],
  );
  return `Specialized models trained on reference labels (${r.labelSource}, score >= 0.5) at ${r.inputSize}x${r.inputSize}; held-out = the later
time blocks (last 20% of the labelled span), never trained on nor used for early stopping. Recorded ${r.date} by
\`test/training/real-data.test.ts\`:

${table}`;
}

interface AccuracyRecord {
  readonly date: string;
  readonly labelSource: string;
  readonly inputSize: number;
  readonly rows: readonly {
    readonly video: string;
    readonly target: string;
    readonly task: 'presence' | 'count';
    readonly step: number;
    readonly frames: number;
    readonly epochs: number;
    readonly imagesPerSecond: number;
    readonly heldOut: { readonly frames: number; readonly accuracy: number; readonly confusion?: number[][]; readonly meanAbsoluteError?: number; readonly baselineMeanAbsoluteError?: number };
  }[];
}

await main();
