/**
 * What a continuous query emits as frames are decided, one emitter per query shape: matching
 * intervals for selections, one value per window for aggregates, matching frames for LIMIT (with
 * GAP). Pure: frames in, events out, so each is tested on its own.
 */
import { probit, sampleStandardDeviation } from 'simple-statistics';

/** One decided frame of the stream. */
export interface DecidedFrame {
  /** The frame's number on the stream's clock. */
  readonly frame: number;
  /** Stream seconds. */
  readonly time: number;
  /** When it arrived (ms since the epoch). */
  readonly arrivedAt: number;
  /** Whether the frame satisfies the query's predicate (selections, LIMIT). */
  readonly match: boolean;
  /** The frame's value for aggregates: matching objects (FCOUNT, COUNT) or 0/1 (COUNT DISTINCT frame). */
  readonly value: number;
  /** Frames skipped (not processed) just before this one. */
  readonly skippedBefore: number;
  /**
   * Who decided the frame: the reference detector, the certified cascade (a sure decision of its
   * model), or the model alone on a frame it was unsure of (the reference could not take it in time).
   */
  readonly decidedBy: 'reference' | 'cascade' | 'model-alone';
}

export interface IntervalEvent {
  readonly type: 'interval';
  /** Stream seconds of the first and last matching frame. */
  readonly start: number;
  readonly end: number;
  readonly startFrame: number;
  readonly endFrame: number;
  /** Wall-clock arrival of the first and last frame (ISO 8601). */
  readonly startedAt: string;
  readonly endedAt: string;
  /** Frames from the first to the last (seq), processed ones, and ones skipped in between. */
  readonly frames: number;
  readonly processed: number;
  readonly skipped: number;
  /** Frames of the interval decided by the reference detector (the rest by the cascade). */
  readonly byReference: number;
  /** Of the rest, frames the model decided alone (a wider bound: see `without-reference` events). */
  readonly byModelAlone: number;
  /** Why it closed: a frame without a match, a dropped connection, or the end of the watch. */
  readonly closedBy: 'no-match' | 'dropped' | 'end';
}

export interface WindowEvent {
  readonly type: 'window';
  /** Stream seconds [start, end). */
  readonly start: number;
  readonly end: number;
  /** The aggregate over the window's frames (estimated from the processed ones when some were skipped). */
  readonly value: number;
  /** A confidence interval when frames were skipped (a sample of the window), else undefined: exact. */
  readonly interval: { readonly low: number; readonly high: number; readonly confidence: number } | undefined;
  readonly frames: number;
  readonly processed: number;
  readonly skipped: number;
  readonly byReference: number;
}

export interface FrameEvent {
  readonly type: 'frame';
  readonly frame: number;
  readonly timestamp: number;
  readonly arrivedAt: string;
  readonly decidedBy: DecidedFrame['decidedBy'];
  /** 1-based position among the frames returned. */
  readonly rank: number;
}

export type AnswerEvent = IntervalEvent | WindowEvent | FrameEvent;

export interface Emitter {
  /** Events a decided frame completes. */
  push(frame: DecidedFrame): AnswerEvent[];
  /** The stream dropped: what was open closes here. */
  cut(): AnswerEvent[];
  /** The watch ends: what is open is emitted. */
  finish(): AnswerEvent[];
  /** A LIMIT that is satisfied: the watch can stop. */
  readonly done: boolean;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** Selections: each maximal run of matching processed frames is one interval. */
export function intervalEmitter(): Emitter {
  let open: { first: DecidedFrame; last: DecidedFrame; processed: number; skipped: number; byReference: number; byModelAlone: number } | undefined;
  const close = (closedBy: IntervalEvent['closedBy']): AnswerEvent[] => {
    if (!open) return [];
    const { first, last } = open;
    const event: IntervalEvent = {
      type: 'interval',
      start: first.time,
      end: last.time,
      startFrame: first.frame,
      endFrame: last.frame,
      startedAt: iso(first.arrivedAt),
      endedAt: iso(last.arrivedAt),
      frames: last.frame - first.frame + 1,
      processed: open.processed,
      skipped: open.skipped,
      byReference: open.byReference,
      byModelAlone: open.byModelAlone,
      closedBy,
    };
    open = undefined;
    return [event];
  };
  return {
    done: false,
    push(frame) {
      if (!frame.match) return close('no-match');
      const ref = frame.decidedBy === 'reference' ? 1 : 0;
      const alone = frame.decidedBy === 'model-alone' ? 1 : 0;
      if (!open) open = { first: frame, last: frame, processed: 1, skipped: 0, byReference: ref, byModelAlone: alone };
      else open = { ...open, last: frame, processed: open.processed + 1, skipped: open.skipped + frame.skippedBefore, byReference: open.byReference + ref, byModelAlone: open.byModelAlone + alone };
      return [];
    },
    cut: () => close('dropped'),
    finish: () => close('end'),
  };
}

export type WindowAggregate = 'fcount' | 'count' | 'count-distinct-frames';

/**
 * Aggregates per window of `seconds` of stream time, aligned to multiples of it. FCOUNT is the
 * mean per frame; COUNT(*) and COUNT(DISTINCT frame) are totals over the window's frames. When
 * frames were skipped, the processed ones are a sample of the window: the value is estimated
 * from them and comes with a normal-approximation interval (finite-population corrected).
 */
export function windowEmitter(aggregate: WindowAggregate, seconds: number, confidence: number): Emitter {
  // Frames skipped just before a processed frame are counted in that frame's window.
  let current: { index: number; values: number[]; skipped: number; byReference: number } | undefined;
  const z = probit(1 - (1 - confidence) / 2);
  const close = (): AnswerEvent[] => {
    if (!current || current.values.length === 0) return [];
    const { values, index } = current;
    const n = values.length;
    const frames = n + current.skipped;
    const mean = values.reduce((a, b) => a + b, 0) / n;
    const scale = aggregate === 'fcount' ? 1 : frames;
    let interval: WindowEvent['interval'];
    if (n < frames) {
      const sd = n > 1 ? sampleStandardDeviation(values) : 0;
      const half = z * (sd / Math.sqrt(n)) * Math.sqrt(Math.max(0, 1 - n / frames)) * scale;
      interval = { low: Math.max(0, mean * scale - half), high: mean * scale + half, confidence };
    }
    const event: WindowEvent = { type: 'window', start: index * seconds, end: (index + 1) * seconds, value: mean * scale, interval, frames, processed: n, skipped: current.skipped, byReference: current.byReference };
    current = undefined;
    return [event];
  };
  return {
    done: false,
    push(frame) {
      const index = Math.floor(frame.time / seconds + 1e-9);
      const out = current && current.index !== index ? close() : [];
      current ??= { index, values: [], skipped: 0, byReference: 0 };
      current.values.push(frame.value);
      current.skipped += frame.skippedBefore;
      if (frame.decidedBy === 'reference') current.byReference++;
      return out;
    },
    cut: () => [],
    finish: close,
  };
}

/** LIMIT k GAP g: matching frames at least `gap` frames apart, until `limit` of them. */
export function limitEmitter(limit: number | undefined, gap: number): Emitter {
  let returned = 0;
  let last = Number.NEGATIVE_INFINITY;
  const emitter: Emitter = {
    get done() {
      return limit !== undefined && returned >= limit;
    },
    push(frame) {
      if (!frame.match || emitter.done || frame.frame - last < gap) return [];
      last = frame.frame;
      returned++;
      return [{ type: 'frame', frame: frame.frame, timestamp: frame.time, arrivedAt: iso(frame.arrivedAt), decidedBy: frame.decidedBy, rank: returned }];
    },
    cut: () => [],
    finish: () => [],
  };
  return emitter;
}
