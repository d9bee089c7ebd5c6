/**
 * Answer: the query's result from the labels or decisions below it, with its accuracy report and
 * interval, built in one place for every plan. Below a `Calibrate` there is no answer yet: the
 * measuring steps run and the engine asks the optimizer again.
 */
import { DEFAULT_CONFIDENCE, type BoundQuery } from '../binder/index.js';
import type { AccuracyReport, QueryResult, ResultRow, ResultValue } from '../engine-types.js';
import { fmt } from '../optimizer/cascade-search.js';
import { CERTIFICATION_METHOD } from '../optimizer/certification.js';
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
  if (below.kind === 'Certify') {
    let decided: CascadeBatch | undefined;
    for await (const batch of input) decided = batch;
    return presenceAnswer(ctx, decided!);
  }
  return exactAnswer(ctx, input, below.kind === 'LimitSearch' ? () => searchAccuracy(ctx) : () => exactAccuracy(ctx.query));
}

/** LIMIT search: every returned frame verified; how many the reference checked, and how many the index ranked. */
function searchAccuracy(ctx: ExecutionContext): AccuracyReport {
  const s = ctx.search!;
  const k = ctx.query.shape === 'aggregate' ? 0 : (ctx.query.limit ?? 0);
  const use = ctx.indexUse!;
  const index = use.added.length > 0 ? `index signals added: ${use.added.join(', ')}${use.reused.length ? `; read: ${use.reused.join(', ')}` : ''}` : `index signals read: ${use.reused.join(', ')}`;
  const found = s.exhausted ? `only ${s.frames.length} of the ${k} asked for exist: every frame of the range was checked, so the answer is the exact one` : `${s.frames.length} frames, each verified by the reference detector`;
  return {
    mode: s.exhausted ? 'exact' : 'verified',
    targets: {},
    estimated: {},
    met: true,
    note: `LIMIT search: ${found}; ${s.verified} frames verified in rank order (${s.batches} batches) of ${s.ranked} ranked by the index, ${s.fromStore} known from the label store; ${ctx.counters.referenceCalls} reference calls in all (${index})`,
  };
}

async function exactAnswer(ctx: ExecutionContext, input: AsyncIterable<CascadeBatch>, accuracy: () => AccuracyReport): Promise<QueryResult> {
  const { query } = ctx;
  const answer = createAnswerOperator(query, ctx.labels);
  scan: for await (const batch of input) {
    for (const f of batch.labelled!) if (!answer.consume(f)) break scan;
  }
  const { rows, value } = answer.finish(ctx.frames);
  const interval = value !== undefined ? { low: value, high: value, confidence: query.accuracy.error?.confidence ?? 1 } : undefined;
  return assemble(ctx, answer.columns, rows, value, interval, accuracy());
}

/** Presence: the rows (and COUNT(DISTINCT frame)'s value and interval) from the final, certified decisions. */
async function presenceAnswer(ctx: ExecutionContext, decided: CascadeBatch): Promise<QueryResult> {
  const { query } = ctx;
  const positive = (i: number) => decided.decision[i] === 1;
  const { rows, value } = await presenceRows(ctx, positive);
  const c = ctx.certificate!;
  const { fnr, fpr, precision } = query.accuracy;
  const estimated: Record<string, number> = { fnr: c.fnr, fpr: c.fpr, ...(precision !== undefined ? { precision: c.precision } : {}) };
  const met = c.fnr <= fnr && c.fpr <= fpr && (precision === undefined || c.precision >= precision);
  const pct = `${Number((c.confidence * 100).toFixed(2))}%`;
  const bounds = `FNR <= ${fmt(c.fnr)}, FPR <= ${fmt(c.fpr)}${precision !== undefined ? `, precision >= ${fmt(c.precision)}` : ''}`;
  const targets = `FNR ${fnr}, FPR ${fpr}${precision !== undefined ? `, precision ${precision}` : ''}`;
  const why = met ? '' : c.budgetReached ? `; the budget of ${query.accuracy.budget} reference calls ended first, so these are the bounds that hold, not the targets` : '; the targets are not met';
  const accuracy: AccuracyReport = {
    mode: 'cascade',
    targets: accuracyTargets(query),
    estimated,
    met,
    confidence: c.confidence,
    method: CERTIFICATION_METHOD,
    note: `cascade, certified at ${pct} confidence: ${bounds} (targets ${targets})${why}; from ${c.sampled} of the ${c.unverified} frames the reference did not otherwise see, labelled at random (${c.looks} look${c.looks > 1 ? 's' : ''}; ${CERTIFICATION_METHOD}); ${ctx.uncertainChecked} uncertain frames checked by the reference detector; ${ctx.counters.referenceCalls} reference calls in all`,
  };
  // COUNT(DISTINCT frame): the true count lies within the certified numbers of misses and false positives.
  const interval = value === undefined ? undefined : { low: Math.max(0, value - Math.floor(c.falsePositives + 1e-9)), high: Math.min(ctx.frames, value + Math.ceil(c.falseNegatives - 1e-9)), confidence: c.confidence };
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
  const a = query.accuracy;
  if (query.shape !== 'aggregate' || isDistinctFrames(query)) return { fnr: a.fnr, fpr: a.fpr, ...(a.precision !== undefined ? { precision: a.precision } : {}), confidence: a.confidence };
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


function isDistinctFrames(query: BoundQuery): boolean {
  return query.shape === 'aggregate' && query.outputs.every((o) => o.aggregate.fn === 'count-distinct-frames');
}
