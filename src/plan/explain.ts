/**
 * EXPLAIN: the physical plan as a tree, one renderer per node kind, with each stage's cost
 * (measured, or marked assumed) and accuracy estimate; what the optimizer weighed; and for
 * EXPLAIN ANALYZE what each stage actually did.
 */
import type { BoundQuery } from '../binder/index.js';
import type { RunStats } from '../engine-types.js';
import type { Considered } from '../optimizer/cascade-search.js';
import { bisectionLabels } from '../optimizer/calibration.js';
import { CERTIFICATION_METHOD } from '../optimizer/certification.js';
import { shapeOf, type LogicalNode } from './logical-node.js';
import { inputOf, type NodeOf, type PhysicalKind, type PhysicalNode, type StageCost } from './physical-node.js';

/** A node as EXPLAIN prints it: its line, detail lines under it, and a leaf it runs itself (a scan's decode). */
interface Rendered {
  readonly head: string;
  readonly details?: readonly string[];
  readonly leaf?: string;
}

const ms = (s: number | undefined) => (s === undefined ? '?' : `${(s * 1000).toFixed(3)} ms`);
const per = (c: StageCost) => (c.secondsPerFrame === undefined ? 'not measured yet' : `${ms(c.secondsPerFrame)}/frame${c.assumed ? ' assumed' : ''}`);
const frames = (n: { range: { start: number; end: number } }) => n.range.end - n.range.start;
const num = (v: number | undefined, digits: number) => Number(v ?? Number.NaN).toFixed(digits);

const RENDER: { readonly [K in PhysicalKind]: (node: NodeOf<K>) => Rendered } = {
  Answer: (n) => ({ head: topLine(n.logical, n.query), details: [`Filter ${shapeOf(n.logical).input.text}`] }),
  ReferenceScan: (n) =>
    n.role === 'all'
      ? {
          head: `ReferenceScan ${n.model} on '${n.video}' frames [${n.range.start}, ${n.range.end}): ${frames(n)} frames, ${n.labelled} in the label store, ${frames(n) - n.labelled} to detect`,
          details: [`estimated cost: ${n.cost.secondsPerFrame === undefined ? 'reference cost not measured on this machine yet' : `${((frames(n) - n.labelled) * n.cost.secondsPerFrame).toFixed(1)} s (${(n.cost.secondsPerFrame * 1000).toFixed(1)} ms/frame measured)`}; accuracy: exact`],
          leaf: `Decode ${n.path} (frames missing from the store only, scaled for the detector)`,
        }
      : { head: `ReferenceScan ${n.model} on uncertain frames (${ms(n.cost.secondsPerFrame)}/frame; label store first: ${n.labelled} labelled)` },
  Interpolate: (n) => ({
    head: n.bisect
      ? `Interpolate between agreeing labelled frames (sample every ${n.sampleStep}, no model); gaps with a change are bisected by the reference (about ${bisectionLabels(n.sampleStep)} labels each) until the change lies between neighbours`
      : n.decide
      ? `Interpolate between agreeing labelled frames (sample every ${n.sampleStep})${n.net ? ` unless the net flags them (p >= ${n.thresholds.cLow.toFixed(4)} in negative gaps, p <= ${n.thresholds.cHigh.toFixed(4)} in positive ones)` : ' (no net)'}; the model decides the rest (p < ${n.decide.cLow.toFixed(4)} negative, p > ${n.decide.cHigh.toFixed(4)} positive), its band goes to the reference`
      : `Interpolate between agreeing labelled frames (sample every ${n.sampleStep}); gaps with a change go to the reference${n.net ? `, and so do frames the net flags: p >= ${n.thresholds.cLow.toFixed(4)} in negative gaps, p <= ${n.thresholds.cHigh.toFixed(4)} in positive ones` : ''}`,
  }),
  SpecializedScore: (n) => {
    const a = n.architecture;
    const h = n.heldOut;
    const arch = `${a.convBlocks} conv x ${a.baseFilters} filters, dense ${a.dense}, ${a.inputSize}px`;
    if (n.task === 'count') return { head: `SpecializedScore (count) ${arch} (${ms(n.cost.secondsPerFrame)}/frame) as control variate in each time block; held-out mean abs error ${num(h.meanAbsoluteError, 3)} vs ${num(h.meanBaselineError, 3)} for the mean` };
    const role = h.netMargin === 0 ? (h.modelDecides ? 'deciding where interpolation cannot (no net)' : 'scored, unused (no net)') : `as safety net (margin ${h.netMargin ?? '?'})`;
    return { head: `SpecializedScore ${arch} ${role} (${ms(n.cost.secondsPerFrame)}/frame); estimated FNR ${num(h.fnr ?? 0, 4)} FPR ${num(h.fpr ?? 0, 4)} on held-out frames, ${(Number(h.uncertain ?? 0) * 100).toFixed(1)}% of frames to the reference` };
  },
  DifferenceFilter: (n) => {
    const d = n.choice;
    if (!d?.enabled) return { head: `DifferenceFilter: off (${d ? `best of ${d.candidates.length} measured saves less than it costs` : 'not measured'})` };
    const kind = d.spec.kind === 'blocked' ? `blocked ${d.spec.grid}x${d.spec.grid} (max block MSE)` : 'global MSE';
    const against = d.spec.reference === 'background' ? 'background image (median of negative sample frames): closer is negative' : 'last evaluated frame: closer takes its score';
    return { head: `DifferenceFilter ${kind} vs ${against}; threshold ${d.threshold.toExponential(3)}, hit rate ${(d.hitRate * 100).toFixed(0)}% on the sample, ${ms(d.secondsPerFrame)}/frame` };
  },
  Certify: (n) => ({
    head: `Certify FNR <= ${n.fnr}${n.fpr < 1 ? `, FPR <= ${n.fpr}` : ''}${n.precision !== undefined ? `, precision >= ${n.precision}` : ''} at ${Number((n.confidence * 100).toFixed(2))}% confidence${n.budget !== undefined ? ` within ${n.budget} reference calls` : ''}: random samples of the frames the reference did not see, labelled by ${n.model} (about ${n.estimatedLabels} labels on the first look, ${per(n.cost)}${n.drawnBefore.length ? `; ${n.drawnBefore.length} drawn before, read from the store` : ''})`,
    details: [`bound: ${CERTIFICATION_METHOD}`],
  }),
  FrameSkip: (n) => ({ head: `FrameSkip every ${n.skip}` }),
  Decode: (n) => ({ head: `Decode ${n.path} at ${n.size}x${n.size}${n.step > 1 ? `, 1 frame in ${n.step}` : ''}${n.reducible ? ' (-skip_frame noref where measured cheaper)' : ''} (${ms(n.cost.secondsPerFrame)}/frame)` }),
  StratifiedEstimate: (n) => {
    const drawn = `${n.drawnBefore.length} random reference frames so far`;
    const why =
      n.withoutModel === 'not-trained'
        ? `; no specialized model (the sample's frame-to-frame variance ${num(n.heldOut.blockTruthVariance, 3)} made training cost more than it could save)`
        : n.withoutModel === 'no-gain'
          ? `; the specialized model is not used: on held-out frames its residual variance was ${num(n.heldOut.blockResidualVariance, 3)} against the count's ${num(n.heldOut.blockTruthVariance, 3)}, which saves fewer labels than scanning every frame with it costs`
          : '';
    return { head: `StratifiedEstimate over time blocks with ${n.model} (${per(n.cost)}), ± ${Number(n.within.toPrecision(4))} per frame at ${Math.round(n.confidence * 100)}%: ${drawn}${why}`, ...(n.input ? {} : { leaf: 'Decode: sampled frames only, for the reference' }) };
  },
  Calibrate: (n) => ({ head: `Calibrate (${n.task}) on ${n.frames} frames: not trained yet; the optimizer chooses the cascade from these measurements, and falls back to the reference on every frame when that is cheaper or no cascade meets the targets` }),
  TrainCandidates: (n) => ({ head: `TrainCandidates ${n.architectures.map((a) => `${a.inputSize}px`).join(', ')} on the ${n.sampleFrames}-frame sample, calibrated on later time blocks (${n.seconds.toFixed(1)} s estimated${n.assumed ? ', training cost assumed' : ''})` }),
  IndexScan: (n) => {
    const stored = n.signals.filter((s) => s.stored).map((s) => s.name);
    const missing = n.signals.filter((s) => !s.stored).map((s) => s.name);
    const from = stored.length ? `from the index: ${stored.join(', ')}` : '';
    const add = missing.length
      ? `to add to the index: ${missing.join(', ')} (label every ${n.sampleStep}th frame of the video, ${n.sampleFrames} frames, ${n.sampleMissing} not in the store; train a count model per class; score all ${n.frames} frames)`
      : '';
    return { head: `IndexScan '${n.video}' count signals ${[from, add].filter(Boolean).join('; ')}` };
  },
  LimitSearch: (n) => ({
    head: `LimitSearch LIMIT ${n.k}${n.gap !== undefined ? ` GAP ${n.gap}` : ''}: frames ranked by the index's probability of satisfying the predicate, verified by ${n.model} in rank order until ${n.k} are verified (${n.labelled} frames in the label store checked first, free; ${per(n.cost)})`,
    details: ['every returned frame is verified by the reference; where fewer than the limit exist, every frame is checked and the answer is exact'],
  }),
  LabelSample: (n) => ({ head: `LabelSample ${n.model}${n.pilot ? ' (pilot third)' : ''}: every ${n.step}th frame, ${n.frames} frames, ${n.missing} to detect (${per(n.cost)})` }),
};

/** The physical plan as a tree; with `stats`, what actually happened (ANALYZE). */
export function explainPlan(plan: PhysicalNode, stats?: RunStats): string {
  const lines: string[] = [];
  let indent = '';
  for (let node: PhysicalNode | undefined = plan, depth = 0; node; node = inputOf(node), depth++) {
    const r = (RENDER[node.kind] as (n: PhysicalNode) => Rendered)(node);
    const more = inputOf(node) !== undefined || r.leaf !== undefined;
    lines.push(depth === 0 ? r.head : `${indent}└─ ${r.head}`);
    const inner = depth === 0 ? '' : `${indent}   `;
    for (const d of r.details ?? []) lines.push(node.kind === 'Answer' ? `└─ ${d}` : `${inner}${more ? '│  ' : '   '}${d}`);
    if (r.leaf) lines.push(`${inner}└─ ${r.leaf}`);
    indent = node.kind === 'Answer' ? '   ' : inner;
  }
  // An exact plan's cost is its scan's, shown on it.
  if (plan.kind === 'Answer') lines.push(...consideredLines(plan.input.kind === 'ReferenceScan' && plan.input.role === 'all' ? undefined : plan.seconds, plan.considered));
  if (stats) {
    lines.push('');
    lines.push(`Actual: ${stats.framesInRange} frames in range, ${stats.labelsFromStore} labels from the store, ${stats.referenceCalls} reference calls, ${stats.framesDecoded} frames decoded, ${stats.seconds.toFixed(2)} s`);
    for (const s of stats.stages) lines.push(`  ${s.stage}: ${s.framesIn} frames in, ${s.framesDecided} decided, ${s.seconds.toFixed(2)} s`);
  }
  return lines.join('\n');
}

function consideredLines(seconds: number | undefined, considered: readonly Considered[]): string[] {
  const out: string[] = [];
  if (seconds !== undefined) out.push('', `Estimated: ${seconds.toFixed(2)} s`);
  if (considered.length === 0) return out;
  if (seconds === undefined) out.push('');
  out.push('Considered:');
  for (const c of considered) {
    if (c.kind === 'assumed') out.push(`  assumed cost ${c.cost}: ${c.why}`);
    else if (c.kind === 'fallback') out.push(`  cascade not used: ${c.reason.message}`);
    else out.push(`  ${c.chosen ? 'chosen' : c.meets ? 'costlier' : 'misses targets'}: ${c.description}, ${Object.entries(c.estimated).map(([k, v]) => `${k} ${Number(v.toFixed(4))}`).join(', ')}, ${c.seconds.toFixed(2)} s`);
  }
  return out;
}

const TOP: { readonly [K in ReturnType<typeof shapeOf>['kind']]: (names: string) => string } = {
  Project: (names) => `Project ${names}`,
  FrameSelect: (names) => `FrameSelect ${names} (frames with a matching object)`,
  Aggregate: (names) => `Aggregate ${names}`,
  GroupByFrame: (names) => `GroupByFrame HAVING (${names})`,
};

function topLine(logical: LogicalNode, query: BoundQuery): string {
  const shape = shapeOf(logical);
  const limit = logical.kind === 'Limit' ? ` LIMIT ${logical.count}${logical.gap !== undefined ? ` GAP ${logical.gap}` : ''}` : '';
  const order = query.orderBy.length > 0 ? ' ORDER BY' : '';
  return `${TOP[shape.kind](shape.outputs.map((o) => o.name).join(', '))}${order}${limit}`;
}
