import { resolve } from 'node:path';
import { bindQuery, type BindContext, type BoundQuery } from './binder/index.js';
import type { EngineSession, VideoHandle } from './engine-session.js';
import type { QueryOptions } from './engine.js';
import { defaultVideoName } from './video/video-name.js';
import type { AccuracyReport, QueryResult, RunStats, StageStats } from './engine-types.js';
import { parseQuery } from './language/index.js';
import { machineKey } from './machine.js';
import { createAnswerOperator } from './operators/answer-operator.js';
import { referenceScan, type ReferenceScanCounters } from './operators/reference-scan-operator.js';
import { framesInBounds, frameList } from './plan/frame-selection.js';
import { explainCascade, explainExact, type ExactPlan } from './plan/explain.js';
import { cascadeKey, cascadeTaskFor, runCascade, type CascadeParams } from './cascade-runner.js';
import type { ModelRow } from './storage/catalog-rows.js';
import { detectorInputKey, loadDecodeCosts, recordDecodeCosts, recordOutputCost } from './optimizer/decode-cost.js';
import { emptyDecodeStats } from './video/decoder.js';
import { FrameLedger, decodeSummary } from './video/decode-ledger.js';

const KIND = { 'select-rows': 'rows', 'select-frames': 'frames', aggregate: 'aggregate', 'grouped-limit': 'limit' } as const;

/** parse -> bind -> plan -> execute, and the query-run record. */
export async function runQuery(engine: EngineSession, sql: string, options: QueryOptions): Promise<QueryResult> {
  const started = performance.now();
  const startedAt = new Date();
  const statement = parseQuery(sql);
  const model = await engine.referenceModel();
  const query = bindQuery(statement, await bindContext(engine, options, model.manifest.labels));
  const registered = await engine.registerVideo(query.video.path);
  const decodeCosts = await loadDecodeCosts(engine.catalog, registered.row.width, registered.row.height, machineKey());
  const handle = { ...registered, seekGap: decodeCosts.seekGap, outputCost: { seekSeconds: decodeCosts.seekSeconds, outputPerPixel: decodeCosts.outputPerPixel } };
  const modelRow = await engine.referenceModelRow();
  const { start, end } = framesInBounds(query.bounds, handle.timestamps, query.where);
  const frames = frameList(start, end);
  const plan: ExactPlan = {
    video: query.video.name,
    path: handle.row.path,
    model: model.manifest.name,
    start,
    end,
    labelled: await engine.catalog.countLabelled(handle.row.id, modelRow.id, { start, end }),
    referenceSecondsPerFrame: (await engine.catalog.findStageCost('reference', model.sha256, machineKey()))?.secondsPerFrame,
    decodeSize: `${handle.row.width}x${handle.row.height}`,
  };
  const task = options.exact ? undefined : cascadeTaskFor(query);
  if (query.explain === 'plan') {
    if (task) {
      const stored = await engine.catalog.findSpecializedModel({ videoId: handle.row.id, referenceModelId: modelRow.id, predicateKey: cascadeKey(task, query), kind: task });
      return explainResult(query, handle, explainCascade(query, plan, task, stored?.metrics as CascadeParams | undefined), started);
    }
    return explainResult(query, handle, explainExact(query, plan), started);
  }
  const outcome = task ? await runCascade({ engine, query, task, handle, model: modelRow, start, end, options, started }) : undefined;
  const cascade = outcome && 'result' in outcome ? outcome : undefined;
  const result = cascade?.result ?? withNote(await executeExact(engine, query, handle, modelRow, frames, options, started), outcome && 'fallback' in outcome ? outcome.fallback : undefined);
  const params = cascade ? (cascade.planJson as CascadeParams) : undefined;
  const text = cascade
    ? explainCascade(query, plan, task!, params, query.explain === 'analyze' ? result.stats : undefined)
    : explainExact(query, plan, query.explain === 'analyze' ? result.stats : undefined);
  await engine.catalog.recordQueryRun({
    query: query.text,
    startedAt,
    finishedAt: new Date(),
    videoId: handle.row.id,
    modelId: modelRow.id,
    plan: cascade ? cascade.planJson : { kind: 'exact', ...plan },
    referenceCalls: result.stats.referenceCalls,
    framesDecoded: result.stats.framesDecoded,
    seconds: result.stats.seconds,
    result: { value: result.value ?? null, rows: result.rows.length },
    status: 'ok',
  });
  return query.explain === 'analyze' ? { ...result, kind: 'explain', plan: text } : { ...result, plan: text };
}

async function bindContext(engine: EngineSession, options: QueryOptions, labels: readonly string[]): Promise<BindContext> {
  const names = new Map<string, string>();
  for (const v of await engine.catalog.listVideos()) if (v.name) names.set(v.name, v.path);
  for (const [name, path] of Object.entries(options.videos ?? {})) names.set(name, resolve(path));
  return {
    resolveVideo: (ref) =>
      ref.kind === 'name'
        ? names.has(ref.name)
          ? { name: ref.name, path: names.get(ref.name)! }
          : undefined
        : { name: defaultVideoName(ref.path), path: resolve(ref.path) },
    videoNames: () => [...names.keys()],
    labels,
  };
}

async function executeExact(
  engine: EngineSession,
  query: BoundQuery,
  handle: VideoHandle,
  model: ModelRow,
  frames: Int32Array,
  options: QueryOptions,
  started: number,
): Promise<QueryResult> {
  const labels = (await engine.referenceModel()).manifest.labels;
  const answer = createAnswerOperator(query, labels);
  const counters: ReferenceScanCounters = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0, ledger: new FrameLedger(handle.row.frameCount), decode: emptyDecodeStats() };
  const onProgress = options.onProgress
    ? (done: number, total: number) => options.onProgress!({ phase: 'label', label: 'reference detector', done, total, unit: 'frames' })
    : undefined;
  const scanStarted = performance.now();
  scan: for await (const chunk of referenceScan(engine.scanContext(handle, model, options.signal, onProgress), frames, counters)) {
    for (const f of chunk) if (!answer.consume(f)) break scan;
  }
  const scanSeconds = (performance.now() - scanStarted) / 1000;
  if (counters.referenceCalls > 0) {
    const m = await engine.referenceModel();
    await engine.catalog.putStageCost({ stageKind: 'reference', key: m.sha256, machine: machineKey(), secondsPerFrame: counters.detectSeconds / counters.referenceCalls });
  }
  await recordDecodeCosts(engine.catalog, handle.row.width, handle.row.height, machineKey(), { all: counters.decode! });
  const inputKey = detectorInputKey(handle.row.width, handle.row.height);
  await recordOutputCost(engine.catalog, inputKey, machineKey(), counters.decodeWaitSeconds ?? 0, counters.framesDecoded);
  const { rows, value } = answer.finish(frames.length);
  const stages: StageStats[] = [
    { stage: 'label store', framesIn: counters.labelsFromStore + counters.referenceCalls, framesDecided: counters.labelsFromStore, seconds: 0 },
    { stage: 'reference detector', framesIn: counters.referenceCalls, framesDecided: counters.referenceCalls, seconds: scanSeconds },
  ];
  const stats: RunStats = {
    framesInRange: frames.length,
    framesDecoded: counters.framesDecoded,
    referenceCalls: counters.referenceCalls,
    labelsFromStore: counters.labelsFromStore,
    seconds: (performance.now() - started) / 1000,
    stages,
    ...decodeSummary(counters),
  };
  return {
    kind: KIND[query.shape],
    video: { name: query.video.name, path: handle.row.path },
    columns: answer.columns,
    rows,
    ...(value !== undefined ? { value, interval: { low: value, high: value, confidence: query.accuracy.error?.confidence ?? 1 } } : {}),
    accuracy: exactAccuracy(query),
    stats,
    plan: '',
  };
}

export function accuracyTargets(query: BoundQuery): Record<string, number> {
  const t: Record<string, number> = {};
  if (query.shape === 'aggregate') {
    if (query.accuracy.error) {
      t.error = query.accuracy.error.within;
      t.confidence = query.accuracy.error.confidence;
    }
  } else {
    t.fnr = query.accuracy.fnr;
    t.fpr = query.accuracy.fpr;
  }
  return t;
}

function exactAccuracy(query: BoundQuery): AccuracyReport {
  const targets = accuracyTargets(query);
  return {
    mode: 'exact',
    targets,
    estimated: Object.fromEntries(Object.keys(targets).filter((k) => k !== 'confidence').map((k) => [k, 0])),
    met: true,
    note: 'exact: the reference detector labelled every frame in range, so every accuracy target is met',
  };
}

/** When a cascade could apply but the optimizer chose the reference on every frame, say why. */
function withNote(result: QueryResult, why: string | undefined): QueryResult {
  if (!why) return result;
  return { ...result, accuracy: { ...result.accuracy, note: `${result.accuracy.note} (cascade not used: ${why})` } };
}

function explainResult(query: BoundQuery, handle: VideoHandle, plan: string, started: number): QueryResult {
  return {
    kind: 'explain',
    video: { name: query.video.name, path: handle.row.path },
    columns: [],
    rows: [],
    accuracy: exactAccuracy(query),
    stats: { framesInRange: 0, framesDecoded: 0, referenceCalls: 0, labelsFromStore: 0, seconds: (performance.now() - started) / 1000, stages: [] },
    plan,
  };
}
