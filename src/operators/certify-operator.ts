/**
 * Certify: bounds the presence answer's FNR, FPR and precision at the query's confidence
 * (optimizer/certification.ts). The frames the reference never saw are split into answered
 * positive and answered negative; each is ordered by a seeded hash of the frame, and the first
 * frames of each order are labelled (their answers corrected), look after look, until the bounds
 * meet the targets, the strata are labelled through, or the query's BUDGET of reference calls
 * ends. The frames drawn are stored with the cascade; a later run draws them again (from the
 * store, free) instead of using them as interpolation anchors.
 */
import { CASCADE_SEED, type CascadeStatistics } from '../optimizer/cascade-statistics.js';
import { firstLookSizes, lookAlpha, presenceBounds, verificationKey, type PresenceBounds } from '../optimizer/certification.js';
import type { CertifyNode } from '../plan/physical-node.js';
import { ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';
import { referenceScan } from './reference-labels.js';

export async function* certifyOperator(node: CertifyNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): AsyncGenerator<CascadeBatch> {
  for await (const batch of input) {
    yield await certify(node, ctx, batch);
  }
}

async function certify(node: CertifyNode, ctx: ExecutionContext, batch: CascadeBatch): Promise<CascadeBatch> {
  const started = performance.now();
  const seed = (ctx.options.seed ?? CASCADE_SEED) ^ ctx.handle.row.id;
  const order = (idx: number[]) => idx.sort((a, b) => verificationKey(seed, batch.frames[a]!) - verificationKey(seed, batch.frames[b]!));
  const pos: number[] = [];
  const neg: number[] = [];
  const verified = { positives: 0, negatives: 0 };
  for (let i = 0; i < batch.frames.length; i++) {
    if (batch.route[i] === ROUTE.labelled) verified[batch.decision[i] === 1 ? 'positives' : 'negatives']++;
    else (batch.decision[i] === 1 ? pos : neg).push(i);
  }
  order(pos);
  order(neg);
  const strata = { positive: { pool: pos, sampled: 0, errors: 0 }, negative: { pool: neg, sampled: 0, errors: 0 } };
  const drawnBefore = new Set(node.drawnBefore);
  const delta = 1 - node.confidence;
  let want = firstLookSizes(pos.length, neg.length, verified, node);
  let look = 0;
  let bounds: PresenceBounds;
  let budgetReached = false;
  for (;;) {
    const take = withinBudget(ctx, node, strata, want, drawnBefore, batch.frames);
    budgetReached ||= take.positive < want.positive || take.negative < want.negative;
    await labelDrawn(ctx, batch, strata, take, verified);
    bounds = presenceBounds(stratumOf(strata.positive), stratumOf(strata.negative), verified, lookAlpha(delta, look));
    const fnrShort = bounds.fnr > node.fnr && strata.negative.sampled < neg.length;
    const fpShort = (bounds.fpr > node.fpr || (node.precision !== undefined && bounds.precision < node.precision)) && strata.positive.sampled < pos.length;
    if (budgetReached || (!fnrShort && !fpShort)) break;
    look++;
    want = {
      positive: fpShort ? Math.min(pos.length, 2 * Math.max(1, strata.positive.sampled)) : strata.positive.sampled,
      negative: fnrShort ? Math.min(neg.length, 2 * Math.max(1, strata.negative.sampled)) : strata.negative.sampled,
    };
  }
  const sampled = strata.positive.sampled + strata.negative.sampled;
  const drawn = [...strata.positive.pool.slice(0, strata.positive.sampled), ...strata.negative.pool.slice(0, strata.negative.sampled)].map((i) => batch.frames[i]!);
  await recordVerification(ctx, drawn);
  ctx.certificate = { ...bounds, confidence: node.confidence, sampled, unverified: pos.length + neg.length, looks: look + 1, budgetReached };
  ctx.stages.push({ stage: `certification (random sample of the ${pos.length + neg.length} frames the reference did not see, ${look + 1} look${look ? 's' : ''})`, framesIn: sampled, framesDecided: sampled, seconds: (performance.now() - started) / 1000 });
  return batch;
}

interface Drawing {
  readonly pool: number[];
  sampled: number;
  errors: number;
}
type Strata = { readonly positive: Drawing; readonly negative: Drawing };
type Sizes = { readonly positive: number; readonly negative: number };

const stratumOf = (d: Drawing) => ({ size: d.pool.length, sampled: d.sampled, errors: d.errors });

/** The sizes to reach this look, cut so the query's BUDGET of reference calls is not exceeded (stored frames are free). */
function withinBudget(ctx: ExecutionContext, node: CertifyNode, strata: Strata, want: Sizes, free: ReadonlySet<number>, frames: Int32Array): Sizes {
  if (node.budget === undefined) return want;
  let left = node.budget - ctx.counters.referenceCalls;
  const grow = (d: Drawing, to: number) => {
    let n = d.sampled;
    while (n < to && (left > 0 || free.has(frames[d.pool[n]!]!))) {
      if (!free.has(frames[d.pool[n]!]!)) left--;
      n++;
    }
    return n;
  };
  // The stratum whose bound needs more labels first: the negatives (misses are what a budget most often cuts).
  const negative = grow(strata.negative, want.negative);
  return { negative, positive: grow(strata.positive, want.positive) };
}

/** Labels the frames newly drawn, corrects their answers, and counts the errors found. */
async function labelDrawn(ctx: ExecutionContext, batch: CascadeBatch, strata: Strata, to: Sizes, verified: { positives: number; negatives: number }): Promise<void> {
  const fresh: number[] = [];
  for (const [d, n] of [[strata.positive, to.positive], [strata.negative, to.negative]] as const) fresh.push(...d.pool.slice(d.sampled, n));
  const at = new Map(fresh.map((i) => [batch.frames[i]!, i]));
  const list = Int32Array.from(at.keys()).sort();
  for await (const chunk of referenceScan(ctx.scan('certify', 'reference (verification sample)'), list, ctx.counters)) {
    for (const f of chunk) {
      const i = at.get(f.frame)!;
      const truth = ctx.truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
      if (truth !== batch.decision[i]) (batch.decision[i] === 1 ? strata.positive : strata.negative).errors++;
      verified[truth === 1 ? 'positives' : 'negatives']++;
      batch.decision[i] = truth;
      batch.route[i] = ROUTE.labelled;
    }
  }
  strata.positive.sampled = Math.max(strata.positive.sampled, to.positive);
  strata.negative.sampled = Math.max(strata.negative.sampled, to.negative);
}

/** Stores the frames drawn with the cascade, so the next run draws them again. */
async function recordVerification(ctx: ExecutionContext, drawn: readonly number[]): Promise<void> {
  const key = ctx.key!;
  const stored = await ctx.catalog.findSpecializedModel(key);
  if (!stored) return;
  const st = stored.metrics as CascadeStatistics;
  const frames = [...new Set([...(st.verificationFrames ?? []), ...drawn])].sort((a, b) => a - b);
  if (frames.length === (st.verificationFrames ?? []).length) return;
  await ctx.catalog.putSpecializedModel({ ...key, architecture: stored.architecture, onnx: stored.onnx, manifest: stored.manifest, metrics: { ...st, verificationFrames: frames } });
}
