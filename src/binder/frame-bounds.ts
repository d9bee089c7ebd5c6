import type { ComparisonOperator } from '../language/ast-node.js';
import type { FrameRange } from '../video/frame.js';
import type { BoundPredicate, BoundPredicateKind, BoundValue } from './bound-node.js';

/** Closed interval; `min > max` means empty. Ends may be infinite. */
export interface Interval {
  readonly min: number;
  readonly max: number;
}

/**
 * Where a predicate can possibly hold: every frame it matches has a frame index in `frames` and a
 * timestamp in `seconds`. Conservative: the real set may be smaller, never larger.
 */
export interface FrameBounds {
  /** Frame indices, inclusive; integers (or Infinity). */
  readonly frames: Interval;
  /** Seconds from the start, inclusive. */
  readonly seconds: Interval;
  /** Nothing can match. */
  readonly empty: boolean;
}

const ALL: Interval = Object.freeze({ min: 0, max: Infinity });

function bounds(frames: Interval, seconds: Interval): FrameBounds {
  return Object.freeze({
    frames: Object.freeze({ ...frames }),
    seconds: Object.freeze({ ...seconds }),
    empty: frames.min > frames.max || seconds.min > seconds.max,
  });
}

export const UNBOUNDED: FrameBounds = bounds(ALL, ALL);
const EMPTY: FrameBounds = bounds({ min: 1, max: 0 }, { min: 1, max: 0 });

function intersect(a: Interval, b: Interval): Interval {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}

function hull(a: Interval, b: Interval): Interval {
  if (a.min > a.max) return b;
  if (b.min > b.max) return a;
  return { min: Math.min(a.min, b.min), max: Math.max(a.max, b.max) };
}

function and(a: FrameBounds, b: FrameBounds): FrameBounds {
  return bounds(intersect(a.frames, b.frames), intersect(a.seconds, b.seconds));
}

function or(a: FrameBounds, b: FrameBounds): FrameBounds {
  if (a.empty) return b;
  if (b.empty) return a;
  return bounds(hull(a.frames, b.frames), hull(a.seconds, b.seconds));
}

const MIRROR: Readonly<Record<ComparisonOperator, ComparisonOperator>> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

type TimeColumn = 'frame' | 'timestamp';

function timeColumn(v: BoundValue): TimeColumn | undefined {
  return v.kind === 'column' && (v.column === 'frame' || v.column === 'timestamp') ? v.column : undefined;
}

function constant(v: BoundValue): number | undefined {
  return v.kind === 'number' ? v.value : undefined;
}

/** The values of `column` satisfying `column op value`, widened to a closed interval. */
function comparisonInterval(column: TimeColumn, op: ComparisonOperator, value: number): Interval {
  const integer = column === 'frame';
  switch (op) {
    case '=':
      return integer ? (Number.isInteger(value) ? { min: value, max: value } : { min: 1, max: 0 }) : { min: value, max: value };
    case '!=':
      return { min: -Infinity, max: Infinity };
    case '<':
      return { min: -Infinity, max: integer ? Math.ceil(value) - 1 : value };
    case '<=':
      return { min: -Infinity, max: integer ? Math.floor(value) : value };
    case '>':
      return { min: integer ? Math.floor(value) + 1 : value, max: Infinity };
    case '>=':
      return { min: integer ? Math.ceil(value) : value, max: Infinity };
  }
}

function on(column: TimeColumn, interval: Interval): FrameBounds {
  const clipped = intersect(interval, ALL);
  return column === 'frame' ? bounds(clipped, ALL) : bounds(ALL, clipped);
}

function closed(column: TimeColumn, low: number, high: number): Interval {
  return column === 'frame' ? { min: Math.ceil(low), max: Math.floor(high) } : { min: low, max: high };
}

const EXTRACT: { readonly [K in BoundPredicateKind]: (p: Extract<BoundPredicate, { kind: K }>) => FrameBounds } = {
  constant: (p) => (p.value ? UNBOUNDED : EMPTY),
  and: (p) => p.operands.map(extractFrameBounds).reduce(and, UNBOUNDED),
  or: (p) => p.operands.map(extractFrameBounds).reduce(or, EMPTY),
  not: () => UNBOUNDED,
  'class-match': () => UNBOUNDED,
  compare: (p) => {
    let column = timeColumn(p.left);
    let value = constant(p.right);
    let op = p.op;
    if (column === undefined || value === undefined) {
      column = timeColumn(p.right);
      value = constant(p.left);
      op = MIRROR[p.op];
    }
    if (column === undefined || value === undefined) return UNBOUNDED;
    return on(column, comparisonInterval(column, op, value));
  },
  between: (p) => {
    const column = timeColumn(p.operand);
    const low = constant(p.low);
    const high = constant(p.high);
    if (p.negated || column === undefined || low === undefined || high === undefined) return UNBOUNDED;
    return on(column, closed(column, low, high));
  },
  'in-list': (p) => {
    const column = timeColumn(p.operand);
    const values = p.values.map(constant);
    if (p.negated || column === undefined || values.some((v) => v === undefined)) return UNBOUNDED;
    const numbers = values as number[];
    const usable = column === 'frame' ? numbers.filter((v) => Number.isInteger(v)) : numbers;
    if (usable.length === 0) return EMPTY;
    return on(column, { min: Math.min(...usable), max: Math.max(...usable) });
  },
};

/**
 * The frame and time interval a per-object predicate confines matches to, from its comparisons of
 * `frame` / `timestamp` with constants: AND intersects, OR takes the hull, anything else (NOT,
 * arithmetic on the column, other columns) leaves the range open.
 *
 * ```ts
 * extractFrameBounds(query.where);
 * // WHERE class = 'car' AND timestamp BETWEEN 60 AND 120 AND frame >= 100
 * // -> { frames: { min: 100, max: Infinity }, seconds: { min: 60, max: 120 }, empty: false }
 * ```
 */
export function extractFrameBounds(predicate: BoundPredicate): FrameBounds {
  return (EXTRACT[predicate.kind] as (p: BoundPredicate) => FrameBounds)(predicate);
}

/**
 * The frames to decode for `bounds` in a video of `frameCount` frames at `fps`, as a half-open
 * range. Times are turned into frames as `t * fps` with one frame of margin each side, so
 * containers whose timestamps drift from `frame / fps` lose nothing; the predicate itself
 * still filters on the exact timestamps.
 */
export function toFrameRange(b: FrameBounds, video: { readonly fps: number; readonly frameCount: number }): FrameRange {
  const frameCount = Math.max(0, Math.floor(video.frameCount));
  if (b.empty || frameCount === 0) return Object.freeze({ start: 0, end: 0, step: 1 });
  let start = b.frames.min;
  let end = b.frames.max === Infinity ? frameCount : b.frames.max + 1;
  if (video.fps > 0 && Number.isFinite(video.fps)) {
    if (b.seconds.min > 0) start = Math.max(start, Math.floor(b.seconds.min * video.fps) - 1);
    if (Number.isFinite(b.seconds.max)) end = Math.min(end, Math.ceil(b.seconds.max * video.fps) + 2);
  }
  start = Math.min(Math.max(0, start), frameCount);
  end = Math.min(Math.max(start, end), frameCount);
  return Object.freeze({ start, end, step: 1 });
}
