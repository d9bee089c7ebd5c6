import type { BoundQuery } from '../binder/index.js';
import type { LogicalNode } from '../plan/logical-node.js';
import type { StoredCascade } from './cascade-statistics.js';
import type { CostModel } from './cost-model.js';
import type { Measurements } from './measurements.js';
import type { FrameRange } from './rules/push-range-into-scan-rule.js';

/** Everything the optimizer reads: the plan, the video's range, stored costs and cascades, and what this query measured. */
export interface OptimizerInput {
  readonly query: BoundQuery;
  readonly logical: LogicalNode;
  readonly video: { readonly name: string; readonly path: string };
  readonly referenceModel: string;
  readonly range: FrameRange;
  /** Frames of the range in the label store when the query began. */
  readonly labelled: number;
  readonly costs: CostModel;
  /** The reference detector's own seconds per frame, when measured on this machine. */
  readonly referenceDetectorSeconds: number | undefined;
  /** `--exact`: the reference on every frame, no cascade considered. */
  readonly exact: boolean;
  /** The cascade stored for this video, reference model and predicate. */
  readonly stored: StoredCascade | undefined;
  readonly measured: Measurements;
  /** The per-video index: the classes it has signals for, and its sample's frames in the label store. */
  readonly index?: { readonly frames: number; readonly classIds: readonly number[]; readonly sampleLabelled: number; readonly labels: readonly string[] };
  /** `QueryOptions.planner.search === false`: LIMIT queries scan in frame order. */
  readonly noSearch?: boolean;
  /** `QueryOptions.planner.bisection === false`: no presence cascade without a model. */
  readonly noBisection?: boolean;
}
