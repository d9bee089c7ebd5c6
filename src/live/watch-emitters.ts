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
   * Aggregates with a running count model: the model's value on the frame (the control variate),
   * and its held-out residual spread bound. `value` is the reference's only when `decidedBy` is
   * `reference` (a sampled frame); otherwise the frame is known through the model alone.
   */
  readonly model?: number;
  readonly residualSd?: number;
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
  /** A confidence interval when frames were skipped or sampled (the estimate), else undefined: exact. */
  readonly interval: { readonly low: number; readonly high: number; readonly confidence: number } | undefined;
  readonly frames: number;
  readonly processed: number;
  readonly skipped: number;
  readonly byReference: number;
  /** Frames the count model scored (its sum plus the sampled frames' mean residual is the estimate there). */
  readonly byModel: number;
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

/** One stratum of a window: its frames, the reference's values, and where a count model ran, its values too. */
interface Stratum {
  /** Frames in it, skipped ones included. */
  frames: number;
  /** The reference's values (without a model) or residuals (reference minus model, with one). */
  sampled: number[];
  /** The model's values on every scored frame (empty without a model). */
  model: number[];
  residualSd: number;
}

/** A stratum's estimated total and its variance (finite-population corrected). */
function stratumTotal(s: Stratum): { total: number; variance: number } {
  const n = s.sampled.length;
  if (s.frames === 0) return { total: 0, variance: 0 };
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const withModel = s.model.length > 0;
  // Without a model, the processed frames are a sample of the stratum; with one, the model's mean
  // over the scored frames plus the sampled frames' mean residual (the difference estimator).
  const perFrame = withModel ? mean(s.model) + mean(s.sampled) : mean(s.sampled);
  // With a model, the window's few residuals can understate their spread by chance: the held-out
  // bound (at the query's confidence) is the floor.
  const sd = withModel ? Math.max(n > 1 ? sampleStandardDeviation(s.sampled) : 0, s.residualSd) : n > 1 ? sampleStandardDeviation(s.sampled) : 0;
  const fpc = Math.max(0, 1 - n / s.frames);
  const variance = n === 0 ? (s.frames * sd) ** 2 : s.frames ** 2 * fpc * (sd * sd) / n;
  return { total: perFrame * s.frames, variance };
}

/**
 * Aggregates per window of `seconds` of stream time, aligned to multiples of it. FCOUNT is the
 * mean per frame; COUNT(*) and COUNT(DISTINCT frame) are totals over the window's frames. Frames
 * decided by the reference alone form one stratum: when frames were skipped the processed ones
 * are a sample of it. Frames a running count model scored form another: the model's values plus
 * the mean residual of the ones the reference also saw (BlazeIt's control variates). The window's
 * value is the sum of the two, with a normal-approximation interval whenever it is not exact.
 */
export function windowEmitter(aggregate: WindowAggregate, seconds: number, confidence: number): Emitter {
  // Frames skipped just before a processed frame are counted in that frame's window and stratum.
  let current: { index: number; reference: Stratum; modelled: Stratum; processed: number; skipped: number; byReference: number } | undefined;
  const z = probit(1 - (1 - confidence) / 2);
  const stratum = (): Stratum => ({ frames: 0, sampled: [], model: [], residualSd: 0 });
  const close = (): AnswerEvent[] => {
    if (!current || current.processed === 0) return [];
    const { index, reference, modelled } = current;
    const frames = reference.frames + modelled.frames;
    const a = stratumTotal(reference);
    const b = stratumTotal(modelled);
    const scale = aggregate === 'fcount' ? 1 / frames : 1;
    const value = (a.total + b.total) * scale;
    const variance = a.variance + b.variance;
    const half = z * Math.sqrt(variance) * scale;
    const interval = variance > 0 ? { low: Math.max(0, value - half), high: value + half, confidence } : undefined;
    const event: WindowEvent = { type: 'window', start: index * seconds, end: (index + 1) * seconds, value, interval, frames, processed: current.processed, skipped: current.skipped, byReference: current.byReference, byModel: modelled.model.length };
    current = undefined;
    return [event];
  };
  return {
    done: false,
    push(frame) {
      const index = Math.floor(frame.time / seconds + 1e-9);
      const out = current && current.index !== index ? close() : [];
      current ??= { index, reference: stratum(), modelled: stratum(), processed: 0, skipped: 0, byReference: 0 };
      const modelled = frame.model !== undefined;
      const s = modelled ? current.modelled : current.reference;
      s.frames += 1 + frame.skippedBefore;
      if (modelled) {
        const control = aggregate === 'count-distinct-frames' ? Math.min(1, frame.model!) : frame.model!;
        s.model.push(control);
        s.residualSd = frame.residualSd ?? s.residualSd;
        if (frame.decidedBy === 'reference') s.sampled.push(frame.value - control);
      } else {
        s.sampled.push(frame.value);
      }
      current.processed++;
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
