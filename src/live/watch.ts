/**
 * Continuous queries over a live stream (`sieve watch`, `engine.watch`): the query is bound
 * against the stream, frames come from {@link readStream}, each one the machine keeps up with is
 * decided by the reference detector, and the query's emitter turns decided frames into events
 * (intervals, windows, LIMIT frames) as soon as they are final. Status events report input and
 * processed frame rates, lag (decision time minus arrival) and the frames skipped because the
 * detector could not keep up; connection events report drops and reconnects.
 */
import { bindQuery, type BoundQuery } from '../binder/index.js';
import { countMatching, evaluateFramePredicate, evaluateObjectPredicate, type DetectionRow } from '../binder/predicate-evaluator.js';
import type { ReferenceDetector } from '../inference/reference-detector.js';
import { parseQuery } from '../language/index.js';
import { queryError } from '../language/query-error.js';
import type { FfmpegBinaries } from '../video/ffmpeg-locator.js';
import { intervalEmitter, limitEmitter, windowEmitter, type AnswerEvent, type DecidedFrame, type Emitter } from './watch-emitters.js';
import { readStream, type StreamEvent, type StreamFrame, type StreamReaderOptions } from './stream-reader.js';
import { heldOutNeeded, StreamCascade, type CascadeEvent } from './stream-cascade.js';
import type { StreamStore } from './stream-labels.js';
import { ReferenceQueue, routeCountFrame, routeFrame, type FrameDecision, type RouterOptions } from './frame-router.js';
import { StreamCounter, type CountEvent } from './stream-count.js';
import { countTarget } from '../binder/bound-node.js';
import { availableParallelism } from 'node:os';

export type { AnswerEvent, FrameEvent, IntervalEvent, WindowEvent } from './watch-emitters.js';
export type { StreamEvent } from './stream-reader.js';
export type { CascadeEvent } from './stream-cascade.js';

export interface WatchOptions {
  /** Names bound to live inputs for this query (`FROM cam` with `{ cam: 'udp://...' }`). */
  readonly streams: Readonly<Record<string, string>>;
  /** Seconds of stream time per aggregate window (default 60). */
  readonly window?: number;
  /** Seconds between status events (default 10). */
  readonly statusEvery?: number;
  readonly signal?: AbortSignal;
  /** Frames waiting for the detector before the oldest are skipped (default: `maxLag` seconds of frames). */
  readonly backlog?: number;
  /** Seconds of frames that may wait for a decision before the oldest are skipped (default 1). */
  readonly maxLag?: number;
  readonly stallSeconds?: number;
  readonly retries?: number;
  readonly follow?: boolean;
  readonly realtime?: boolean;
  /** Wait for the source to connect and push instead of connecting to it (see the stream reader's `listen`). */
  readonly listen?: boolean;
  /**
   * Per-frame predicates (selections, LIMIT, HAVING): train, certify and switch to a cascade once
   * the reference has labelled enough of the stream (default true). `false`: the reference alone.
   */
  readonly cascade?: boolean;
  /** Seconds of stream time per verification window of the running cascade (default `window`). */
  readonly verifyWindow?: number;
}

export interface StatusEvent {
  readonly type: 'status';
  readonly at: string;
  /** Frames per second arriving from the stream and decided, since the last status. */
  readonly inputFps: number;
  readonly processedFps: number;
  /** Seconds from a frame's arrival to its decision: median and largest since the last status. */
  readonly lagSeconds: { readonly median: number; readonly max: number };
  /**
   * How far arrival has fallen behind the stream's own clock since the connection started
   * (seconds): a source slowed by back-pressure (TCP) shows here even when nothing is skipped.
   */
  readonly behindSeconds: number;
  /** Frames skipped (not decided) since the start because the detector could not keep up. */
  readonly skipped: number;
  readonly processed: number;
  readonly reconnects: number;
  /** Frames decided by the specialized model (without the reference) since the start. */
  readonly byCascade: number;
  /**
   * Of those, uncertain frames the model decided alone because the reference could not take them
   * within `maxLag` (see the `without-reference` events and their bounds).
   */
  readonly byModelAlone: number;
  /** Whether the certified cascade is running now. */
  readonly cascade: boolean;
}

export interface EndEvent {
  readonly type: 'end';
  readonly reason: string;
  readonly processed: number;
  readonly skipped: number;
  readonly reconnects: number;
}

/**
 * Consecutive frames the model decided alone, without the reference (which could not take them
 * within `maxLag`): the bounds that hold for them are the cascade's `withoutReference` ones, wider
 * than the targets.
 */
export interface WithoutReferenceEvent {
  readonly type: 'without-reference';
  readonly start: number;
  readonly end: number;
  readonly startFrame: number;
  readonly endFrame: number;
  readonly frames: number;
  readonly fnrBound: number;
  readonly fprBound: number;
}

/** Storing the stream cascade's labels or model failed: the watch goes on, cold on its next start. */
export interface StoreErrorEvent {
  readonly type: 'store-error';
  readonly message: string;
}

export type WatchEvent = AnswerEvent | StatusEvent | EndEvent | StreamEvent | CascadeEvent | CountEvent | WithoutReferenceEvent | StoreErrorEvent;

export interface WatchContext {
  /** Loading while the stream connects. */
  readonly detector: Promise<ReferenceDetector>;
  readonly labels: readonly string[];
  readonly bins: FfmpegBinaries;
  /** Where the stream cascade keeps labels and its model between watches (a warm restart); none: cold each time. */
  readonly store?: StreamStore;
}

const NOWHERE = { line: 1, column: 1, offset: 0 };

/**
 * The catalog key of a watch's stored labels and model: its per-frame predicate with the targets
 * and confidence its model was certified for.
 */
export function streamPredicateKey(query: BoundQuery): string {
  const { fnr, fpr, confidence } = query.accuracy;
  // A count model is valid for any error target (the sample size follows it), per predicate and confidence.
  if (query.shape === 'aggregate') return `watch-count:${JSON.stringify({ where: query.where, fn: query.outputs[0]!.aggregate.fn })}:confidence=${confidence}`;
  return `watch:${JSON.stringify({ where: query.where, having: query.shape === 'grouped-limit' ? query.having : undefined })}:fnr=${fnr}:fpr=${fpr}:confidence=${confidence}`;
}

/** The query bound against named streams; shapes a stream cannot answer are refused up front. */
export function bindWatchQuery(sql: string, streams: Readonly<Record<string, string>>, labels: readonly string[]): BoundQuery {
  const statement = parseQuery(sql);
  if (statement.kind === 'explain') throw queryError('UNSUPPORTED', NOWHERE, 'EXPLAIN is not available for a continuous query; run it on a recording');
  const query = bindQuery(statement, {
    resolveVideo: (ref) => (ref.kind === 'name' ? (streams[ref.name] !== undefined ? { name: ref.name, path: streams[ref.name]! } : undefined) : { name: 'stream', path: ref.path }),
    videoNames: () => Object.keys(streams),
    labels,
  });
  if (query.orderBy.length > 0) throw queryError('UNSUPPORTED', NOWHERE, 'ORDER BY needs the whole video; a continuous query emits in stream order');
  if (query.shape === 'aggregate') {
    const fns = query.outputs.map((o) => o.aggregate.fn);
    if (fns.length !== 1 || !['fcount', 'count', 'count-distinct-frames'].includes(fns[0]!)) {
      throw queryError('UNSUPPORTED', NOWHERE, `a continuous query answers one FCOUNT(*), COUNT(*) or COUNT(DISTINCT frame) per window, not ${fns.join(', ')}`);
    }
  }
  return query;
}

/** The emitter of a query's shape. */
function emitterOf(query: BoundQuery, window: number): Emitter {
  if (query.shape === 'aggregate') return windowEmitter(query.outputs[0]!.aggregate.fn as 'fcount' | 'count' | 'count-distinct-frames', window, query.accuracy.confidence);
  if (query.shape === 'grouped-limit' || query.limit !== undefined || query.shape === 'select-rows') return limitEmitter(query.limit, query.gap ?? 1);
  return intervalEmitter();
}

/** Whether a frame's detections satisfy the query, and its value for aggregates. */
function decide(query: BoundQuery, rows: readonly DetectionRow[]): { match: boolean; value: number } {
  if (query.shape === 'grouped-limit') {
    const passing = rows.filter((r) => evaluateObjectPredicate(query.where, r));
    return { match: passing.length > 0 && evaluateFramePredicate(query.having, passing), value: 0 };
  }
  const n = countMatching(query.where, rows);
  if (query.shape === 'aggregate' && query.outputs[0]!.aggregate.fn === 'count-distinct-frames') return { match: n > 0, value: n > 0 ? 1 : 0 };
  return { match: n > 0, value: n };
}

/** Running counters for status events. */
class Meter {
  processed = 0;
  skipped = 0;
  reconnects = 0;
  byCascade = 0;
  byModelAlone = 0;
  cascade = false;
  behind = 0;
  private origin: { arrivedAt: number; time: number } | undefined;
  private lags: number[] = [];
  private arrived = 0;
  private decided = 0;
  private since = Date.now();

  /** A new connection: its clock starts again. */
  connected(): void {
    this.origin = undefined;
  }

  frame(skippedBefore: number, lagSeconds: number, arrival: { arrivedAt: number; time: number }, decidedBy: FrameDecision['decidedBy']): void {
    if (decidedBy !== 'reference') this.byCascade++;
    if (decidedBy === 'model-alone') this.byModelAlone++;
    this.origin ??= arrival;
    this.behind = Math.max(0, (arrival.arrivedAt - this.origin.arrivedAt) / 1000 - (arrival.time - this.origin.time));
    this.processed++;
    this.decided++;
    this.arrived += 1 + skippedBefore;
    this.skipped += skippedBefore;
    this.lags.push(lagSeconds);
  }

  due(everySeconds: number): boolean {
    return Date.now() - this.since >= everySeconds * 1000;
  }

  status(): StatusEvent {
    const now = Date.now();
    const seconds = Math.max(1e-3, (now - this.since) / 1000);
    const lags = [...this.lags].sort((a, b) => a - b);
    const event: StatusEvent = {
      type: 'status',
      at: new Date(now).toISOString(),
      inputFps: this.arrived / seconds,
      processedFps: this.decided / seconds,
      lagSeconds: { median: lags[Math.floor(lags.length / 2)] ?? 0, max: lags[lags.length - 1] ?? 0 },
      behindSeconds: this.behind,
      skipped: this.skipped,
      processed: this.processed,
      reconnects: this.reconnects,
      byCascade: this.byCascade,
      byModelAlone: this.byModelAlone,
      cascade: this.cascade,
    };
    this.lags = [];
    this.arrived = 0;
    this.decided = 0;
    this.since = now;
    return event;
  }
}

/** The reference detector's rows for one stream frame. */
async function detectFrame(detector: ReferenceDetector, frame: StreamFrame): Promise<DetectionRow[]> {
  const batch = { width: frame.width, height: frame.height, count: 1, frames: Int32Array.of(frame.frame), timestamps: Float64Array.of(frame.time), data: frame.rgb };
  const [dets] = await detector.detect(batch, { width: frame.width, height: frame.height });
  return (dets ?? []).map((d) => ({ ...d, frame: frame.frame, timestamp: frame.time }));
}

/** Whether the query is decided frame by frame (a presence cascade can answer it). */
function perFrame(query: BoundQuery): boolean {
  return query.shape === 'select-frames' || query.shape === 'grouped-limit';
}

/**
 * The share of the cascade's decisions the reference re-checks: enough for one verification
 * window to hold the sample a held-out check at the query's targets needs.
 */
function verificationRate(query: BoundQuery, fps: number | undefined, windowSeconds: number): number {
  const need = heldOutNeeded(Math.min(query.accuracy.fnr, query.accuracy.fpr), query.accuracy.confidence);
  return Math.min(1, need / Math.max(1, windowSeconds * (fps ?? 25)));
}

/** Slots from the reader to the answer, in stream order: events, decided (or pending) frames, skipped frames. */
type Slot =
  | { readonly kind: 'event'; readonly event: StreamEvent }
  | { readonly kind: 'frame'; readonly frame: StreamFrame; readonly skippedBefore: number; readonly pending: Promise<FrameDecision> }
  | { readonly kind: 'skipped'; readonly skippedBefore: number };

/** Frames routed but not yet answered, at most: a consumer that stops pulling holds the reader here. */
const MAX_SLOTS = 512;

/** A bounded queue from the producer (the stream reader) to the consumer (the answer). */
class SlotQueue {
  private readonly items: Slot[] = [];
  private ended = false;
  private failure: { error: unknown } | undefined;
  private wake: (() => void) | undefined;
  private room: (() => void) | undefined;

  push(slot: Slot): void {
    this.items.push(slot);
    this.wake?.();
  }

  end(failure?: { error: unknown }): void {
    this.ended = true;
    this.failure = failure;
    this.wake?.();
  }

  /** Waits until fewer than {@link MAX_SLOTS} are queued. */
  async hasRoom(): Promise<void> {
    while (this.items.length >= MAX_SLOTS) await new Promise<void>((r) => (this.room = r));
  }

  /** The next slot, or undefined once the producer ended (its error thrown, if any). */
  async take(): Promise<Slot | undefined> {
    while (this.items.length === 0 && !this.ended) await new Promise<void>((r) => (this.wake = r));
    const slot = this.items.shift();
    this.room?.();
    if (slot) return slot;
    if (this.failure) throw this.failure.error;
    return undefined;
  }
}

/** Reads the stream and routes each frame (see `frame-router.ts`) into `slots`, in order. */
async function produce(path: string, reader: StreamReaderOptions, slots: SlotQueue, route: (frame: StreamFrame) => Promise<{ pending: Promise<FrameDecision> } | 'skipped'>, onConnected: (fps: number | undefined) => void): Promise<void> {
  let lastSeq = -1;
  try {
    for await (const item of readStream(path, reader)) {
      if (item.type !== 'frame') {
        if (item.type === 'dropped') lastSeq = -1;
        if (item.type === 'connected') onConnected(item.fps);
        slots.push({ kind: 'event', event: item });
        continue;
      }
      const skippedBefore = lastSeq < 0 ? 0 : item.seq - lastSeq - 1;
      lastSeq = item.seq;
      const routed = await route(item);
      slots.push(routed === 'skipped' ? { kind: 'skipped', skippedBefore } : { kind: 'frame', frame: item, skippedBefore, pending: routed.pending });
      await slots.hasRoom();
    }
    slots.end();
  } catch (error) {
    slots.end({ error });
  }
}

/** Runs of consecutive frames decided by the model alone, reported as they close. */
class AloneRuns {
  private open: { first: StreamFrame; last: StreamFrame; frames: number } | undefined;

  constructor(private readonly cascade: StreamCascade | undefined) {}

  push(frame: StreamFrame, decidedBy: FrameDecision['decidedBy']): WithoutReferenceEvent[] {
    if (decidedBy === 'model-alone') {
      if (this.open) this.open = { ...this.open, last: frame, frames: this.open.frames + 1 };
      else this.open = { first: frame, last: frame, frames: 1 };
      return [];
    }
    return this.close();
  }

  close(): WithoutReferenceEvent[] {
    if (!this.open) return [];
    const { first, last, frames } = this.open;
    this.open = undefined;
    const bound = this.cascade?.withoutReference;
    return [{ type: 'without-reference', start: first.time, end: last.time, startFrame: first.frame, endFrame: last.frame, frames, fnrBound: bound?.fnrBound ?? 1, fprBound: bound?.fprBound ?? 1 }];
  }
}

/** The stream reader's options from the watch's. */
function readerOptions(ctx: WatchContext, options: WatchOptions, signal: AbortSignal): StreamReaderOptions {
  return {
    bins: ctx.bins,
    signal,
    ...(options.backlog !== undefined ? { backlog: options.backlog } : {}),
    ...(options.maxLag !== undefined ? { maxLagSeconds: options.maxLag } : {}),
    ...(options.stallSeconds !== undefined ? { stallSeconds: options.stallSeconds } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.follow !== undefined ? { follow: options.follow } : {}),
    ...(options.realtime !== undefined ? { realtime: options.realtime } : {}),
    ...(options.listen !== undefined ? { listen: options.listen } : {}),
  };
}

/**
 * The stream's models (the presence cascade for per-frame predicates, the count model for
 * aggregates, resumed from the store), and the reader started: it routes each frame into `slots`.
 */
async function startRouting(ctx: WatchContext, query: BoundQuery, options: WatchOptions, slots: SlotQueue, signal: AbortSignal) {
  const verifyWindow = options.verifyWindow ?? options.window ?? 60;
  const threads = Math.max(1, availableParallelism() - 1);
  let verifyRate = 1;
  let windowFrames = (options.window ?? 60) * 25;
  const queue = new ReferenceQueue({ maxLagSeconds: options.maxLag ?? 1, backlog: options.backlog });
  const load = { sustainedShare: () => queue.sustainableShare(), verifyRate: () => verifyRate };
  const cascade = options.cascade !== false && perFrame(query) ? new StreamCascade(query.accuracy, verifyWindow, threads, ctx.store, load) : undefined;
  const counter = options.cascade !== false && query.shape === 'aggregate' ? new StreamCounter(query.accuracy.confidence, threads, ctx.store, verifyWindow) : undefined;
  await cascade?.resume();
  await counter?.resume();
  const router: RouterOptions = {
    query,
    cascade,
    counter,
    queue,
    detect: async (frame) => detectFrame(await ctx.detector, frame),
    answer: (rows) => decide(query, rows),
  };
  const route = counter
    ? (frame: StreamFrame) => routeCountFrame(router, frame, counter.sampleRate(windowFrames, countTarget(query, windowFrames).within))
    : (frame: StreamFrame) => routeFrame(router, frame, verifyRate);
  const producing = produce(query.video.path, readerOptions(ctx, options, signal), slots, route, (fps) => {
    if (cascade) verifyRate = verificationRate(query, fps, verifyWindow);
    // With a frame-count backlog (tests, replays) every frame is offered; else the reference samples at its rate.
    if (options.backlog === undefined) queue.setArrivalRate(fps);
    windowFrames = (options.window ?? 60) * (fps ?? 25);
  });
  return { cascade, model: cascade ?? counter, producing };
}

/**
 * Runs a continuous query until `options.signal` aborts (the generator then returns after an
 * `end` event), a LIMIT is satisfied, or the stream ends for good.
 */
export async function* watchStream(ctx: WatchContext, query: BoundQuery, options: WatchOptions): AsyncGenerator<WatchEvent> {
  const emitter = emitterOf(query, options.window ?? 60);
  const meter = new Meter();
  const inner = new AbortController();
  const onAbort = () => inner.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  // A model that fails to load stops the watch at once, not at the first frame.
  let failed: unknown;
  ctx.detector.catch((error: unknown) => {
    failed = error;
    inner.abort();
  });
  let reason = 'the stream ended';
  const slots = new SlotQueue();
  const started = await startRouting(ctx, query, options, slots, inner.signal).catch((error: unknown) => {
    options.signal?.removeEventListener('abort', onAbort);
    throw error;
  });
  const { cascade, model, producing } = started;
  const alone = new AloneRuns(cascade);
  let carried = 0;
  try {
    for (let slot = await slots.take(); slot; slot = await slots.take()) {
      if (slot.kind === 'event') {
        const item = slot.event;
        if (item.type === 'dropped') {
          yield* alone.close();
          yield* emitter.cut();
        }
        if (item.type === 'reconnecting') meter.reconnects++;
        if (item.type === 'connected') meter.connected();
        if (item.type === 'ended') reason = item.reason;
        else yield item;
        continue;
      }
      if (slot.kind === 'skipped') {
        carried += slot.skippedBefore + 1;
        continue;
      }
      const { frame } = slot;
      const decision = await slot.pending;
      const skippedBefore = slot.skippedBefore + carried;
      carried = 0;
      const decided: DecidedFrame = { frame: frame.frame, time: frame.time, arrivedAt: frame.arrivedAt, ...decision, skippedBefore };
      meter.frame(skippedBefore, (Date.now() - frame.arrivedAt) / 1000, frame, decision.decidedBy);
      if (model) {
        yield* model.drain();
        meter.cascade = model.active;
        const storeFailure = model.takeStoreError();
        if (storeFailure !== undefined) yield { type: 'store-error', message: storeFailure instanceof Error ? storeFailure.message : String(storeFailure) };
      }
      yield* alone.push(frame, decision.decidedBy);
      yield* emitter.push(decided);
      if (meter.due(options.statusEvery ?? 10)) yield meter.status();
      if (emitter.done) {
        reason = `LIMIT ${query.limit} reached`;
        break;
      }
    }
  } catch (error) {
    if (failed !== undefined) throw failed;
    if (!options.signal?.aborted) throw error;
    reason = 'stopped';
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    inner.abort();
    await producing;
    await model?.dispose();
  }
  yield* alone.close();
  yield* emitter.finish();
  yield { type: 'end', reason, processed: meter.processed, skipped: meter.skipped + carried, reconnects: meter.reconnects };
}
