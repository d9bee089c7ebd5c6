export { bindQuery } from './binder.js';
export type { BindContext, VideoReference } from './bind-context.js';
export * from './bound-node.js';
export { COLUMNS, COLUMN_NAMES, SELECT_ALL_COLUMNS, lookupColumn, type ColumnInfo, type ColumnLevel, type ColumnName, type ColumnType } from './column-catalog.js';
export { extractFrameBounds, toFrameRange, UNBOUNDED, type FrameBounds, type Interval } from './frame-bounds.js';
export {
  columnValue,
  compileObjectPredicate,
  compileObjectValue,
  countMatching,
  deriveBoxMeasures,
  evaluateFramePredicate,
  evaluateObjectPredicate,
  evaluateObjectValue,
  type BoxMeasures,
  type DetectionRow,
} from './predicate-evaluator.js';
export { classIdsOf, columnsOfPredicate, columnsOfValue, walkFramePredicate, walkPredicate, walkValue, type BoundLeafVisitor, type BoundTree } from './bound-walk.js';
