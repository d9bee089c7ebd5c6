import { columnsOfPredicate, evaluateObjectPredicate, type BoundPredicate, type FrameBounds } from '../../binder/index.js';
import { lowerBound } from '../../video/frame-range.js';

/** The frames [start, end) a query reads, pushed down into the scan: decoding never looks outside them. */
export interface FrameRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The frames a query must look at: those inside the bound's frame interval whose exact container
 * timestamp lies inside its seconds interval (timestamps ascend, so this is one contiguous range).
 * The bounds are closed hulls, so `timestamp < 2` includes a frame at exactly 2 s; given the
 * query's `where`, frames at either end that fail one of its top-level conditions on `frame` /
 * `timestamp` alone are trimmed off, so that FCOUNT averages over exactly the frames in range.
 */
export function framesInBounds(bounds: FrameBounds, timestamps: Float64Array, where?: BoundPredicate): FrameRange {
  if (bounds.empty || timestamps.length === 0) return { start: 0, end: 0 };
  let start = Math.max(0, Math.ceil(bounds.frames.min));
  let end = Math.min(timestamps.length, bounds.frames.max === Infinity ? timestamps.length : Math.floor(bounds.frames.max) + 1);
  const eps = 1e-9;
  start = Math.max(start, lowerBound(timestamps, bounds.seconds.min - eps));
  if (Number.isFinite(bounds.seconds.max)) end = Math.min(end, lowerBound(timestamps, bounds.seconds.max + eps));
  const timeOnly = where ? conjuncts(where).filter(readsOnlyTime) : [];
  if (timeOnly.length > 0) {
    const holds = (frame: number) => {
      const row = { frame, timestamp: timestamps[frame]!, classId: -1, score: 0, xmin: 0, ymin: 0, xmax: 0, ymax: 0 };
      return timeOnly.every((p) => evaluateObjectPredicate(p, row));
    };
    while (end > start && !holds(end - 1)) end--;
    while (start < end && !holds(start)) start++;
  }
  return end > start ? { start, end } : { start: 0, end: 0 };
}

function conjuncts(p: BoundPredicate): BoundPredicate[] {
  return p.kind === 'and' ? p.operands.flatMap(conjuncts) : [p];
}

function readsOnlyTime(p: BoundPredicate): boolean {
  const columns = columnsOfPredicate(p);
  return columns.size > 0 && [...columns].every((c) => c === 'frame' || c === 'timestamp');
}
