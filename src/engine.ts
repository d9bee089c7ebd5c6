/**
 * The engine: parse -> bind -> plan -> execute, over one catalog. The CLI and the library API
 * are both thin shells over {@link openEngine}.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import { VideoError } from './errors.js';
import type { ProgressEvent, QueryResult } from './engine-types.js';
import { DEFAULT_REFERENCE_MODEL } from './inference/model-manifest.js';
import { resolveModel, type ResolvedModel } from './inference/model-store.js';
import type { ExecutionProviderChoice } from './inference/onnx-runtime.js';
import { ReferenceDetector } from './inference/reference-detector.js';
import { referenceScan, type ReferenceScanContext, type ReferenceScanCounters, type ReplaySource } from './operators/reference-labels.js';
import type { Detection } from './inference/detection.js';
import { Catalog } from './storage/catalog.js';
import type { ModelRow, VideoRow } from './storage/catalog-rows.js';
import { hashFile } from './storage/hash-file.js';
import { probeVideo } from './video/probe.js';
import { locateFfmpeg } from './video/ffmpeg-locator.js';
import type { OutputCost } from './video/decoder.js';
import { explainPlan } from './plan/explain.js';
import { optimize } from './optimizer/optimizer.js';
import type { DecidedAnswer } from './optimizer/certification-draw.js';
import { COST_KEYS } from './optimizer/cost-model.js';
import { detectorInputKey, recordOutputCost } from './optimizer/decode-cost.js';
import { machineKey } from './optimizer/machine.js';
import { executePlan, explainResult, measure, openQuery, recordRun } from './operators/execute-plan.js';
import { EngineSession } from './engine-session.js';
export type { VideoHandle } from './engine-session.js';
import { defaultVideoName } from './video/video-name.js';
import { listRuns, runDetail, type RunDetail, type RunListing } from './runs/run-view.js';
import { buildReport, type ReportOptions } from './report/report.js';
export type { RunDetail, RunListing } from './runs/run-view.js';
export type { ReportOptions } from './report/report.js';
import { indexVideo, type IndexSummary } from './video-index/index-video.js';
import { bindWatchQuery, streamPredicateKey, watchStream, type WatchEvent, type WatchOptions } from './live/watch.js';
import type { StreamStore } from './live/stream-labels.js';
export type { WatchEvent, WatchOptions, StatusEvent, EndEvent, AnswerEvent, IntervalEvent, WindowEvent, FrameEvent, StreamEvent, WithoutReferenceEvent, StoreErrorEvent } from './live/watch.js';
export type { IndexSummary } from './video-index/index-video.js';

export interface EngineOptions {
  /** DuckDB catalog file; default `SIEVE_CATALOG`, else `.sieve/catalog.duckdb` in the working directory. */
  readonly catalog?: string;
  /** Reference detector: a built-in model name or an ONNX file; default `yolo11n_int8dyn_640`. */
  readonly referenceModel?: string;
  /** A folder of ONNX detectors searched first (default `SIEVE_MODEL_DIR`). */
  readonly modelDir?: string;
  /** A data folder whose `models/` is searched next (default `SIEVE_DATA_DIR`). */
  readonly dataDir?: string;
  /** Where downloaded models are cached (default `SIEVE_CACHE_DIR/models`, else `~/.cache/sieve/models`). */
  readonly cacheDir?: string;
  /** Default `cpu`; `cuda` needs onnxruntime-node installed with `ONNXRUNTIME_NODE_INSTALL=cuda12`; `auto` tries CUDA first. */
  readonly executionProvider?: ExecutionProviderChoice;
  readonly ffmpegPath?: string;
  readonly ffprobePath?: string;
  /** One-line notices (an execution-provider fallback, a download). */
  readonly onNotice?: (message: string) => void;
  /**
   * Replay (accuracy checks and benchmarks): a catalog in which the same reference model already
   * labelled every frame a query may need. Frames the detector would run on are looked up there
   * instead and stored as its labels would be; every decision is the one a real run makes, so a
   * query can be replayed many times (with different `seed`s, on copies of one catalog) to measure
   * how often its accuracy promise holds. Nothing is written to the replay catalog.
   */
  readonly replayLabels?: string;
}

export interface QueryOptions {
  /** Names bound to video files for this query (`FROM traffic` with `{ traffic: 'a.mp4' }`). */
  readonly videos?: Readonly<Record<string, string>>;
  /** Run the reference detector on every frame in range instead of the cascade. */
  readonly exact?: boolean;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
  /**
   * Seed of the query's random reference sample (count estimates). The default is fixed, so a
   * warm run draws the frames it drew before; a different seed draws an independent sample.
   */
  readonly seed?: number;
  /**
   * Presence cascades: called once with the answer as the cheap stages and the reference's
   * uncertain frames left it, just before certification draws its sample (`verified` marks the
   * frames whose reference label is known). Benchmarks replay the certification on it.
   */
  readonly onDecided?: (answer: DecidedAnswer) => void;
  /**
   * Plans the optimizer may not choose, like a SQL planner's `enable_*` switches:
   * `{ bisection: false }` keeps presence cascades to those with a specialized model (for
   * measuring the model's scan, or when the class is known to come and go faster than the sample);
   * `{ search: false }` answers LIMIT queries by the exact scan in frame order instead of the
   * index's ranked search.
   */
  readonly planner?: { readonly bisection?: boolean; readonly search?: boolean };
}

export interface VideoSummary {
  readonly name: string;
  readonly path: string;
  readonly frameCount: number;
  readonly width: number;
  readonly height: number;
  readonly fps: number;
  readonly duration: number;
  readonly variableFrameRate: boolean;
  /** Frames the current reference model has labelled. */
  readonly labelledFrames: number;
}

export interface LabelOptions {
  /** Seconds from the start (default 0). */
  readonly from?: number;
  /** Seconds from the start (default: the end). */
  readonly to?: number;
  /** Every `step`-th frame (default 1). */
  readonly step?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export interface IndexOptions {
  /** Class names to index (default: every class the index sample shows on at least 1% of its frames). */
  readonly classes?: readonly string[];
  readonly signal?: AbortSignal;
  readonly onProgress?: (event: ProgressEvent) => void;
}

export interface LabelSummary {
  readonly video: string;
  readonly frames: number;
  readonly referenceCalls: number;
  readonly alreadyLabelled: number;
  readonly seconds: number;
}


/**
 * Opens an engine over a catalog file.
 *
 * @example
 * import { openEngine } from 'sieve';
 * const engine = await openEngine({ catalog: 'traffic.duckdb' });
 * const result = await engine.query("SELECT FCOUNT(*) FROM video WHERE class = 'car'", { videos: { video: 'traffic.mp4' } });
 * console.log(result.value, result.stats.referenceCalls);
 * await engine.close();
 */
export async function openEngine(options: EngineOptions = {}): Promise<Engine> {
  const path = resolve(options.catalog ?? process.env.SIEVE_CATALOG ?? '.sieve/catalog.duckdb');
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const catalog = await Catalog.open(options.catalog === ':memory:' ? ':memory:' : path);
  try {
    // Found once, so that a broken ffmpeg on PATH is reported through this engine's onNotice.
    locateFfmpeg(options);
  } catch {
    // reported by the first command that needs ffmpeg
  }
  return new Engine(catalog, options);
}

export class Engine {
  /** What the query runners work with: the reference model, videos, scans (not public API). */
  private readonly session: EngineSession;

  /** @internal use {@link openEngine} */
  constructor(
    /** The catalog: videos, the label store, trained models, stage costs, query runs. */
    readonly catalog: Catalog,
    readonly options: EngineOptions,
  ) {
    this.session = new EngineSession(catalog, options);
  }

  /**
   * Answers a FrameQL query. See FRAMEQL.md for the dialect. The run is stored in the catalog
   * (`result.runId`; `sieve runs show <id>`). A run that fails or is interrupted is not stored;
   * the labels it committed name its id, which `sieve runs show` of a later run reports as not stored.
   * Rejects with a {@link QueryError} (bad query, unknown class or video name), a `VideoError`
   * (missing or undecodable file), a `ModelError`, a `StorageError` or an `InterruptedError`
   * (`options.signal` aborted), each with a stable `code`.
   *
   * @example
   * // A certified selection: the frames with a bus, FNR and FPR bounded at 95% confidence.
   * const bus = await engine.query("SELECT timestamp FROM traffic WHERE class = 'bus' FNR WITHIN 0.05 FPR WITHIN 0.05", {
   *   videos: { traffic: 'traffic.mp4' },
   *   onProgress: (p) => console.error(p.label, p.done, '/', p.total),
   * });
   * console.log(bus.rows.length, bus.accuracy.estimated, bus.accuracy.confidence, bus.stats.referenceCalls);
   *
   * @example
   * // An aggregate with its confidence interval; a LIMIT search where every frame is verified.
   * const cars = await engine.query("SELECT FCOUNT(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1", { videos: { traffic: 'traffic.mp4' } });
   * console.log(cars.value, cars.interval); // 1.93 { low: 1.85, high: 2.01, confidence: 0.95 }
   * const busy = await engine.query("SELECT timestamp FROM traffic GROUP BY timestamp HAVING SUM(class = 'car') >= 3 LIMIT 10 GAP 300", { videos: { traffic: 'traffic.mp4' } });
   */
  async query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    const startedAt = new Date();
    const runId = await this.catalog.beginRun();
    try {
      return { ...(await this.runQuery(sql, options, startedAt, runId)), runId };
    } finally {
      this.catalog.endRun();
    }
  }

  private async runQuery(sql: string, options: QueryOptions, startedAt: Date, runId: number): Promise<QueryResult> {
    const { ctx, input } = await openQuery(this.session, sql, options);
    const explain = ctx.query.explain;
    // optimize -> measure -> optimize: a cold cascade labels its sample, trains, then is chosen (or not).
    let step = optimize(input);
    if (explain === 'plan') return explainResult(ctx, explainPlan(step.plan));
    for (let round = 0; step.kind === 'measure'; round++) {
      if (round >= 4) throw new Error('internal: the optimizer kept asking for measurements');
      await measure(step.plan, ctx);
      step = optimize(input);
    }
    const result = await executePlan(step, ctx);
    const analyzed = explainPlan(step.plan, result.stats);
    await recordRun(ctx, step, input, result, startedAt, runId, analyzed);
    const plan = explain === 'analyze' ? analyzed : explainPlan(step.plan);
    return explain === 'analyze' ? { ...result, kind: 'explain', plan } : { ...result, plan };
  }

  /**
   * Registers a video under a name (default: its file name without extension), so that queries
   * can name it without `videos`. A missing or undecodable file: `VideoError`.
   *
   * @example
   * await engine.addVideo('recordings/gate-2026-11-30.mp4', 'gate');
   * await engine.query("SELECT timestamp FROM gate WHERE class = 'person'");
   */
  async addVideo(path: string, name?: string): Promise<VideoSummary> {
    const handle = await this.session.registerVideo(path, name ?? defaultVideoName(path));
    return this.summarize(handle.row);
  }

  async listVideos(): Promise<VideoSummary[]> {
    const rows = await this.catalog.listVideos();
    return Promise.all(rows.map((r) => this.summarize(r)));
  }

  /**
   * Labels frames of a video with the reference detector (resuming where an earlier run stopped);
   * later queries read these labels instead of running the detector again.
   *
   * @example
   * const summary = await engine.label('gate', { from: 0, to: 60 }); // the first minute
   * console.log(summary.referenceCalls, summary.alreadyLabelled);
   */
  async label(video: string, options: LabelOptions = {}): Promise<LabelSummary> {
    const range = [options.from !== undefined ? `--from ${options.from}` : '', options.to !== undefined ? `--to ${options.to}` : '', options.step ? `--step ${options.step}` : ''].filter(Boolean).join(' ');
    return this.asRun(`sieve label ${video}${range ? ` ${range}` : ''}`, 'label', () => this.labelFrames(video, options));
  }

  private async labelFrames(video: string, options: LabelOptions): Promise<LabelSummary> {
    const started = performance.now();
    await this.session.referenceModel(); // a bad model fails before the video is registered
    const named = await this.catalog.findVideoByName(video);
    const handle = await this.session.registerVideo(named ? named.path : video);
    const model = await this.session.referenceModelRow();
    const ts = handle.timestamps;
    const step = Math.max(1, Math.floor(options.step ?? 1));
    const frames: number[] = [];
    for (let f = 0; f < ts.length; f += step) {
      if (options.from !== undefined && ts[f]! < options.from) continue;
      if (options.to !== undefined && ts[f]! > options.to) break;
      frames.push(f);
    }
    const counters: ReferenceScanCounters = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0 };
    const scan = referenceScan(this.session.scanContext(handle, model, options.signal, options.onProgress ? (done, total) => options.onProgress!({ phase: 'label', label: 'labelling', done, total, unit: 'frames' }) : undefined), Int32Array.from(frames), counters);
    for await (const _ of scan) {
      // labels are written to the store as they come
    }
    // The detector's measured cost, as an exact scan records it (the optimizer's next estimates).
    if (counters.referenceCalls > 0) {
      const machine = machineKey();
      await this.catalog.putStageCost({ ...COST_KEYS.reference(model.sha256), machine, secondsPerFrame: counters.detectSeconds / counters.referenceCalls });
      await recordOutputCost(this.catalog, detectorInputKey(handle.row.width, handle.row.height), machine, counters.decodeWaitSeconds ?? 0, counters.framesDecoded);
    }
    return { video: handle.name, frames: frames.length, referenceCalls: counters.referenceCalls, alreadyLabelled: counters.labelsFromStore, seconds: (performance.now() - started) / 1000 };
  }

  /**
   * Builds the video's index ahead of queries (see `sieve index`): count signals for `classes`,
   * or for every class its sample shows. Signals already stored are kept and reported.
   *
   * @example
   * const index = await engine.index('gate', { classes: ['person', 'car'] });
   * console.log(index.referenceCalls, index.signals);
   */
  async index(video: string, options: IndexOptions = {}): Promise<IndexSummary> {
    return this.asRun(`sieve index ${video}${options.classes ? ` --classes ${options.classes.join(',')}` : ''}`, 'index', () => this.buildIndex(video, options));
  }

  /**
   * Runs a labelling or index build as a stored run (`sieve runs`), so the labels and signals it
   * writes name it and the queries that reuse them can say so.
   */
  private async asRun<T extends { readonly referenceCalls: number; readonly seconds: number; readonly video: string }>(command: string, kind: string, fn: () => Promise<T>): Promise<T> {
    const startedAt = new Date();
    const runId = await this.catalog.beginRun();
    try {
      const out = await fn();
      const video = await this.catalog.findVideoByName(out.video);
      const model = await this.session.referenceModelRow();
      await this.catalog.recordQueryRun({ id: runId, query: command, startedAt, finishedAt: new Date(), videoId: video?.id ?? null, modelId: model.id, plan: { kind }, referenceCalls: out.referenceCalls, framesDecoded: 0, seconds: out.seconds, result: { kind, summary: out }, status: 'ok' });
      return out;
    } finally {
      this.catalog.endRun();
    }
  }

  private async buildIndex(video: string, options: IndexOptions): Promise<IndexSummary> {
    const model = await this.session.referenceModel();
    const named = await this.catalog.findVideoByName(video);
    const handle = await this.session.registerVideo(named ? named.path : video);
    const row = await this.session.referenceModelRow();
    const counters: ReferenceScanCounters = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0 };
    const onProgress = options.onProgress;
    return indexVideo(
      {
        catalog: this.catalog,
        handle,
        model: row,
        labels: model.manifest.labels,
        scan: (phase, label) => this.session.scanContext(handle, row, options.signal, onProgress ? (done, total) => onProgress({ phase, label, done, total, unit: 'frames' }) : undefined),
        ffmpeg: this.session.ffmpegOptions(),
        counters,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(onProgress ? { onProgress } : {}),
      },
      handle.name,
      options.classes,
    );
  }

  /**
   * The stored runs, newest first (queries, `label` and `index` builds).
   *
   * @example
   * for (const r of await engine.runs(5)) console.log(r.id, r.status, r.referenceCalls, r.query);
   */
  async runs(limit = 20): Promise<RunListing[]> {
    return listRuns(this.catalog, limit);
  }

  /**
   * What stored run `id` rested on: query, plan, reference model and its sha256, the specialized
   * models with their training provenance, the runs whose labels or models it reused, its costs
   * and accuracy. Unknown id: `SieveError` `RUN_NOT_FOUND`.
   */
  async run(id: number): Promise<RunDetail> {
    return runDetail(this.catalog, id);
  }

  /**
   * A self-contained HTML report of stored run `runId` (answer and bounds, plan with per-stage
   * costs, a timeline of matched and verified frames, thumbnails with the reference's boxes).
   *
   * @example
   * const result = await engine.query("SELECT frame FROM video WHERE class = 'car'", { videos: { video: 'clip.mp4' } });
   * writeFileSync('report.html', await engine.report(result.runId!));
   */
  async report(runId: number, options: Omit<ReportOptions, 'ffmpeg'> = {}): Promise<string> {
    return buildReport(this.catalog, runId, { ...options, ffmpeg: this.session.ffmpegOptions() });
  }

  /**
   * Runs a continuous query over live inputs until `options.signal` aborts, a LIMIT is reached or
   * the stream ends for good: selections yield each matching interval once it closes, aggregates
   * one value per `window` seconds of stream time, LIMIT queries each returned frame, with
   * `status` events (input and processed fps, lag, skipped frames) and connection events
   * (`dropped`, `reconnecting`, `connected`); the last event is `end`.
   *
   * @example
   * const stop = new AbortController();
   * for await (const event of engine.watch("SELECT timestamp FROM cam WHERE class = 'bus'", { streams: { cam: 'rtsp://10.0.0.5/stream1' }, signal: stop.signal })) {
   *   if (event.type === 'interval') console.log(`bus from ${event.startedAt} to ${event.endedAt}`);
   * }
   */
  async *watch(sql: string, options: WatchOptions): AsyncGenerator<WatchEvent> {
    const model = await this.session.referenceModel();
    const query = bindWatchQuery(sql, options.streams, model.manifest.labels);
    const reference = await this.session.referenceModelRow();
    const key = { stream: query.video.path, referenceModelId: reference.id, predicateKey: streamPredicateKey(query) };
    const catalog = this.catalog;
    const store: StreamStore = {
      labels: () => catalog.streamLabels(key),
      putLabels: (chunk, keep) => catalog.putStreamLabels(key, chunk, keep),
      model: () => catalog.streamModel(key),
      putModel: (onnx, state) => catalog.putStreamModel(key, onnx, state),
      clear: () => catalog.clearStream(key),
    };
    // A detector of its own, on a worker thread: the stream is read while it computes.
    const detector = this.session.liveDetector();
    detector.catch(() => undefined); // awaited on the first frame; a failure surfaces there
    try {
      yield* watchStream({ detector, labels: model.manifest.labels, bins: locateFfmpeg(this.session.ffmpegOptions()), store }, query, options);
    } finally {
      await detector.then((d) => d.dispose()).catch(() => undefined);
    }
  }

  /** Releases the ONNX sessions and closes the catalog (checkpointed); call it once, last. */
  async close(): Promise<void> {
    await this.session.dispose();
    await this.catalog.close();
  }

  private async summarize(row: VideoRow): Promise<VideoSummary> {
    const model = await this.session.referenceModelRow().catch(() => undefined);
    return {
      name: row.name ?? defaultVideoName(row.path),
      path: row.path,
      frameCount: row.frameCount,
      width: row.width,
      height: row.height,
      fps: row.fps,
      duration: row.duration,
      variableFrameRate: row.variableFrameRate,
      labelledFrames: model ? await this.catalog.countLabelled(row.id, model.id) : 0,
    };
  }
}

/** @internal The engine's session (reference model, video registration, scans), for tests and benches. */
export function sessionOf(engine: Engine): EngineSession {
  return engine['session'];
}
