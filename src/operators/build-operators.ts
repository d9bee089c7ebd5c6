/**
 * Composes a physical plan's operators, one per node, bottom up: each takes its node, the
 * execution context and its input's stream (EvaDB's executor tree, as async iterables).
 */
import { inputOf, type NodeOf, type PhysicalKind, type PhysicalNode } from '../plan/physical-node.js';
import { calibrateOperator } from './calibrate-operator.js';
import { certifyOperator } from './certify-operator.js';
import { decodeOperator } from './decode-operator.js';
import { differenceFilterOperator } from './difference-filter-operator.js';
import type { CascadeBatch, ExecutionContext } from './execution-context.js';
import { frameSkipOperator } from './frame-skip-operator.js';
import { indexScanOperator } from './index-scan-operator.js';
import { interpolateOperator } from './interpolate-operator.js';
import { limitSearchOperator } from './limit-search-operator.js';
import { labelSampleOperator } from './label-sample-operator.js';
import { referenceScanOperator } from './reference-scan-operator.js';
import { specializedScoreOperator } from './specialized-score-operator.js';
import { stratifiedEstimateOperator } from './stratified-estimate-operator.js';
import { trainCandidatesOperator } from './train-candidates-operator.js';

type Stream = AsyncIterable<CascadeBatch>;
type Build<K extends PhysicalKind> = (node: NodeOf<K>, ctx: ExecutionContext, input: Stream | undefined) => Stream;

/** Every node kind but the root Answer, which is the sink (`answerOperator`). */
const OPERATORS: { readonly [K in Exclude<PhysicalKind, 'Answer'>]: Build<K> } = {
  ReferenceScan: referenceScanOperator,
  Decode: (node, ctx) => decodeOperator(node, ctx),
  FrameSkip: (node, ctx, input) => frameSkipOperator(node, ctx, input!),
  DifferenceFilter: (node, ctx, input) => differenceFilterOperator(node, ctx, input!),
  SpecializedScore: (node, ctx, input) => specializedScoreOperator(node, ctx, input!),
  Interpolate: (node, ctx, input) => interpolateOperator(node, ctx, input),
  Certify: (node, ctx, input) => certifyOperator(node, ctx, input!),
  StratifiedEstimate: stratifiedEstimateOperator,
  LabelSample: (node, ctx) => labelSampleOperator(node, ctx),
  TrainCandidates: (node, ctx) => trainCandidatesOperator(node, ctx),
  IndexScan: (node, ctx) => indexScanOperator(node, ctx),
  LimitSearch: (node, ctx, input) => limitSearchOperator(node, ctx, input!),
  // Calibrate runs only the deepest measuring step below it; it builds that one itself.
  Calibrate: (node, ctx) => calibrateOperator(node, ctx),
};

/** The stream of `node` with its inputs composed below it. */
export function buildOperators(node: PhysicalNode, ctx: ExecutionContext): Stream {
  if (node.kind === 'Answer') throw new Error('internal: the Answer node is the sink, not an operator');
  const child = node.kind === 'Calibrate' ? undefined : inputOf(node);
  const input = child ? buildOperators(child, ctx) : undefined;
  return (OPERATORS[node.kind] as Build<typeof node.kind>)(node as never, ctx, input);
}
