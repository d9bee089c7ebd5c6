/**
 * Answer: the query's result from the labels or decisions below it, with its accuracy report and
 * interval, built in one place for every plan. Below a `Calibrate` there is no answer yet: the
 * measuring steps run and the engine asks the optimizer again.
 */
import { DEFAULT_CONFIDENCE, type BoundQuery } from '../binder/index.js';
import type { AccuracyReport, QueryResult, ResultRow, ResultValue } from '../engine-types.js';
import { fmt } from '../optimizer/cascade-search.js';
import type { AnswerNode } from '../plan/physical-node.js';
import { decodeSummary } from '../video/decode-ledger.js';
import { createAnswerOperator, frameSelectionRows } from './answer-collector.js';
import type { CascadeBatch, CountAnswer, ExecutionContext } from './execution-context.js';
import { referenceScan } from './reference-labels.js';

/** The result kind of each query shape (one table). */
export const RESULT_KIND = { 'select-rows': 'rows', 'select-frames': 'frames', aggregate: 'aggregate', 'grouped-limit': 'limit' } as const satisfies Record<BoundQuery['shape'], QueryResult['kind']>;

/** The answer of a plan (undefined for a plan of measuring steps, which answers nothing). */
export async function answerOperator(node: AnswerNode, ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): Promise<QueryResult | undefined> {
  const below = node.input;
  if (below.kind === 'Calibrate') {
    for await (const _ of input) void _;
    return undefined;
  }
  if (below.kind === 'StratifiedEstimate') {
    let estimate: CountAnswer | undefined;
    for await (const batch of input) estimate ??= batch.estimate;
    return countAnswer(ctx, estimate!);
  }
  if (below.role === 'uncertain') {
    let decided: CascadeBatch | undefined;
    for await (const batch of input) decided = batch;
    return presenceAnswer(ctx, decided!);
  }
  return exactAnswer(ctx, input);
}

async function exactAnswer(ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>): Promise<QueryResult> {
  const { query } = ctx;
  const answer = createAnswerOperator(query, ctx.labels);
  scan: for await (const batch of input) {
    for (const f of batch.labelled!) if (!answer.consume(f)) break scan;
  }
  const { rows, value } = answer.finish(ctx.frames);
  const interval = value !== undefined ? { low: value, high: value, confidence: query.accuracy.error?.confidence ?? 1 } : undefined;
  return assemble(ctx, answer.columns, rows, value, interval, exactAccuracy(query));
}

/** Presence: the rows (and COUNT(DISTINCT frame)'s value and interval) from the final per-frame decisions. */
async function presenceAnswer(ctx: ExecutionContext, decided: CascadeBatch): Promise<QueryResult> {
  const { query, frames: N } = ctx;
  const positive = (i: number) => decided.decision[i] === 1;
  const { rows, value } = await presenceRows(ctx, positive);
  const st = ctx.cascade!.statistics;
  const h = st.thresholds;
  const estFnr = Number(st.heldOut.fnr ?? 0);
  const estFpr = Number(st.heldOut.fpr ?? 0);
  const accuracy: AccuracyReport = {
    mode: 'cascade',
    targets: { fnr: query.accuracy.fnr, fpr: query.accuracy.fpr },
    estimated: { fnr: estFnr, fpr: estFpr },
    met: estFnr <= query.accuracy.fnr && estFpr <= query.accuracy.fpr,
    note: `cascade: estimated FNR ${fmt(estFnr)} / FPR ${fmt(estFpr)} (targets ${query.accuracy.fnr} / ${query.accuracy.fpr}), measured leave-one-out on ${st.interpolation?.agreeing ?? 0} labelled frames at twice the sample spacing; specialized model held-out (later time blocks) FNR ${fmt(h?.fnr)} / FPR ${fmt(h?.fpr)}; ${ctx.uncertainChecked} uncertain frames checked by the reference detector`,
  };
  // COUNT(DISTINCT frame) is an estimate, not an exact count: with FN <= fnr x P and FP <= fpr x (N - P)
  // the true count P lies in [(n - fpr x N) / (1 - fpr), n / (1 - fnr)], as surely as the targets hold.
  const { fnr, fpr } = query.accuracy;
  const interval = value === undefined ? undefined : { low: Math.max(0, Math.ceil((value - fpr * N) / (1 - fpr) - 1e-9)), high: Math.min(N, Math.floor(value / (1 - fnr) + 1e-9)), confidence: DEFAULT_CONFIDENCE };
  return assemble(ctx, query.outputs.map((o) => o.name), rows, value, interval, accuracy);
}

async function presenceRows(ctx: ExecutionContext, positive: (i: number) => boolean): Promise<{ rows: ResultRow[]; value: number | undefined }> {
  const { query, range, frames: N, labels } = ctx;
  const ts = ctx.handle.timestamps;
  if (query.shape === 'select-frames') {
    const frames: { frame: number; timestamp: number }[] = [];
    for (let i = 0; i < N; i++) if (positive(i)) frames.push({ frame: range.start + i, timestamp: ts[range.start + i]! });
    return { rows: frameSelectionRows(query, frames, labels), value: undefined };
  }
  if (query.shape === 'select-rows') {
    // Every positive frame is labelled by now: its objects stream back from the store.
    const answer = createAnswerOperator(query, labels);
    const positives = Int32Array.from({ length: N }, (_, i) => i).filter(positive).map((i) => range.start + i);
    const reread = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0 };
    scan: for await (const chunk of referenceScan(ctx.scan(), positives, reread)) {
      for (const f of chunk) if (!answer.consume(f)) break scan;
    }
    return { rows: answer.finish(N).rows, value: undefined };
  }
  let n = 0;
  for (let i = 0; i < N; i++) if (positive(i)) n++;
  return { rows: [{ [query.outputs[0]!.name]: n }], value: n };
}

/** Count: the answer row, its interval and the accuracy note. */
function countAnswer(ctx: ExecutionContext, e: CountAnswer): QueryResult {
  const { query, frames: N } = ctx;
  if (query.shape !== 'aggregate') throw new Error('internal: count cascade on a non-aggregate query');
  const first = query.outputs[0]!;
  const row: Record<string, ResultValue> = {};
  for (const o of query.outputs) row[o.name] = o.aggregate.fn === 'count' ? e.value * N : e.value;
  const scale = first.aggregate.fn === 'count' ? N : 1;
  const value = e.value * scale;
  const half = e.halfWidth * scale;
  const accuracy: AccuracyReport = {
    mode: 'cascade',
    targets: { error: e.within * scale, confidence: e.confidence },
    estimated: { error: half },
    met: half <= e.within * scale + 1e-12,
    note: `estimate ${fmt(value)} ± ${fmt(half)} at ${Math.round(e.confidence * 100)}% confidence (target ± ${fmt(e.within * scale)}${query.accuracy.error ? '' : ', the default'}): ${e.useModel ? "the specialized model's count on every frame, corrected in each time block by its mean residual on" : 'the mean in each time block of'} ${e.sampled} frames the reference detector labelled at random (stratified over ${e.blocks} time blocks), plus ${e.exact} frames known exactly`,
  };
  return assemble(ctx, query.outputs.map((o) => o.name), [row], value, { low: value - half, high: value + half, confidence: e.confidence }, accuracy);
}

/** The accuracy targets a query states, by name. */
export function accuracyTargets(query: BoundQuery): Record<string, number> {
  if (query.shape !== 'aggregate') return { fnr: query.accuracy.fnr, fpr: query.accuracy.fpr };
  return query.accuracy.error ? { error: query.accuracy.error.within, confidence: query.accuracy.error.confidence } : {};
}

export function exactAccuracy(query: BoundQuery): AccuracyReport {
  const targets = accuracyTargets(query);
  return {
    mode: 'exact',
    targets,
    estimated: Object.fromEntries(Object.keys(targets).filter((k) => k !== 'confidence').map((k) => [k, 0])),
    met: true,
    note: 'exact: the reference detector labelled every frame in range, so every accuracy target is met',
  };
}

function assemble(ctx: ExecutionContext, columns: readonly string[], rows: ResultRow[], value: number | undefined, interval: QueryResult['interval'], accuracy: AccuracyReport): QueryResult {
  const { query, counters } = ctx;
  return {
    kind: RESULT_KIND[query.shape],
    video: { name: query.video.name, path: ctx.handle.row.path },
    columns,
    rows,
    ...(value !== undefined ? { value } : {}),
    ...(interval ? { interval } : value !== undefined ? { interval: { low: value, high: value, confidence: 1 } } : {}),
    accuracy,
    stats: {
      framesInRange: ctx.frames,
      framesDecoded: counters.framesDecoded,
      referenceCalls: counters.referenceCalls,
      labelsFromStore: counters.labelsFromStore,
      seconds: (performance.now() - ctx.started) / 1000,
      stages: ctx.stages.list(),
      ...decodeSummary(counters),
    },
    plan: '',
  };
}

