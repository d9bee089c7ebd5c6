/**
 * Running what the optimizer chose: the query's execution context and the optimizer's inputs,
 * the measuring steps of a cold cascade, the plan itself (storing a cascade chosen this query
 * first, so the next run is warm), and the query-run record.
 */
import { bindQuery } from '../binder/index.js';
import type { EngineSession } from '../engine-session.js';
import type { QueryOptions } from '../engine.js';
import type { QueryResult } from '../engine-types.js';
import { parseQuery } from '../language/index.js';
import { formatExpression } from '../language/format-query.js';
import { cascadeKey } from '../optimizer/cascade-statistics.js';
import { countVarianceRatio } from '../optimizer/cascade-search.js';
import { COST_KEYS, loadCostModel } from '../optimizer/cost-model.js';
import { loadDecodeCosts, recordDecodeCosts } from '../optimizer/decode-cost.js';
import { machineKey } from '../optimizer/machine.js';
import type { OptimizerInput } from '../optimizer/optimizer-input.js';
import { cascadeTaskOf } from '../optimizer/optimizer.js';
import type { FreshCascade, OptimizeStep } from '../optimizer/optimize-step.js';
import { framesInBounds } from '../optimizer/rules/push-range-into-scan-rule.js';
import { buildLogicalPlan } from '../plan/logical-node.js';
import { indexSample } from '../video-index/index-sample.js';
import type { AnswerNode } from '../plan/physical-node.js';
import { answerOperator, exactAccuracy } from './answer-operator.js';
import { buildOperators } from './build-operators.js';
import { ExecutionContext } from './execution-context.js';
import { provenanceOf, storedAnswer } from '../runs/run-record.js';

/** Parse, bind, register the video, and gather what the optimizer reads. */
export async function openQuery(session: EngineSession, sql: string, options: QueryOptions): Promise<{ ctx: ExecutionContext; input: OptimizerInput }> {
  const started = performance.now();
  const statement = parseQuery(sql);
  const model = await session.referenceModel();
  const query = bindQuery(statement, await session.bindContext(options, model.manifest.labels));
  const registered = await session.registerVideo(query.video.path);
  const catalog = session.catalog;
  const machine = machineKey();
  const decodeCosts = await loadDecodeCosts(catalog, registered.row.width, registered.row.height, machine);
  const handle = { ...registered, seekGap: decodeCosts.seekGap, outputCost: { seekSeconds: decodeCosts.seekSeconds, outputPerPixel: decodeCosts.outputPerPixel } };
  const modelRow = await session.referenceModelRow();
  const range = framesInBounds(query.bounds, handle.timestamps, query.where);
  const select = statement.kind === 'explain' ? statement.query : statement;
  const logical = buildLogicalPlan(query, select.where ? `WHERE ${formatExpression(select.where)}` : '(none)');
  const task = options.exact ? undefined : cascadeTaskOf(logical);
  const key = task ? { videoId: handle.row.id, referenceModelId: modelRow.id, predicateKey: cascadeKey(task, query), kind: task } : undefined;
  const ctx = new ExecutionContext(session, query, handle, modelRow, model.manifest.labels, range, options, started, task, key);
  const stored = key ? await catalog.findSpecializedModel(key) : undefined;
  const reference = COST_KEYS.reference(model.sha256);
  const input: OptimizerInput = {
    query,
    logical,
    video: { name: query.video.name, path: handle.row.path },
    referenceModel: model.manifest.name,
    range,
    labelled: await catalog.countLabelled(handle.row.id, modelRow.id, range),
    costs: await loadCostModel(catalog, { width: handle.row.width, height: handle.row.height, contentHash: handle.row.contentHash, referenceSha256: model.sha256 }),
    referenceDetectorSeconds: (await catalog.findStageCost(reference.stageKind, reference.key, machine))?.secondsPerFrame,
    exact: options.exact ?? false,
    stored: stored ? { statistics: stored.metrics as never, onnx: stored.onnx } : undefined,
    measured: ctx.measured,
    noBisection: options.planner?.bisection === false,
    noSearch: options.planner?.search === false,
    index: await indexInput(catalog, handle.row, modelRow.id, model.manifest.labels),
  };
  return { ctx, input };
}

/** What the optimizer reads of the video's index: the classes it has signals for, and its sample's frames in the store. */
async function indexInput(catalog: ExecutionContext['catalog'], video: { id: number; frameCount: number }, modelId: number, labels: readonly string[]): Promise<OptimizerInput['index']> {
  const signals = await catalog.indexSignals(video.id, modelId);
  const { step } = indexSample(video.frameCount);
  const labelled = await catalog.labelledFrames(video.id, modelId, { start: 0, end: video.frameCount });
  return { frames: video.frameCount, classIds: signals.filter((s) => s.values.length === video.frameCount).map((s) => s.classId), sampleLabelled: labelled.filter((f) => f % step === 0).length, labels };
}

/** Runs the measuring step a plan of measuring steps asks for (its results land in `ctx.measured`). */
export async function measure(plan: AnswerNode, ctx: ExecutionContext): Promise<void> {
  await answerOperator(plan, ctx, buildOperators(plan.input, ctx));
}

/** Runs the chosen plan: stores a cascade chosen this query first, then the operators. */
export async function executePlan(step: Extract<OptimizeStep, { kind: 'execute' }>, ctx: ExecutionContext): Promise<QueryResult> {
  if (step.fresh) await storeCascade(ctx, step.fresh);
  ctx.cascade = step.cascade;
  const result = (await answerOperator(step.plan, ctx, buildOperators(step.plan.input, ctx)))!;
  const { width: W, height: H } = ctx.handle.row;
  await recordDecodeCosts(ctx.catalog, W, H, machineKey(), { all: ctx.counters.decode! });
  // When a cascade could apply but the optimizer chose the reference on every frame, say why.
  if (!step.fallback) return result;
  return { ...result, accuracy: { ...result.accuracy, note: `${result.accuracy.note} (cascade not used: ${step.fallback.message})` } };
}

/** Stores the cascade the optimizer chose this query and the costs its measurements found. */
async function storeCascade(ctx: ExecutionContext, fresh: FreshCascade): Promise<void> {
  const { catalog, key } = ctx;
  const st = fresh.statistics;
  if (fresh.note) ctx.stages.push(fresh.note);
  await catalog.putSpecializedModel({ ...key!, architecture: fresh.trained ? st.architecture : null, onnx: fresh.onnx, manifest: fresh.trained?.manifest ?? null, metrics: st });
  if (!fresh.trained) return;
  const machine = machineKey();
  const candidates = ctx.measured.training?.candidates ?? [];
  const put = (k: { stageKind: string; key: string }, secondsPerFrame: number) => catalog.putStageCost({ ...k, machine, secondsPerFrame });
  await put(COST_KEYS.specialized(st.architecture.inputSize), Number(st.costs.specialized));
  if (candidates.length > 0) await put(COST_KEYS.trainImageEpoch, candidates[candidates.length - 1]!.trainPerImageEpoch);
  await put(COST_KEYS.trainEpochs, fresh.trained.metrics.epochs);
  if (st.task === 'presence') await put(COST_KEYS.uncertainShare(ctx.handle.row.contentHash), Math.max(1e-6, Number(st.heldOut.uncertain ?? 0)));
  if (st.task === 'count') await put(COST_KEYS.countVarianceRatio(ctx.handle.row.contentHash), Math.max(1e-6, countVarianceRatio(st.heldOut)));
}

/** Stores the query run: its query, plan, reference calls and result. */
/**
 * Stores the run under the id the engine reserved for it: the plan, the answer as `sieve runs` and
 * `sieve report` read it (with the EXPLAIN ANALYZE text), and what it reused from earlier runs.
 */
export async function recordRun(ctx: ExecutionContext, step: Extract<OptimizeStep, { kind: 'execute' }>, input: OptimizerInput, result: QueryResult, startedAt: Date, runId: number, planText: string): Promise<void> {
  const st = step.cascade?.statistics;
  const { range } = ctx;
  const search = ctx.search;
  const plan = search
    ? { kind: 'limit-search', index: ctx.indexUse, verified: search.verified, ranked: search.ranked, batches: search.batches, fromStore: search.fromStore, exhausted: search.exhausted, start: range.start, end: range.end }
    : st
    ? { kind: 'cascade', ...st, trainingFrames: st.trainingFrames.length, estimationFrames: st.estimationFrames.length }
    : { kind: 'exact', video: ctx.query.video.name, path: ctx.handle.row.path, model: input.referenceModel, start: range.start, end: range.end, labelled: input.labelled, referenceSecondsPerFrame: input.referenceDetectorSeconds, decodeSize: `${ctx.handle.row.width}x${ctx.handle.row.height}` };
  const videoId = ctx.handle.row.id;
  const provenance = await provenanceOf(ctx.catalog, { id: runId, videoId, modelId: ctx.model.id }, {
    storeFrames: ctx.counters.storeFrames,
    model: step.cascade && ctx.key ? ctx.key : undefined,
    index: ctx.indexUse,
  });
  await ctx.catalog.recordQueryRun({
    id: runId,
    query: ctx.query.text,
    startedAt,
    finishedAt: new Date(),
    videoId,
    modelId: ctx.model.id,
    plan,
    referenceCalls: result.stats.referenceCalls,
    framesDecoded: result.stats.framesDecoded,
    seconds: result.stats.seconds,
    result: storedAnswer(result, planText, { classes: ctx.query.classNames, range, timestamps: ctx.handle.timestamps }),
    status: 'ok',
    provenance,
  });
}

/** EXPLAIN (without ANALYZE): the plan, nothing run. */
export function explainResult(ctx: ExecutionContext, plan: string): QueryResult {
  return {
    kind: 'explain',
    video: { name: ctx.query.video.name, path: ctx.handle.row.path },
    columns: [],
    rows: [],
    accuracy: exactAccuracy(ctx.query),
    stats: { framesInRange: 0, framesDecoded: 0, referenceCalls: 0, labelsFromStore: 0, seconds: (performance.now() - ctx.started) / 1000, stages: [] },
    plan,
  };
}
