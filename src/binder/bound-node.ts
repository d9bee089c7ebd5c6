import type { ComparisonOperator, ArithmeticOperator, SortDirection, Statement } from '../language/ast-node.js';
import type { ColumnName, ColumnType } from './column-catalog.js';
import type { FrameBounds } from './frame-bounds.js';

/**
 * The bound query: names resolved to catalog objects and class ids, types checked, every tree an
 * immutable discriminated union on `kind` built by the factory object of the same name.
 */

function freeze<T extends object>(node: T): T {
  return Object.freeze(node);
}

/** A column the engine can produce (`trackid` never reaches a bound tree). */
export type BoundColumn = Exclude<ColumnName, 'trackid'>;

// ---------------------------------------------------------------------------------------------
// Per-object values and predicates: evaluated against one detection row.

export interface ColumnValue {
  readonly kind: 'column';
  /** `class` evaluates to the class id. */
  readonly column: BoundColumn;
}

export interface NumberValue {
  readonly kind: 'number';
  readonly value: number;
}

export interface ArithmeticValue {
  readonly kind: 'arithmetic';
  readonly op: ArithmeticOperator;
  readonly left: BoundValue;
  readonly right: BoundValue;
}

export interface NegateValue {
  readonly kind: 'negate';
  readonly operand: BoundValue;
}

/** 1 where the predicate holds, else 0: the argument of `SUM(class = 'car')`. */
export interface IndicatorValue {
  readonly kind: 'indicator';
  readonly predicate: BoundPredicate;
}

export type BoundValue = ColumnValue | NumberValue | ArithmeticValue | NegateValue | IndicatorValue;
export type BoundValueKind = BoundValue['kind'];

export const BoundValue = Object.freeze({
  column(column: BoundColumn): ColumnValue {
    return freeze({ kind: 'column', column });
  },
  number(value: number): NumberValue {
    return freeze({ kind: 'number', value });
  },
  arithmetic(op: ArithmeticOperator, left: BoundValue, right: BoundValue): ArithmeticValue {
    return freeze({ kind: 'arithmetic', op, left, right });
  },
  negate(operand: BoundValue): NegateValue {
    return freeze({ kind: 'negate', operand });
  },
  indicator(predicate: BoundPredicate): IndicatorValue {
    return freeze({ kind: 'indicator', predicate });
  },
});

export interface ConstantPredicate {
  readonly kind: 'constant';
  readonly value: boolean;
}

export interface AndPredicate {
  readonly kind: 'and';
  readonly operands: readonly BoundPredicate[];
}

export interface OrPredicate {
  readonly kind: 'or';
  readonly operands: readonly BoundPredicate[];
}

export interface NotPredicate {
  readonly kind: 'not';
  readonly operand: BoundPredicate;
}

/** Numeric comparison. The binder puts a lone constant on the right: `frame >= 300`, never `300 <= frame`. */
export interface ComparePredicate {
  readonly kind: 'compare';
  readonly op: ComparisonOperator;
  readonly left: BoundValue;
  readonly right: BoundValue;
}

/** `operand [NOT] BETWEEN low AND high`, bounds inclusive. */
export interface BetweenPredicate {
  readonly kind: 'between';
  readonly operand: BoundValue;
  readonly low: BoundValue;
  readonly high: BoundValue;
  readonly negated: boolean;
}

/** Numeric `operand [NOT] IN (values)`. */
export interface InListPredicate {
  readonly kind: 'in-list';
  readonly operand: BoundValue;
  readonly values: readonly BoundValue[];
  readonly negated: boolean;
}

/**
 * `class = 'car'`, `class != 'car'`, `class IN ('car', 'bus')`, `class NOT IN (...)`: the object's
 * class id is (or, negated, is not) one of `classIds`.
 */
export interface ClassMatchPredicate {
  readonly kind: 'class-match';
  readonly classIds: readonly number[];
  readonly negated: boolean;
}

export type BoundPredicate =
  | ConstantPredicate
  | AndPredicate
  | OrPredicate
  | NotPredicate
  | ComparePredicate
  | BetweenPredicate
  | InListPredicate
  | ClassMatchPredicate;
export type BoundPredicateKind = BoundPredicate['kind'];

const TRUE: ConstantPredicate = freeze({ kind: 'constant', value: true });
const FALSE: ConstantPredicate = freeze({ kind: 'constant', value: false });

export const BoundPredicate = Object.freeze({
  constant(value: boolean): ConstantPredicate {
    return value ? TRUE : FALSE;
  },
  and(operands: readonly BoundPredicate[]): AndPredicate {
    return freeze({ kind: 'and', operands: Object.freeze([...operands]) });
  },
  or(operands: readonly BoundPredicate[]): OrPredicate {
    return freeze({ kind: 'or', operands: Object.freeze([...operands]) });
  },
  not(operand: BoundPredicate): NotPredicate {
    return freeze({ kind: 'not', operand });
  },
  compare(op: ComparisonOperator, left: BoundValue, right: BoundValue): ComparePredicate {
    return freeze({ kind: 'compare', op, left, right });
  },
  between(operand: BoundValue, low: BoundValue, high: BoundValue, negated = false): BetweenPredicate {
    return freeze({ kind: 'between', operand, low, high, negated });
  },
  inList(operand: BoundValue, values: readonly BoundValue[], negated = false): InListPredicate {
    return freeze({ kind: 'in-list', operand, values: Object.freeze([...values]), negated });
  },
  classMatch(classIds: readonly number[], negated = false): ClassMatchPredicate {
    return freeze({ kind: 'class-match', classIds: Object.freeze([...new Set(classIds)].sort((a, b) => a - b)), negated });
  },
});

// ---------------------------------------------------------------------------------------------
// Per-frame predicates (HAVING): evaluated over the rows of one frame that passed WHERE.

export interface FrameAndPredicate {
  readonly kind: 'and';
  readonly operands: readonly BoundFramePredicate[];
}

export interface FrameOrPredicate {
  readonly kind: 'or';
  readonly operands: readonly BoundFramePredicate[];
}

export interface FrameNotPredicate {
  readonly kind: 'not';
  readonly operand: BoundFramePredicate;
}

/**
 * `(number of objects in the frame satisfying objects) op value`:
 * `SUM(class = 'car') >= 3` is `{ objects: class-match [car], op: '>=', value: 3 }`, and
 * `COUNT(*) > 5` counts with `objects` constant true.
 */
export interface CountComparePredicate {
  readonly kind: 'count-compare';
  readonly objects: BoundPredicate;
  readonly op: ComparisonOperator;
  readonly value: number;
}

export type BoundFramePredicate = FrameAndPredicate | FrameOrPredicate | FrameNotPredicate | CountComparePredicate;
export type BoundFramePredicateKind = BoundFramePredicate['kind'];

export const BoundFramePredicate = Object.freeze({
  and(operands: readonly BoundFramePredicate[]): FrameAndPredicate {
    return freeze({ kind: 'and', operands: Object.freeze([...operands]) });
  },
  or(operands: readonly BoundFramePredicate[]): FrameOrPredicate {
    return freeze({ kind: 'or', operands: Object.freeze([...operands]) });
  },
  not(operand: BoundFramePredicate): FrameNotPredicate {
    return freeze({ kind: 'not', operand });
  },
  countCompare(objects: BoundPredicate, op: ComparisonOperator, value: number): CountComparePredicate {
    return freeze({ kind: 'count-compare', objects, op, value });
  },
});

// ---------------------------------------------------------------------------------------------
// Aggregates and outputs

/**
 * - `fcount`: `FCOUNT(*)`, matching objects per frame averaged over every frame in range.
 * - `count`: `COUNT(*)`, matching objects in total (per frame under GROUP BY).
 * - `count-distinct-frames`: `COUNT(DISTINCT frame)`, frames with at least one matching object.
 * - `sum`, `avg`, `min`, `max`: over `argument` for every matching object.
 */
export type AggregateFunction = 'fcount' | 'count' | 'count-distinct-frames' | 'sum' | 'avg' | 'min' | 'max';

export interface BoundAggregate {
  readonly fn: AggregateFunction;
  /** Set for `sum`, `avg`, `min`, `max`. */
  readonly argument: BoundValue | undefined;
}

export const BoundAggregate = Object.freeze({
  create(fn: AggregateFunction, argument?: BoundValue): BoundAggregate {
    return freeze({ fn, argument });
  },
});

/** An output column computed per row (per object, or per frame for frame-level shapes). */
export interface ValueOutput {
  readonly kind: 'value';
  /** Column heading: the canonical text of the select item. */
  readonly name: string;
  /** `text` only for `class`, whose value is a class id to be shown as its label. */
  readonly type: ColumnType;
  readonly value: BoundValue;
}

/** An output column computed by an aggregate (over the query, or per frame under GROUP BY). */
export interface AggregateOutput {
  readonly kind: 'aggregate';
  readonly name: string;
  readonly type: 'integer' | 'double';
  readonly aggregate: BoundAggregate;
}

export type BoundOutput = ValueOutput | AggregateOutput;

export const BoundOutput = Object.freeze({
  value(name: string, type: ColumnType, value: BoundValue): ValueOutput {
    return freeze({ kind: 'value', name, type, value });
  },
  aggregate(name: string, type: 'integer' | 'double', aggregate: BoundAggregate): AggregateOutput {
    return freeze({ kind: 'aggregate', name, type, aggregate });
  },
});

export interface BoundOrderItem {
  readonly value: BoundValue;
  /** `text` for `class`: order by label, not by id. */
  readonly type: ColumnType;
  readonly direction: SortDirection;
}

export const BoundOrderItem = Object.freeze({
  create(value: BoundValue, type: ColumnType, direction: SortDirection): BoundOrderItem {
    return freeze({ value, type, direction });
  },
});

// ---------------------------------------------------------------------------------------------
// Accuracy targets and the query

/** DESIGN.md: selection targets when the query names none. */
export const DEFAULT_FNR = 0.01;
export const DEFAULT_FPR = 0.01;
/** Confidence of a query's bounds when it states none (`AT CONFIDENCE p` / `CONFIDENCE p`). */
export const DEFAULT_CONFIDENCE = 0.95;

/** The error bound an FCOUNT gets when the query states none (objects per frame, at 95% confidence: an error above 0.1 then has under 1% chance). */
export const DEFAULT_FCOUNT_ERROR = 0.075;

export interface BoundErrorTarget {
  /** Largest acceptable absolute error (half-width of the confidence interval). */
  readonly within: number;
  /** In (0, 1); `95%` is 0.95. The query's one confidence: equal to `BoundAccuracy.confidence`. */
  readonly confidence: number;
  readonly confidenceDefaulted: boolean;
}

/**
 * The accuracy a query asks for. `RECALL_TARGET r` is stored as `fnr = 1 - r`; `PRECISION_TARGET q`
 * as `precision`, and without `FPR WITHIN` it leaves the false-positive rate unbounded (`fpr` 1).
 */
export interface BoundAccuracy {
  /** Largest acceptable false-negative rate over frames, in (0, 1): `FNR WITHIN a`, or `1 - r` for `RECALL_TARGET r`. */
  readonly fnr: number;
  /** Neither FNR WITHIN nor RECALL_TARGET was written. */
  readonly fnrDefaulted: boolean;
  /** Largest acceptable false-positive rate over frames, in (0, 1); 1 (no FPR target) when only PRECISION_TARGET was written. */
  readonly fpr: number;
  /** FPR WITHIN was not written. */
  readonly fprDefaulted: boolean;
  /** `PRECISION_TARGET q`: smallest acceptable share of returned frames that are positive, in (0, 1). Both it and `fpr` apply when both are written. */
  readonly precision: number | undefined;
  /** The one confidence, in (0, 1), at which every bound of the query holds; `DEFAULT_CONFIDENCE` when none is written. */
  readonly confidence: number;
  readonly confidenceDefaulted: boolean;
  /** Only on aggregate queries that wrote `ERROR WITHIN`. */
  readonly error: BoundErrorTarget | undefined;
  /** `BUDGET n`: at most n reference-detector calls for the query, a positive safe integer. */
  readonly budget: number | undefined;
}

/** The video a query reads. */
export interface BoundVideo {
  readonly name: string;
  readonly path: string;
}

export type ExplainMode = 'none' | 'plan' | 'analyze';

/**
 * - `select-rows`: one row per matching object (`SELECT *`, `SELECT class, score`).
 * - `select-frames`: one row per frame with at least one matching object (`SELECT timestamp`).
 * - `aggregate`: one row of aggregates over the matching objects (`FCOUNT(*)`, `COUNT(*)`).
 * - `grouped-limit`: one row per frame whose objects satisfy HAVING (`GROUP BY timestamp HAVING
 *   SUM(class = 'car') >= 3 LIMIT 10 GAP 300`); `limit` may be unset.
 */
export type QueryShape = 'select-rows' | 'select-frames' | 'aggregate' | 'grouped-limit';

interface BoundQueryBase {
  readonly video: BoundVideo;
  /** Per-object WHERE predicate; constant true when the query has none. */
  readonly where: BoundPredicate;
  /** Frames and seconds WHERE can possibly match (a superset): push it down into decoding. */
  readonly bounds: FrameBounds;
  /** Class ids named anywhere in the query, ascending; `classNames` holds their labels. */
  readonly classIds: readonly number[];
  readonly classNames: readonly string[];
  readonly orderBy: readonly BoundOrderItem[];
  /** A non-negative safe integer. */
  readonly limit: number | undefined;
  /** Minimum distance in frames between returned frames; only with `limit`. */
  readonly gap: number | undefined;
  readonly accuracy: BoundAccuracy;
  readonly explain: ExplainMode;
  /** The query as canonical FrameQL (without EXPLAIN), for query-run records. */
  readonly text: string;
  readonly statement: Statement;
}

export interface SelectRowsQuery extends BoundQueryBase {
  readonly shape: 'select-rows';
  readonly outputs: readonly ValueOutput[];
}

export interface SelectFramesQuery extends BoundQueryBase {
  readonly shape: 'select-frames';
  /** Only `frame` / `timestamp` (and arithmetic over them). */
  readonly outputs: readonly ValueOutput[];
}

export interface AggregateQuery extends BoundQueryBase {
  readonly shape: 'aggregate';
  readonly outputs: readonly AggregateOutput[];
}

export interface GroupedLimitQuery extends BoundQueryBase {
  readonly shape: 'grouped-limit';
  /** As written; every entry is per frame (`frame` and `timestamp` name the same groups). */
  readonly groupBy: readonly ('frame' | 'timestamp')[];
  /**
   * Over the frame's rows that passed `where`. As in SQL, only frames with at least one such row form
   * a group. `COUNT(*) >= 1` when the query has no HAVING.
   */
  readonly having: BoundFramePredicate;
  /** `value` outputs use only frame columns; `aggregate` outputs are per frame. */
  readonly outputs: readonly BoundOutput[];
}

export type BoundQuery = SelectRowsQuery | SelectFramesQuery | AggregateQuery | GroupedLimitQuery;

/**
 * The count interval an aggregate asks for, per frame, and its confidence level: `ERROR WITHIN`
 * applies to the first output, per frame for FCOUNT and in objects for COUNT(*) over `frames`.
 */
export function countTarget(query: BoundQuery, frames: number): { within: number; confidence: number } {
  const target = query.accuracy.error;
  const first = query.shape === 'aggregate' ? query.outputs[0] : undefined;
  const within = target ? (first?.aggregate.fn === 'count' ? target.within / frames : target.within) : DEFAULT_FCOUNT_ERROR;
  return { within, confidence: query.accuracy.confidence };
}
