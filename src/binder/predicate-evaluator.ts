import type { ArithmeticOperator, ComparisonOperator } from '../language/ast-node.js';
import type {
  BoundColumn,
  BoundFramePredicate,
  BoundFramePredicateKind,
  BoundPredicate,
  BoundPredicateKind,
  BoundValue,
  BoundValueKind,
} from './bound-node.js';

/** One object as the reference detector reported it, in one frame. */
export interface DetectionRow {
  readonly frame: number;
  readonly timestamp: number;
  readonly classId: number;
  readonly score: number;
  readonly xmin: number;
  readonly ymin: number;
  readonly xmax: number;
  readonly ymax: number;
}

export interface BoxMeasures {
  readonly width: number;
  readonly height: number;
  readonly area: number;
}

/** `width = xmax - xmin`, `height = ymax - ymin`, `area = width * height` (source-frame pixels). */
export function deriveBoxMeasures(row: Pick<DetectionRow, 'xmin' | 'ymin' | 'xmax' | 'ymax'>): BoxMeasures {
  const width = row.xmax - row.xmin;
  const height = row.ymax - row.ymin;
  return { width, height, area: width * height };
}

const COLUMN: { readonly [C in BoundColumn]: (row: DetectionRow) => number } = {
  frame: (r) => r.frame,
  timestamp: (r) => r.timestamp,
  class: (r) => r.classId,
  score: (r) => r.score,
  xmin: (r) => r.xmin,
  ymin: (r) => r.ymin,
  xmax: (r) => r.xmax,
  ymax: (r) => r.ymax,
  width: (r) => r.xmax - r.xmin,
  height: (r) => r.ymax - r.ymin,
  area: (r) => (r.xmax - r.xmin) * (r.ymax - r.ymin),
};

/** A column's value on a row; `class` gives the class id. */
export function columnValue(row: DetectionRow, column: BoundColumn): number {
  return COLUMN[column](row);
}

export const COMPARE: { readonly [O in ComparisonOperator]: (a: number, b: number) => boolean } = {
  '=': (a, b) => a === b,
  '!=': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '<=': (a, b) => a <= b,
  '>': (a, b) => a > b,
  '>=': (a, b) => a >= b,
};

export const ARITHMETIC: { readonly [O in ArithmeticOperator]: (a: number, b: number) => number } = {
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
};

const VALUE: { readonly [K in BoundValueKind]: (v: Extract<BoundValue, { kind: K }>, row: DetectionRow) => number } = {
  column: (v, row) => COLUMN[v.column](row),
  number: (v) => v.value,
  arithmetic: (v, row) => ARITHMETIC[v.op](evaluateObjectValue(v.left, row), evaluateObjectValue(v.right, row)),
  negate: (v, row) => -evaluateObjectValue(v.operand, row),
  indicator: (v, row) => (evaluateObjectPredicate(v.predicate, row) ? 1 : 0),
};

/** A bound value on one detection row (`class` gives the class id). */
export function evaluateObjectValue(value: BoundValue, row: DetectionRow): number {
  return (VALUE[value.kind] as (v: BoundValue, r: DetectionRow) => number)(value, row);
}

const PREDICATE: { readonly [K in BoundPredicateKind]: (p: Extract<BoundPredicate, { kind: K }>, row: DetectionRow) => boolean } = {
  constant: (p) => p.value,
  and: (p, row) => p.operands.every((o) => evaluateObjectPredicate(o, row)),
  or: (p, row) => p.operands.some((o) => evaluateObjectPredicate(o, row)),
  not: (p, row) => !evaluateObjectPredicate(p.operand, row),
  compare: (p, row) => COMPARE[p.op](evaluateObjectValue(p.left, row), evaluateObjectValue(p.right, row)),
  between: (p, row) => {
    const v = evaluateObjectValue(p.operand, row);
    const inside = v >= evaluateObjectValue(p.low, row) && v <= evaluateObjectValue(p.high, row);
    return inside !== p.negated;
  },
  'in-list': (p, row) => {
    const v = evaluateObjectValue(p.operand, row);
    return p.values.some((x) => evaluateObjectValue(x, row) === v) !== p.negated;
  },
  'class-match': (p, row) => p.classIds.includes(row.classId) !== p.negated,
};

/**
 * Whether one detection row satisfies a per-object predicate (a query's `where`, or the
 * `objects` of a HAVING count).
 *
 * ```ts
 * evaluateObjectPredicate(query.where, { frame: 10, timestamp: 0.4, classId: 2, score: 0.9, xmin: 0, ymin: 0, xmax: 50, ymax: 40 });
 * ```
 */
export function evaluateObjectPredicate(predicate: BoundPredicate, row: DetectionRow): boolean {
  return (PREDICATE[predicate.kind] as (p: BoundPredicate, r: DetectionRow) => boolean)(predicate, row);
}

type RowFn<T> = (row: DetectionRow) => T;

const COMPILE_VALUE: { readonly [K in BoundValueKind]: (v: Extract<BoundValue, { kind: K }>) => RowFn<number> } = {
  column: (v) => COLUMN[v.column],
  number: (v) => {
    const value = v.value;
    return () => value;
  },
  arithmetic: (v) => {
    const f = ARITHMETIC[v.op];
    const l = compileObjectValue(v.left);
    const r = compileObjectValue(v.right);
    return (row) => f(l(row), r(row));
  },
  negate: (v) => {
    const f = compileObjectValue(v.operand);
    return (row) => -f(row);
  },
  indicator: (v) => {
    const f = compileObjectPredicate(v.predicate);
    return (row) => (f(row) ? 1 : 0);
  },
};

/** {@link evaluateObjectValue} as a closure, for hot loops. */
export function compileObjectValue(value: BoundValue): RowFn<number> {
  return (COMPILE_VALUE[value.kind] as (v: BoundValue) => RowFn<number>)(value);
}

const COMPILE_PREDICATE: { readonly [K in BoundPredicateKind]: (p: Extract<BoundPredicate, { kind: K }>) => RowFn<boolean> } = {
  constant: (p) => {
    const value = p.value;
    return () => value;
  },
  and: (p) => {
    const fs = p.operands.map(compileObjectPredicate);
    return (row) => fs.every((f) => f(row));
  },
  or: (p) => {
    const fs = p.operands.map(compileObjectPredicate);
    return (row) => fs.some((f) => f(row));
  },
  not: (p) => {
    const f = compileObjectPredicate(p.operand);
    return (row) => !f(row);
  },
  compare: (p) => {
    const cmp = COMPARE[p.op];
    const l = compileObjectValue(p.left);
    const r = compileObjectValue(p.right);
    return (row) => cmp(l(row), r(row));
  },
  between: (p) => {
    const v = compileObjectValue(p.operand);
    const lo = compileObjectValue(p.low);
    const hi = compileObjectValue(p.high);
    const negated = p.negated;
    return (row) => {
      const x = v(row);
      return (x >= lo(row) && x <= hi(row)) !== negated;
    };
  },
  'in-list': (p) => {
    const v = compileObjectValue(p.operand);
    const values = p.values.map(compileObjectValue);
    const negated = p.negated;
    return (row) => {
      const x = v(row);
      return values.some((f) => f(row) === x) !== negated;
    };
  },
  'class-match': (p) => {
    const ids = new Set(p.classIds);
    const negated = p.negated;
    return (row) => ids.has(row.classId) !== negated;
  },
};

/** {@link evaluateObjectPredicate} as a closure, for hot loops. */
export function compileObjectPredicate(predicate: BoundPredicate): RowFn<boolean> {
  return (COMPILE_PREDICATE[predicate.kind] as (p: BoundPredicate) => RowFn<boolean>)(predicate);
}

/** How many of a frame's rows satisfy `objects`. */
export function countMatching(objects: BoundPredicate, rows: readonly DetectionRow[]): number {
  let n = 0;
  for (const row of rows) if (evaluateObjectPredicate(objects, row)) n++;
  return n;
}

const FRAME: {
  readonly [K in BoundFramePredicateKind]: (p: Extract<BoundFramePredicate, { kind: K }>, rows: readonly DetectionRow[]) => boolean;
} = {
  and: (p, rows) => p.operands.every((o) => evaluateFramePredicate(o, rows)),
  or: (p, rows) => p.operands.some((o) => evaluateFramePredicate(o, rows)),
  not: (p, rows) => !evaluateFramePredicate(p.operand, rows),
  'count-compare': (p, rows) => COMPARE[p.op](countMatching(p.objects, rows), p.value),
};

/**
 * Whether one frame satisfies a HAVING predicate, given the frame's rows that passed `where`.
 *
 * ```ts
 * // HAVING SUM(class = 'car') >= 3
 * evaluateFramePredicate(query.having, rowsOfFrame.filter((r) => evaluateObjectPredicate(query.where, r)));
 * ```
 */
export function evaluateFramePredicate(predicate: BoundFramePredicate, rows: readonly DetectionRow[]): boolean {
  return (FRAME[predicate.kind] as (p: BoundFramePredicate, r: readonly DetectionRow[]) => boolean)(predicate, rows);
}
