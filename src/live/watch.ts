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
import { heldOutNeeded, StreamCascade, thumbnail, type CascadeEvent } from './stream-cascade.js';
import { verificationKey } from '../optimizer/certification.js';

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

export type WatchEvent = AnswerEvent | StatusEvent | EndEvent | StreamEvent | CascadeEvent;

export interface WatchContext {
  /** Loading while the stream connects. */
  readonly detector: Promise<ReferenceDetector>;
  readonly labels: readonly string[];
  readonly bins: FfmpegBinaries;
}

const NOWHERE = { line: 1, column: 1, offset: 0 };

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

  frame(skippedBefore: number, lagSeconds: number, arrival: { arrivedAt: number; time: number }): void {
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

/**
 * One frame's answer: from the cascade when it is sure (and not drawn for verification, nor a frame
 * a LIMIT would return), else from the reference.
 */
async function decideFrame(ctx: WatchContext, query: BoundQuery, frame: StreamFrame, cascade: StreamCascade | undefined, verifyRate: number): Promise<{ match: boolean; value: number; decidedBy: 'reference' | 'cascade' }> {
  const thumb = cascade ? await thumbnail(frame.rgb, frame.width, frame.height) : undefined;
  const model = cascade && thumb ? await cascade.decide(thumb, frame.frame) : -1;
  // A frame a LIMIT would return is always checked by the reference: every returned frame is verified.
  const verify = model !== -1 && ((model === 1 && query.limit !== undefined) || verificationKey(0, frame.seq) / 2 ** 32 < verifyRate);
  if (model !== -1 && !verify) return { match: model === 1, value: model, decidedBy: 'cascade' };
  const answer = decide(query, await detectFrame(await ctx.detector, frame));
  if (cascade && thumb) {
    if (model !== -1) cascade.verified(frame.time, model, answer.match);
    else cascade.addLabel(thumb, frame.frame, answer.match);
  }
  return { ...answer, decidedBy: 'reference' };
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
  const reader: StreamReaderOptions = {
    bins: ctx.bins,
    signal: inner.signal,
    ...(options.backlog !== undefined ? { backlog: options.backlog } : {}),
    ...(options.maxLag !== undefined ? { maxLagSeconds: options.maxLag } : {}),
    ...(options.stallSeconds !== undefined ? { stallSeconds: options.stallSeconds } : {}),
    ...(options.retries !== undefined ? { retries: options.retries } : {}),
    ...(options.follow !== undefined ? { follow: options.follow } : {}),
    ...(options.realtime !== undefined ? { realtime: options.realtime } : {}),
  };
  let lastSeq = -1;
  let reason = 'the stream ended';
  const cascade = options.cascade !== false && perFrame(query) ? new StreamCascade(query.accuracy, options.verifyWindow ?? options.window ?? 60) : undefined;
  let verifyRate = 1;
  try {
    for await (const item of readStream(query.video.path, reader)) {
      if (item.type !== 'frame') {
        if (item.type === 'dropped') {
          yield* emitter.cut();
          lastSeq = -1;
        }
        if (item.type === 'reconnecting') meter.reconnects++;
        if (item.type === 'connected') meter.connected();
        if (item.type === 'connected' && cascade) verifyRate = verificationRate(query, item.fps, options.verifyWindow ?? options.window ?? 60);
        if (item.type === 'ended') reason = item.reason;
        else yield item;
        continue;
      }
      const frame = item;
      const skippedBefore = lastSeq < 0 ? 0 : frame.seq - lastSeq - 1;
      lastSeq = frame.seq;
      const decision = await decideFrame(ctx, query, frame, cascade, verifyRate);
      const decided: DecidedFrame = { frame: frame.frame, time: frame.time, arrivedAt: frame.arrivedAt, ...decision, skippedBefore };
      meter.frame(skippedBefore, (Date.now() - frame.arrivedAt) / 1000, frame);
      if (decision.decidedBy === 'cascade') meter.byCascade++;
      if (cascade) {
        yield* cascade.drain();
        meter.cascade = cascade.active;
      }
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
    await cascade?.dispose();
  }
  yield* emitter.finish();
  yield { type: 'end', reason, processed: meter.processed, skipped: meter.skipped, reconnects: meter.reconnects };
}
