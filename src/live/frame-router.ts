/**
 * Who decides each frame of a live stream, so that the watch keeps up with it. The reference
 * detector takes the frames that need it (every frame while the cascade is not running; the
 * model's uncertain frames, a verification sample and LIMIT candidates once it is), one at a time
 * on its worker thread, while the frames behind them are already thumbnailed and scored. A frame
 * is admitted to the reference only if it would be decided within `maxLag` seconds of its arrival
 * (the time it has waited, plus the queue in front of it times the detector's measured seconds per
 * frame); otherwise:
 *
 * - before the cascade runs, it is **skipped**: the reference samples the stream at the rate it
 *   sustains (frames are drawn evenly spread at that rate, and the lag bound still applies), and
 *   every answer counts what was skipped;
 * - an uncertain frame once it runs is **decided by the model alone** (`model-alone`, at the
 *   middle of its uncertain band: the cascade event's `withoutReference` bound holds for it) if
 *   that bound is within the targets, and skipped otherwise;
 * - a verification draw keeps the model's sure decision (that frame is just not checked);
 * - a LIMIT candidate always waits for the reference (every returned frame is verified).
 *
 * Aggregates with a running count model: the model scores every frame, and a random sample of
 * them (the share the query's error target needs, drawn by a hash of the frame's position, so
 * independent of its content) also goes to the reference when it has room.
 */
import type { BoundQuery } from '../binder/index.js';
import type { DetectionRow } from '../binder/predicate-evaluator.js';
import { verificationKey } from '../optimizer/certification.js';
import type { StreamCascade } from './stream-cascade.js';
import type { StreamCounter } from './stream-count.js';
import { thumbnail } from './stream-labels.js';
import type { StreamFrame } from './stream-reader.js';

export type DecidedBy = 'reference' | 'cascade' | 'model-alone';

export interface FrameDecision {
  readonly match: boolean;
  readonly value: number;
  readonly decidedBy: DecidedBy;
  /** Aggregates with a running count model: its value on the frame and its residual spread bound. */
  readonly model?: number;
  readonly residualSd?: number;
}

/** Frames waiting for the detector, and its measured seconds per frame. */
export class ReferenceQueue {
  private waiting = 0;
  private tail: Promise<unknown> = Promise.resolve();
  /** Exponentially weighted seconds per frame of the detector's own work (not the wait). */
  private seconds: number | undefined;
  private fps: number | undefined;
  private credit = 0;

  /** With `backlog`, at most that many frames wait; without, as many as `maxLagSeconds` allows. */
  constructor(private readonly limit: { readonly maxLagSeconds: number; readonly backlog?: number | undefined }) {}

  /**
   * Whether a frame that has already waited `waitedSeconds` since it arrived would be decided in
   * time if queued now: within `maxLag` of its arrival at the measured seconds per frame (one
   * always is, when none waits).
   */
  admits(waitedSeconds = 0): boolean {
    if (this.waiting === 0) return true;
    if (this.limit.backlog !== undefined) return this.waiting < this.limit.backlog;
    return waitedSeconds + (this.waiting + 1) * (this.seconds ?? 0) <= this.limit.maxLagSeconds;
  }

  get length(): number {
    return this.waiting;
  }

  /** The detector's measured seconds per frame (undefined before the first). */
  get secondsPerFrame(): number | undefined {
    return this.seconds;
  }

  /** Frames per second arriving (from the stream's header), for {@link sustainableShare}. */
  setArrivalRate(fps: number | undefined): void {
    this.fps = fps;
  }

  /**
   * The share of arriving frames the detector sustains at its measured seconds per frame (1 while
   * unmeasured or the rate is unknown). Frames no model decides are drawn for the reference at
   * this share, evenly spread ({@link draw}), so that the ones it decides sample the whole stream
   * rather than come in runs between queue overflows (an estimate from runs understates its error:
   * neighbours are alike), and the detector is fed at the pace it works.
   */
  sustainableShare(): number {
    if (this.seconds === undefined || !this.fps) return 1;
    return Math.min(1, 1 / (this.seconds * this.fps));
  }

  /**
   * Whether the next frame no model decides is offered to the reference: one in every
   * 1 / {@link sustainableShare} frames, evenly spread (systematic sampling; every frame at share 1).
   */
  draw(): boolean {
    this.credit += this.sustainableShare();
    if (this.credit < 1) return false;
    this.credit = Math.min(1, this.credit - 1);
    return true;
  }

  /** Runs `work` after the frames queued before it. */
  run<T>(work: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(async () => {
      const started = performance.now();
      try {
        return await work();
      } finally {
        const s = (performance.now() - started) / 1000;
        this.seconds = this.seconds === undefined ? s : 0.9 * this.seconds + 0.1 * s;
        this.waiting--;
      }
    });
    this.tail = result.catch(() => undefined);
    return result;
  }
}

export interface RouterOptions {
  readonly query: BoundQuery;
  readonly cascade: StreamCascade | undefined;
  /** Aggregates: the count model's control variates (see `stream-count.ts`). */
  readonly counter?: StreamCounter | undefined;
  readonly queue: ReferenceQueue;
  /** The frame's answer from the reference's detections. */
  readonly detect: (frame: StreamFrame) => Promise<DetectionRow[]>;
  readonly answer: (rows: readonly DetectionRow[]) => { match: boolean; value: number };
}

/**
 * A frame's decision (`pending`: it may wait for the reference), or `skipped` when the reference
 * could not take it in time and nothing else can decide it.
 */
export async function routeFrame(options: RouterOptions, frame: StreamFrame, verifyRate: number): Promise<{ readonly pending: Promise<FrameDecision> } | 'skipped'> {
  const { query, cascade, queue } = options;
  const thumb = cascade ? await thumbnail(frame.rgb, frame.width, frame.height) : undefined;
  const { decision, alone } = cascade && thumb ? await cascade.decide(thumb, frame.frame) : { decision: -1 as const, alone: -1 as const };
  const limitCandidate = decision === 1 && query.limit !== undefined;
  const verify = decision !== -1 && (limitCandidate || verificationKey(0, frame.seq) / 2 ** 32 < verifyRate);
  const now = (d: FrameDecision) => ({ pending: Promise.resolve(d) });
  if (decision !== -1 && !verify) return now({ match: decision === 1, value: decision, decidedBy: 'cascade' });
  // With the cascade on, every frame it needs the reference for is offered (the lag bound decides).
  const drawn = cascade?.active === true || queue.draw();
  if (!limitCandidate && (!drawn || !queue.admits((Date.now() - frame.arrivedAt) / 1000))) {
    if (decision !== -1) return now({ match: decision === 1, value: decision, decidedBy: 'cascade' });
    if (alone !== -1) return now({ match: alone === 1, value: alone, decidedBy: 'model-alone' });
    return 'skipped';
  }
  const pending = queue.run(async () => {
    const answer = options.answer(await options.detect(frame));
    if (cascade && thumb) {
      if (decision !== -1) cascade.verified(frame.time, decision, answer.match);
      cascade.addLabel(thumb, frame.frame, answer.match);
    }
    return { ...answer, decidedBy: 'reference' as const };
  });
  pending.catch(() => undefined); // awaited in order by the watch; a failure surfaces there
  return { pending };
}

/** An aggregate's frame: the reference's value while no count model runs (as {@link routeFrame}), else the model's, plus the reference's on a random sample. */
export async function routeCountFrame(options: RouterOptions, frame: StreamFrame, sampleRate: number): Promise<{ readonly pending: Promise<FrameDecision> } | 'skipped'> {
  const { counter, queue } = options;
  const thumb = counter ? await thumbnail(frame.rgb, frame.width, frame.height) : undefined;
  const model = counter && thumb ? await counter.score(thumb, frame.frame) : undefined;
  const residualSd = counter?.residualSdBound;
  const waited = (Date.now() - frame.arrivedAt) / 1000;
  if (model !== undefined) {
    const sampled = verificationKey(1, frame.seq) / 2 ** 32 < sampleRate && queue.admits(waited);
    if (!sampled) return { pending: Promise.resolve({ match: model >= 0.5, value: model, decidedBy: 'cascade', model, ...(residualSd !== undefined ? { residualSd } : {}) }) };
  } else if (!queue.draw() || !queue.admits(waited)) {
    return 'skipped';
  }
  const pending = queue.run(async () => {
    const answer = options.answer(await options.detect(frame));
    if (model === undefined && counter && thumb) counter.addLabel(thumb, frame.frame, answer.value);
    if (model !== undefined && counter) counter.verified(frame.time, answer.value - model);
    return { ...answer, decidedBy: 'reference' as const, ...(model !== undefined ? { model, ...(residualSd !== undefined ? { residualSd } : {}) } : {}) };
  });
  pending.catch(() => undefined);
  return { pending };
}
