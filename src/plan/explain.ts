import type { BoundQuery } from '../binder/index.js';
import type { RunStats } from '../engine-types.js';

/** What the exact (ground-truth) plan will do, for EXPLAIN. */
export interface ExactPlan {
  readonly video: string;
  readonly path: string;
  readonly model: string;
  readonly start: number;
  readonly end: number;
  /** Frames of the range already in the label store. */
  readonly labelled: number;
  /** Measured on this machine by an earlier run, when there was one. */
  readonly referenceSecondsPerFrame: number | undefined;
  readonly decodeSize: string;
}

const TOP: { readonly [S in BoundQuery['shape']]: (q: Extract<BoundQuery, { shape: S }>) => string } = {
  'select-rows': (q) => `Project ${q.outputs.map((o) => o.name).join(', ')}`,
  'select-frames': (q) => `FrameSelect ${q.outputs.map((o) => o.name).join(', ')} (frames with a matching object)`,
  aggregate: (q) => `Aggregate ${q.outputs.map((o) => o.name).join(', ')}`,
  'grouped-limit': (q) => `GroupByFrame HAVING (${q.outputs.map((o) => o.name).join(', ')})`,
};

/** The exact plan as a tree, with estimates; with `stats`, what actually happened (ANALYZE). */
export function explainExact(query: BoundQuery, plan: ExactPlan, stats?: RunStats): string {
  const frames = plan.end - plan.start;
  const missing = frames - plan.labelled;
  const cost = plan.referenceSecondsPerFrame;
  const lines: string[] = [];
  const limit = query.limit !== undefined ? ` LIMIT ${query.limit}${query.gap !== undefined ? ` GAP ${query.gap}` : ''}` : '';
  const order = query.orderBy.length > 0 ? ' ORDER BY' : '';
  lines.push(`${(TOP[query.shape] as (q: BoundQuery) => string)(query)}${order}${limit}`);
  lines.push(`└─ Filter ${whereText(query)}`);
  lines.push(`   └─ ReferenceScan ${plan.model} on '${plan.video}' frames [${plan.start}, ${plan.end}): ${frames} frames, ${plan.labelled} in the label store, ${missing} to detect`);
  lines.push(`      │  estimated cost: ${cost === undefined ? 'reference cost not measured on this machine yet' : `${(missing * cost).toFixed(1)} s (${(cost * 1000).toFixed(1)} ms/frame measured)`}; accuracy: exact`);
  lines.push(`      └─ Decode ${plan.path} (frames missing from the store only, scaled for the detector)`);
  if (stats) {
    lines.push('');
    lines.push(`Actual: ${stats.framesInRange} frames in range, ${stats.labelsFromStore} labels from the store, ${stats.referenceCalls} reference calls, ${stats.framesDecoded} frames decoded, ${stats.seconds.toFixed(2)} s`);
    for (const s of stats.stages) lines.push(`  ${s.stage}: ${s.framesIn} frames in, ${s.framesDecided} decided, ${s.seconds.toFixed(2)} s`);
  }
  return lines.join('\n');
}

function whereText(query: BoundQuery): string {
  const text = query.text;
  const m = /\bWHERE\b([\s\S]*?)(\bGROUP BY\b|\bORDER BY\b|\bLIMIT\b|\bFNR\b|\bFPR\b|\bERROR\b|$)/i.exec(text);
  return m ? `WHERE${m[1]!.trimEnd()}` : '(none)';
}

/** The cascade plan as a tree: stored thresholds and measured costs when trained, else what a run will do. */
export function explainCascade(
  query: BoundQuery,
  plan: ExactPlan,
  task: 'presence' | 'count',
  params: import('../cascade-runner.js').CascadeParams | undefined,
  stats?: RunStats,
): string {
  const frames = plan.end - plan.start;
  const lines: string[] = [];
  const limit = query.limit !== undefined ? ` LIMIT ${query.limit}${query.gap !== undefined ? ` GAP ${query.gap}` : ''}` : '';
  const order = query.orderBy.length > 0 ? ' ORDER BY' : '';
  lines.push(`${(TOP[query.shape] as (q: BoundQuery) => string)(query)}${order}${limit}`);
  lines.push(`└─ Filter ${whereText(query)}`);
  if (!params) {
    lines.push(`   └─ Cascade (${task}) on '${plan.video}' frames [${plan.start}, ${plan.end}): ${frames} frames, ${plan.labelled} in the label store`);
    lines.push(`      │  not trained yet: a run labels a time-stratified sample, trains the specialized models, calibrates thresholds on later time blocks,`);
    lines.push(`      │  and falls back to ReferenceScan on every frame when that is cheaper (reference ${plan.referenceSecondsPerFrame === undefined ? 'not measured yet' : `${(plan.referenceSecondsPerFrame * 1000).toFixed(1)} ms/frame`})`);
    lines.push(`      └─ Decode ${plan.path}`);
  } else {
    const c = params.costs;
    const a = params.architecture;
    const ms = (s: number | undefined) => (s === undefined ? '?' : `${(s * 1000).toFixed(3)} ms`);
    const t = params.thresholds;
    const est = task === 'presence'
      ? `estimated FNR ${Number(params.heldOut.fnr ?? 0).toFixed(4)} FPR ${Number(params.heldOut.fpr ?? 0).toFixed(4)} (targets ${query.accuracy.fnr} / ${query.accuracy.fpr}), ${(Number(params.heldOut.uncertain ?? 0) * 100).toFixed(1)}% of frames to the reference`
      : `held-out mean abs error ${Number(params.heldOut.meanAbsoluteError ?? NaN).toFixed(3)} vs ${Number(params.heldOut.meanBaselineError ?? NaN).toFixed(3)} for the mean`;
    const scans = task === 'presence' || params.heldOut.controlVariate !== 0;
    const perFrame = scans ? (c.decode ?? 0) + (c.specialized ?? 0) / params.skip : 0;
    const estimation = typeof params.estimationFrames === 'number' ? params.estimationFrames : params.estimationFrames.length;
    const uncertain = task === 'presence' ? Number(params.heldOut.uncertain ?? 0) * frames : estimation;
    lines.push(`   └─ Cascade (${task}) on '${plan.video}' frames [${plan.start}, ${plan.end}): ${frames} frames; estimated ${(frames * perFrame + uncertain * (c.reference ?? 0)).toFixed(2)} s`);
    lines.push(`      ├─ ReferenceDetector ${plan.model} on uncertain frames (${ms(c.reference)}/frame; label store first: ${plan.labelled} labelled)`);
    if (t) {
      lines.push(`      ├─ Interpolate between agreeing labelled frames (sample every ${params.sampleStep}); gaps with a change go to the reference`);
      lines.push(`      ├─ SpecializedModel ${a.convBlocks} conv x ${a.baseFilters} filters, dense ${a.dense}, ${a.inputSize}px as safety net (margin ${params.heldOut.netMargin ?? '?'}): flags p >= ${t.cLow.toFixed(4)} in negative gaps, p <= ${t.cHigh.toFixed(4)} in positive ones (${ms(c.specialized)}/frame); ${est}`);
    }
    else if (params.heldOut.specializedModel === 0) lines.push(`      ├─ StratifiedSample over time blocks, ${estimation} random reference frames so far; no specialized model (the sample's frame-to-frame variance ${Number(params.heldOut.blockTruthVariance).toFixed(3)} made training cost more than it could save)`);
    else if (params.heldOut.controlVariate === 0) lines.push(`      ├─ StratifiedSample over time blocks, ${estimation} random reference frames so far; the specialized model (${a.inputSize}px) did not beat block means on held-out frames, so it is not used; ${est}`);
    else lines.push(`      ├─ SpecializedModel (count) ${a.convBlocks} conv x ${a.baseFilters} filters, dense ${a.dense}, ${a.inputSize}px (${ms(c.specialized)}/frame) as control variate in each time block, ${estimation} stratified random reference frames; ${est}`);
    const d = params.difference;
    if (d?.enabled) {
      const kind = d.spec.kind === 'blocked' ? `blocked ${d.spec.grid}x${d.spec.grid} (max block MSE)` : 'global MSE';
      const against = d.spec.reference === 'background' ? 'background image (median of negative sample frames): closer is negative' : 'last evaluated frame: closer takes its score';
      lines.push(`      ├─ DifferenceDetector ${kind} vs ${against}; threshold ${d.threshold.toExponential(3)}, hit rate ${(d.hitRate * 100).toFixed(0)}% on the sample, ${ms(d.secondsPerFrame)}/frame`);
    } else if (task === 'presence') lines.push(`      ├─ DifferenceDetector: off (${d ? `best of ${d.candidates.length} measured saves less than it costs` : 'not measured'})`);
    if (scans) lines.push(`      ├─ FrameSkip every ${params.skip}`);
    lines.push(scans ? `      └─ Decode ${plan.path} at ${a.inputSize}x${a.inputSize} (${ms(c.decode)}/frame)` : `      └─ Decode ${plan.path}: sampled frames only, for the reference`);
  }
  if (stats) {
    lines.push('');
    lines.push(`Actual: ${stats.framesInRange} frames in range, ${stats.labelsFromStore} labels from the store, ${stats.referenceCalls} reference calls, ${stats.framesDecoded} frames decoded, ${stats.seconds.toFixed(2)} s`);
    for (const s of stats.stages) lines.push(`  ${s.stage}: ${s.framesIn} frames in, ${s.framesDecided} decided, ${s.seconds.toFixed(2)} s`);
  }
  return lines.join('\n');
}
