/**
 * Certify: bounds the presence answer's FNR, FPR and precision at the query's confidence
 * (optimizer/certification.ts), by the draw of optimizer/certification-draw.ts with the
 * reference detector as its labeller: the labelled frames' answers are corrected. The frames
 * drawn are stored with the cascade; a later run draws them again (from the store, free) instead
 * of using them as interpolation anchors.
 */
import { drawCertification } from '../optimizer/certification-draw.js';
import { CASCADE_SEED, type CascadeStatistics } from '../optimizer/cascade-statistics.js';
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
  const verified = Uint8Array.from(batch.route, (r) => (r === ROUTE.labelled ? 1 : 0));
  const answer = { frames: batch.frames, decision: batch.decision, verified };
  ctx.options.onDecided?.({ frames: batch.frames.slice(), decision: batch.decision.slice(), verified: verified.slice() });
  const free = new Set(node.drawnBefore);
  const budget = node.budget === undefined ? undefined : { left: () => node.budget! - ctx.counters.referenceCalls, free: (f: number) => free.has(f) };
  const outcome = await drawCertification(answer, { targets: node, seed, budget, label: (idx) => labelFrames(ctx, batch, idx) });
  for (const [i, truth] of outcome.labelled) {
    batch.decision[i] = truth;
    batch.route[i] = ROUTE.labelled;
  }
  await recordVerification(ctx, [...outcome.labelled.keys()].map((i) => batch.frames[i]!));
  const { sampled, unverified, looks, budgetReached } = outcome;
  ctx.certificate = { ...outcome.bounds, confidence: node.confidence, sampled, unverified, looks, budgetReached };
  ctx.stages.push({ stage: `certification (random sample of the ${unverified} frames the reference did not see, ${looks} look${looks > 1 ? 's' : ''})`, framesIn: sampled, framesDecided: sampled, seconds: (performance.now() - started) / 1000 });
  return batch;
}

/** The reference's values of the frames at `idx` (from the store where labelled before). */
async function labelFrames(ctx: ExecutionContext, batch: CascadeBatch, idx: readonly number[]): Promise<Int8Array> {
  const at = new Map(idx.map((i, k) => [batch.frames[i]!, k]));
  const values = new Int8Array(idx.length);
  const list = Int32Array.from(at.keys()).sort();
  for await (const chunk of referenceScan(ctx.scan('certify', 'reference (verification sample)'), list, ctx.counters)) {
    for (const f of chunk) values[at.get(f.frame)!] = ctx.truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
  }
  return values;
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
