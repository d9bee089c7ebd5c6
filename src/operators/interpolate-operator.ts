/**
 * Interpolate: a frame between two labelled frames that agree takes their value, unless the
 * safety net flags it (the model's score contradicts them, or the frame was never scored); frames
 * in gaps whose ends disagree, and flagged ones, stay undecided for the reference, unless the
 * node lets the model decide them (score below its c_low negative, above its c_high positive):
 * then only the frames in its band do. Frames the frame skip left out take the score of the last
 * frame evaluated before them.
 */
import type { InterpolateNode } from '../plan/physical-node.js';
import { frameList } from '../video/frame-range.js';
import { ROUTE, type CascadeBatch, type ExecutionContext } from './execution-context.js';
import { referenceScan } from './reference-labels.js';

export async function* interpolateOperator(node: InterpolateNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch> | undefined): AsyncGenerator<CascadeBatch> {
  const { range, frames: N } = ctx;
  const labelled = await ctx.labelledSet();
  const score = new Float32Array(N).fill(Number.NaN);
  const evaluated = new Uint8Array(N);
  for await (const batch of input ?? []) {
    for (let i = 0; i < batch.frames.length; i++) {
      if (batch.route[i] === ROUTE.none) continue;
      const at = batch.frames[i]! - range.start;
      evaluated[at] = 1;
      score[at] = batch.score[i]!;
    }
  }
  let last = Number.NaN;
  for (let i = 0; i < N; i++) {
    if (labelled.has(range.start + i)) continue;
    if (evaluated[i]) last = score[i]!;
    else score[i] = last;
  }
  // The labelled frames' values, read back from the store.
  const decision = new Int8Array(N).fill(-1);
  const route = new Uint8Array(N);
  const list = Int32Array.from([...labelled].sort((a, b) => a - b));
  for await (const chunk of referenceScan(ctx.scan(), list, ctx.counters)) {
    for (const f of chunk) {
      decision[f.frame - range.start] = ctx.truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
      route[f.frame - range.start] = ROUTE.labelled;
    }
  }
  if (node.bisect) await bisectChanges(ctx, route, decision);
  const flagged = interpolateDecisions(node, route, decision, score);
  const role = node.decide ? 'safety net, decides the rest' : `safety net${node.net ? '' : ': off'}`;
  ctx.stages.amend('specialized model', (s) => ({ ...s, stage: `${s.stage.replace(/ \(safety net\)$/, '')} (${role})`, framesDecided: Math.max(0, s.framesIn - flagged) }));
  yield { frames: frameList(range.start, range.end), route, score, decision };
}

/** Decides the frames between agreeing labelled frames (and, with `decide`, the model's sure frames) in place; returns how many stay undecided. */
export function interpolateDecisions(node: Pick<InterpolateNode, 'thresholds' | 'net' | 'decide'>, route: Uint8Array, decision: Int8Array, score: Float32Array): number {
  const N = decision.length;
  const next = new Int32Array(N).fill(-1);
  let after = -1;
  for (let i = N - 1; i >= 0; i--) {
    next[i] = after;
    if (route[i] === ROUTE.labelled) after = i;
  }
  const t = node.thresholds;
  const d = node.decide;
  let before = -1;
  let undecided = 0;
  for (let i = 0; i < N; i++) {
    if (route[i] === ROUTE.labelled) {
      before = i;
      continue;
    }
    const p = score[i]!;
    const interpolated = before >= 0 && next[i]! >= 0 && (decision[before] === 1) === (decision[next[i]!] === 1);
    const a = interpolated && decision[before] === 1;
    if (interpolated && !(node.net && (Number.isNaN(p) || (a ? p <= t.cHigh : p >= t.cLow)))) decision[i] = a ? 1 : 0;
    else if (d && p < d.cLow) decision[i] = 0;
    else if (d && p > d.cHigh) decision[i] = 1;
    else if (interpolated) undecided++;
  }
  return undecided;
}

/**
 * Bisection of the gaps whose labelled ends disagree: each round labels the middle frame of every
 * such gap (one reference pass for all of them), until every change lies between neighbouring
 * labelled frames; the halves whose ends agree are then interpolated like any gap.
 */
async function bisectChanges(ctx: ExecutionContext, route: Uint8Array, decision: Int8Array): Promise<void> {
  const { range } = ctx;
  const started = performance.now();
  let labelled = 0;
  let rounds = 0;
  for (;;) {
    const middles = disagreeingMiddles(route, decision);
    if (middles.length === 0) break;
    rounds++;
    const list = Int32Array.from(middles, (i) => range.start + i);
    for await (const chunk of referenceScan(ctx.scan('bisect', 'reference (bisecting changes)'), list, ctx.counters)) {
      for (const f of chunk) {
        decision[f.frame - range.start] = ctx.truthOf(f.detections, f.frame, f.timestamp) > 0 ? 1 : 0;
        route[f.frame - range.start] = ROUTE.labelled;
      }
    }
    labelled += middles.length;
  }
  ctx.stages.push({ stage: `reference detector (bisecting gaps with a change, ${rounds} round${rounds === 1 ? '' : 's'})`, framesIn: labelled, framesDecided: labelled, seconds: (performance.now() - started) / 1000 });
}

/** The middle frame of every gap between consecutive labelled frames whose values disagree. */
export function disagreeingMiddles(route: Uint8Array, decision: Int8Array): number[] {
  const out: number[] = [];
  let before = -1;
  for (let i = 0; i < route.length; i++) {
    if (route[i] !== ROUTE.labelled) continue;
    if (before >= 0 && i - before > 1 && decision[before] !== decision[i]) out.push((before + i) >> 1);
    before = i;
  }
  return out;
}
