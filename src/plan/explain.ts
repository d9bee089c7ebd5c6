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
