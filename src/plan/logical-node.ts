/**
 * The logical plan: what a query asks, as a tree of frozen nodes built from the bound query
 * (Kysely's operation nodes: a `kind`, same-name factories). The optimizer's rules turn it into a
 * physical plan; nothing here says how a frame's labels are obtained.
 */
import type { BoundFramePredicate, BoundOrderItem, BoundOutput, BoundPredicate, BoundQuery, FrameBounds } from '../binder/index.js';

/** Every frame of the video in `bounds` (a superset of what WHERE can match). */
export interface VideoScanNode {
  readonly kind: 'VideoScan';
  readonly video: string;
  readonly path: string;
  readonly bounds: FrameBounds;
}

/** The objects (reference detections) that pass WHERE. */
export interface ObjectFilterNode {
  readonly kind: 'ObjectFilter';
  readonly predicate: BoundPredicate;
  /** WHERE as the query wrote it (canonical FrameQL), for EXPLAIN. */
  readonly text: string;
  readonly input: VideoScanNode;
}

/** One row per matching object. */
export interface ProjectNode {
  readonly kind: 'Project';
  readonly outputs: readonly BoundOutput[];
  readonly input: ObjectFilterNode;
}

/** One row per frame with at least one matching object. */
export interface FrameSelectNode {
  readonly kind: 'FrameSelect';
  readonly outputs: readonly BoundOutput[];
  readonly input: ObjectFilterNode;
}

/** One row of aggregates over the matching objects. */
export interface AggregateNode {
  readonly kind: 'Aggregate';
  readonly outputs: readonly BoundOutput[];
  readonly input: ObjectFilterNode;
}

/** One row per frame whose matching objects satisfy HAVING. */
export interface GroupByFrameNode {
  readonly kind: 'GroupByFrame';
  readonly outputs: readonly BoundOutput[];
  readonly having: BoundFramePredicate;
  readonly input: ObjectFilterNode;
}

export type ShapeNode = ProjectNode | FrameSelectNode | AggregateNode | GroupByFrameNode;

export interface OrderByNode {
  readonly kind: 'OrderBy';
  readonly items: readonly BoundOrderItem[];
  readonly input: ShapeNode;
}

export interface LimitNode {
  readonly kind: 'Limit';
  readonly count: number;
  /** Minimum distance in frames between returned frames. */
  readonly gap: number | undefined;
  readonly input: ShapeNode | OrderByNode;
}

export type LogicalNode = VideoScanNode | ObjectFilterNode | ShapeNode | OrderByNode | LimitNode;
export type LogicalKind = LogicalNode['kind'];

const freeze = <T extends LogicalNode>(node: T): T => Object.freeze(node);

export const LogicalNode = Object.freeze({
  VideoScan: (video: string, path: string, bounds: FrameBounds): VideoScanNode => freeze({ kind: 'VideoScan', video, path, bounds }),
  ObjectFilter: (predicate: BoundPredicate, text: string, input: VideoScanNode): ObjectFilterNode => freeze({ kind: 'ObjectFilter', predicate, text, input }),
  Project: (outputs: readonly BoundOutput[], input: ObjectFilterNode): ProjectNode => freeze({ kind: 'Project', outputs, input }),
  FrameSelect: (outputs: readonly BoundOutput[], input: ObjectFilterNode): FrameSelectNode => freeze({ kind: 'FrameSelect', outputs, input }),
  Aggregate: (outputs: readonly BoundOutput[], input: ObjectFilterNode): AggregateNode => freeze({ kind: 'Aggregate', outputs, input }),
  GroupByFrame: (outputs: readonly BoundOutput[], having: BoundFramePredicate, input: ObjectFilterNode): GroupByFrameNode => freeze({ kind: 'GroupByFrame', outputs, having, input }),
  OrderBy: (items: readonly BoundOrderItem[], input: ShapeNode): OrderByNode => freeze({ kind: 'OrderBy', items, input }),
  Limit: (count: number, gap: number | undefined, input: ShapeNode | OrderByNode): LimitNode => freeze({ kind: 'Limit', count, gap, input }),
});

/** The query shape's node for each bound shape (one table: the result kind follows from it). */
const SHAPE: { readonly [S in BoundQuery['shape']]: (q: Extract<BoundQuery, { shape: S }>, input: ObjectFilterNode) => ShapeNode } = {
  'select-rows': (q, input) => LogicalNode.Project(q.outputs, input),
  'select-frames': (q, input) => LogicalNode.FrameSelect(q.outputs, input),
  aggregate: (q, input) => LogicalNode.Aggregate(q.outputs, input),
  'grouped-limit': (q, input) => LogicalNode.GroupByFrame(q.outputs, q.having, input),
};

/** The logical plan of a bound query: Limit <- OrderBy <- shape <- ObjectFilter <- VideoScan. */
export function buildLogicalPlan(query: BoundQuery, whereText: string): LogicalNode {
  const scan = LogicalNode.VideoScan(query.video.name, query.video.path, query.bounds);
  const filter = LogicalNode.ObjectFilter(query.where, whereText, scan);
  const shape = (SHAPE[query.shape] as (q: BoundQuery, input: ObjectFilterNode) => ShapeNode)(query, filter);
  const ordered = query.orderBy.length > 0 ? LogicalNode.OrderBy(query.orderBy, shape) : shape;
  return query.limit !== undefined ? LogicalNode.Limit(query.limit, query.gap, ordered) : ordered;
}

/** The query's shape node under any OrderBy / Limit. */
export function shapeOf(node: LogicalNode): ShapeNode {
  switch (node.kind) {
    case 'Limit':
    case 'OrderBy':
      return shapeOf(node.input);
    case 'Project':
    case 'FrameSelect':
    case 'Aggregate':
    case 'GroupByFrame':
      return node;
    default:
      throw new Error(`internal: no shape above ${node.kind}`);
  }
}
