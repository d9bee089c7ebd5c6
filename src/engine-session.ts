/**
 * What the query runners work with behind {@link Engine}: the reference model (resolved and
 * loaded once), video registration, and the context of a reference scan. Not public API.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { BindContext } from './binder/index.js';
import { resolve } from 'node:path';
import { VideoError } from './errors.js';
import type { EngineOptions, QueryOptions } from './engine.js';
import type { Detection } from './inference/detection.js';
import { resolveModel, type ResolvedModel } from './inference/model-store.js';
import { DEFAULT_REFERENCE_MODEL } from './inference/model-manifest.js';
import { ReferenceDetector } from './inference/reference-detector.js';
import type { ReferenceScanContext, ReplaySource } from './operators/reference-labels.js';
import { Catalog } from './storage/catalog.js';
import type { ModelRow, VideoRow } from './storage/catalog-rows.js';
import { detectorInputKey } from './optimizer/decode-cost.js';
import { machineKey } from './optimizer/machine.js';
import { hashFile } from './storage/hash-file.js';
import type { OutputCost } from './video/decoder.js';
import { probeVideo } from './video/probe.js';
import { defaultVideoName } from './video/video-name.js';

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

export class EngineSession {
  private model: ResolvedModel | undefined;
  private detector: Promise<ReferenceDetector> | undefined;
  /** The detector loaded to check an unverified model file (see `referenceModel`). */
  private checked: ReferenceDetector | undefined;
  private replayCatalog: Promise<Catalog> | undefined;

  constructor(
    readonly catalog: Catalog,
    readonly options: EngineOptions,
  ) {}

  /** Releases the detectors and the replay catalog (the engine closes its own catalog). */
  async dispose(): Promise<void> {
    const detector = this.detector;
    this.detector = undefined;
    if (detector) await (await detector.catch(() => undefined))?.dispose();
    await this.checked?.dispose();
    const replay = this.replayCatalog;
    this.replayCatalog = undefined;
    if (replay) await (await replay.catch(() => undefined))?.close();
  }

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

  /**
   * A detector of its own for a live watch (the caller disposes it): the network runs on a worker
   * thread so that the stream is read and the cascade decides while it computes, with one core
   * fewer than the machine has, left for them.
   */
  async liveDetector(): Promise<ReferenceDetector> {
    return this.loadDetector(await this.referenceModel(), { offThread: true, intraOpThreads: Math.max(1, availableParallelism() - 1) });
  }

  private loadDetector(m: ResolvedModel, extra: { offThread?: boolean; intraOpThreads?: number } = {}): Promise<ReferenceDetector> {
    return ReferenceDetector.load(m.path, {
      manifest: m.manifest,
      executionProvider: this.options.executionProvider ?? 'cpu',
      onFallback: this.options.onNotice,
      ...extra,
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
    let perFrame: Promise<number> | undefined;
    return {
      secondsPerFrame: () => (perFrame ??= ids.then(({ catalog }) => replayedCost(catalog, model, handle.row))),
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

  /** How the binder resolves a query's names: registered videos, the query's own bindings, and the model's labels. */
  async bindContext(options: QueryOptions, labels: readonly string[]): Promise<BindContext> {
    const names = new Map<string, string>();
    for (const v of await this.catalog.listVideos()) if (v.name) names.set(v.name, v.path);
    for (const [name, path] of Object.entries(options.videos ?? {})) names.set(name, resolve(path));
    return {
      resolveVideo: (ref) =>
        ref.kind === 'name'
          ? names.has(ref.name)
            ? { name: ref.name, path: names.get(ref.name)! }
            : undefined
          : { name: defaultVideoName(ref.path), path: resolve(ref.path) },
      videoNames: () => [...names.keys()],
      labels,
    };
  }

  /** The ffmpeg binaries this engine was told to use (see {@link locateFfmpeg}). */
  ffmpegOptions(): { ffmpegPath?: string; ffprobePath?: string; onNotice?: (message: string) => void } {
    const { ffmpegPath, ffprobePath, onNotice } = this.options;
    return { ...(ffmpegPath ? { ffmpegPath } : {}), ...(ffprobePath ? { ffprobePath } : {}), ...(onNotice ? { onNotice } : {}) };
  }

}

/**
 * The detector's seconds per frame (its decode at the detector's size included) as measured when
 * the replay catalog was labelled, on this machine if it was, else on the one it was labelled on;
 * 50 ms (the cost model's assumption) when it never recorded one.
 */
async function replayedCost(catalog: Catalog, model: ModelRow, video: VideoRow): Promise<number> {
  const pick = (rows: readonly { machine: string; secondsPerFrame: number }[]) => (rows.find((r) => r.machine === machineKey()) ?? rows[0])?.secondsPerFrame;
  const reference = pick((await catalog.listStageCosts({ stageKind: 'reference' })).filter((r) => r.key === model.sha256)) ?? 0.05;
  const decode = pick((await catalog.listStageCosts({ stageKind: 'decode' })).filter((r) => r.key === detectorInputKey(video.width, video.height))) ?? 0;
  return reference + decode;
}
