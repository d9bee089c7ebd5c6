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
import { referenceScan, type ReferenceScanContext, type ReferenceScanCounters, type ReplaySource } from './operators/reference-scan-operator.js';
import type { Detection } from './inference/detection.js';
import { Catalog } from './storage/catalog.js';
import type { ModelRow, VideoRow } from './storage/catalog-rows.js';
import { hashFile } from './storage/hash-file.js';
import { probeVideo } from './video/probe.js';
import { locateFfmpeg } from './video/ffmpeg-locator.js';
import type { OutputCost } from './video/decoder.js';
import { runQuery } from './query-runner.js';
import { defaultVideoName } from './video/video-name.js';

export interface EngineOptions {
  /** DuckDB catalog file; default `SIEVE_CATALOG`, else `.sieve/catalog.duckdb` in the working directory. */
  readonly catalog?: string;
  /** Reference detector: a built-in model name or an ONNX file; default `yolo11n_int8dyn_640`. */
  readonly referenceModel?: string;
  readonly modelDir?: string;
  readonly dataDir?: string;
  readonly cacheDir?: string;
  /** Default `cpu`; `auto` tries CUDA first. */
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
  /** Seconds. */
  readonly from?: number;
  readonly to?: number;
  readonly step?: number;
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

/** A registered video with everything the operators need. */
export interface VideoHandle {
  readonly row: VideoRow;
  readonly name: string;
  readonly timestamps: Float64Array;
  /** Gap in frames above which reading this video seeks instead of decoding through (measured). */
  readonly seekGap?: number;
  /** What a seek and an output pixel cost, to weigh covering frames against seeking. */
  readonly outputCost?: OutputCost;
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
  private model: ResolvedModel | undefined;
  private detector: Promise<ReferenceDetector> | undefined;
  /** The detector loaded to check an unverified model file (see `referenceModel`). */
  private checked: ReferenceDetector | undefined;
  private replayCatalog: Promise<Catalog> | undefined;

  /** @internal use {@link openEngine} */
  constructor(
    readonly catalog: Catalog,
    readonly options: EngineOptions,
  ) {}

  /** Answers a FrameQL query. See FRAMEQL.md for the dialect. */
  query(sql: string, options: QueryOptions = {}): Promise<QueryResult> {
    return runQuery(this, sql, options);
  }

  /** Registers a video under a name (default: its file name without extension). */
  async addVideo(path: string, name?: string): Promise<VideoSummary> {
    const handle = await this.registerVideo(path, name ?? defaultVideoName(path));
    return this.summarize(handle.row);
  }

  async listVideos(): Promise<VideoSummary[]> {
    const rows = await this.catalog.listVideos();
    return Promise.all(rows.map((r) => this.summarize(r)));
  }

  /** Labels frames of a video with the reference detector (resuming where an earlier run stopped). */
  async label(video: string, options: LabelOptions = {}): Promise<LabelSummary> {
    const started = performance.now();
    await this.referenceModel(); // a bad model fails before the video is registered
    const named = await this.catalog.findVideoByName(video);
    const handle = await this.registerVideo(named ? named.path : video);
    const model = await this.referenceModelRow();
    const ts = handle.timestamps;
    const step = Math.max(1, Math.floor(options.step ?? 1));
    const frames: number[] = [];
    for (let f = 0; f < ts.length; f += step) {
      if (options.from !== undefined && ts[f]! < options.from) continue;
      if (options.to !== undefined && ts[f]! > options.to) break;
      frames.push(f);
    }
    const counters: ReferenceScanCounters = { referenceCalls: 0, labelsFromStore: 0, framesDecoded: 0, detectSeconds: 0 };
    const scan = referenceScan(this.scanContext(handle, model, options.signal, options.onProgress ? (done, total) => options.onProgress!({ phase: 'label', label: 'labelling', done, total, unit: 'frames' }) : undefined), Int32Array.from(frames), counters);
    for await (const _ of scan) {
      // labels are written to the store as they come
    }
    return { video: handle.name, frames: frames.length, referenceCalls: counters.referenceCalls, alreadyLabelled: counters.labelsFromStore, seconds: (performance.now() - started) / 1000 };
  }

  async close(): Promise<void> {
    const detector = this.detector;
    this.detector = undefined;
    if (detector) await (await detector.catch(() => undefined))?.dispose();
    await this.checked?.dispose();
    const replay = this.replayCatalog;
    this.replayCatalog = undefined;
    if (replay) await (await replay.catch(() => undefined))?.close();
    await this.catalog.close();
  }

  // ---- internals shared with the query runner ----------------------------------------------------

  /** The reference model's file and manifest (resolved once; loaded only when its checksum is not the manifest's). */
  async referenceModel(): Promise<ResolvedModel> {
    if (this.model) return this.model;
    const model = await resolveModel(this.options.referenceModel ?? process.env.SIEVE_MODEL ?? DEFAULT_REFERENCE_MODEL, {
      modelDir: this.options.modelDir,
      dataDir: this.options.dataDir,
      cacheDir: this.options.cacheDir,
    });
    if (model.sha256 !== model.manifest.source.sha256) {
      // A file the manifest's checksum does not vouch for: load it now, so that a file of the
      // wrong shape or no model at all fails before anything is written to the catalog.
      const checked = await this.loadDetector(model);
      if (this.checked) await checked.dispose();
      else this.checked = checked;
    }
    this.model = model;
    return model;
  }

  async referenceModelRow(): Promise<ModelRow> {
    const m = await this.referenceModel();
    return this.catalog.registerModel({
      name: m.manifest.name,
      sha256: m.sha256,
      family: m.manifest.family,
      inputWidth: m.manifest.input.width,
      inputHeight: m.manifest.input.height,
      labels: m.manifest.labels,
    });
  }

  /** The loaded detector, created on first use (a warm query may never need it). */
  referenceDetector(): Promise<ReferenceDetector> {
    this.detector ??= this.referenceModel().then((m) => this.checked ?? this.loadDetector(m));
    return this.detector;
  }

  private loadDetector(m: ResolvedModel): Promise<ReferenceDetector> {
    return ReferenceDetector.load(m.path, {
      manifest: m.manifest,
      executionProvider: this.options.executionProvider ?? 'cpu',
      onFallback: this.options.onNotice,
    });
  }

  /**
   * Finds the video by content in the catalog, or probes and registers it. Probing fails with a
   * `VideoError` before anything is written.
   */
  async registerVideo(path: string, name?: string): Promise<VideoHandle> {
    const file = resolve(path);
    if (!existsSync(file)) {
      throw new VideoError('VIDEO_NOT_FOUND', `video file not found: ${file}. Check the path, or list registered videos with 'sieve videos'.`, { path: file });
    }
    const hash = await hashFile(file);
    let row = await this.catalog.findVideoByHash(hash);
    let timestamps = row ? await this.catalog.videoTimestamps(row.id) : undefined;
    if (!row || !timestamps || row.path !== file || (name !== undefined && row.name !== name)) {
      const info = await probeVideo(file, this.options);
      row = await this.catalog.transaction(async () => {
        const registered = await this.catalog.registerVideo({
          path: file,
          contentHash: hash,
          sizeBytes: info.sizeBytes,
          fps: info.fps,
          frameCount: info.frameCount,
          width: info.width,
          height: info.height,
          duration: info.duration,
          codec: info.codec,
          variableFrameRate: info.variableFrameRate,
          ...(name !== undefined ? { name } : {}),
        });
        await this.catalog.putVideoTimestamps(registered.id, info.timestamps);
        return registered;
      });
      timestamps = info.timestamps;
    }
    return { row, name: name ?? row.name ?? defaultVideoName(file), timestamps };
  }

  scanContext(handle: VideoHandle, model: ModelRow, signal?: AbortSignal, onProgress?: (done: number, total: number) => void): ReferenceScanContext {
    return {
      catalog: this.catalog,
      videoId: handle.row.id,
      modelId: model.id,
      path: handle.row.path,
      width: handle.row.width,
      height: handle.row.height,
      timestamps: handle.timestamps,
      detector: () => this.referenceDetector(),
      ffmpeg: this.ffmpegOptions(),
      ...(handle.seekGap !== undefined ? { seekGap: handle.seekGap } : {}),
      ...(handle.outputCost ? { outputCost: handle.outputCost } : {}),
      ...(signal ? { signal } : {}),
      ...(onProgress ? { onProgress } : {}),
      ...(this.options.replayLabels ? { replay: this.replaySource(handle, model) } : {}),
    };
  }

  /** Labels of `options.replayLabels` for this video and reference model (see {@link EngineOptions.replayLabels}). */
  private replaySource(handle: VideoHandle, model: ModelRow): ReplaySource {
    const path = this.options.replayLabels!;
    const ids = (async () => {
      this.replayCatalog ??= Catalog.open(resolve(path));
      const catalog = await this.replayCatalog;
      const video = await catalog.findVideoByHash(handle.row.contentHash);
      const source = await catalog.findModel(model.name, model.sha256);
      if (!video || !source) throw new VideoError('REPLAY_LABELS_MISSING', `the replay catalog ${path} has no labels of ${handle.row.path} by ${model.name}; label the video fully there first (sieve label ${handle.row.path} --catalog ${path}).`, { path });
      return { catalog, videoId: video.id, modelId: source.id };
    })();
    return {
      read: async (frames) => {
        const { catalog, videoId, modelId } = await ids;
        const range = { start: frames[0]!, end: frames[frames.length - 1]! + 1 };
        const have = new Set(await catalog.labelledFrames(videoId, modelId, range));
        const absent = frames.find((f) => !have.has(f));
        if (absent !== undefined) throw new VideoError('REPLAY_LABELS_MISSING', `the replay catalog ${path} has no label for frame ${absent} of ${handle.row.path}; label every frame of the range there first.`, { path });
        const out = new Map<number, Detection[]>();
        for (const row of await catalog.readDetections(videoId, modelId, range)) {
          let list = out.get(row.frame);
          if (!list) out.set(row.frame, (list = []));
          list.push(row);
        }
        return out;
      },
    };
  }

  /** The ffmpeg binaries this engine was told to use (see {@link locateFfmpeg}). */
  ffmpegOptions(): { ffmpegPath?: string; ffprobePath?: string; onNotice?: (message: string) => void } {
    const { ffmpegPath, ffprobePath, onNotice } = this.options;
    return { ...(ffmpegPath ? { ffmpegPath } : {}), ...(ffprobePath ? { ffprobePath } : {}), ...(onNotice ? { onNotice } : {}) };
  }

  private async summarize(row: VideoRow): Promise<VideoSummary> {
    const model = await this.referenceModelRow().catch(() => undefined);
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
