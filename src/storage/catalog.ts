import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StorageError, VideoError } from '../errors.js';
import type {
  DetectionFilter,
  DetectionRow,
  FrameInterval,
  IndexSignalInfo,
  IndexSignalRow,
  LabelledFrame,
  ModelInfo,
  ModelRow,
  QueryRunInfo,
  QueryRunRow,
  QueryRunStatus,
  SpecializedModelInfo,
  SpecializedModelKey,
  SpecializedModelRow,
  SpecializedModelSummary,
  StageCostInfo,
  StageCostRow,
  VideoInfo,
  VideoRow,
} from './catalog-rows.js';
import { CURRENT_PREPROCESS } from './catalog-rows.js';
import type { StreamKey, StreamLabelChunk } from './catalog-rows.js';
import { DuckDBSession, IN_MEMORY, SqlParams, sqlValue, type SqlRow } from './duckdb-session.js';
import { hashFile } from './hash-file.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';

/** What {@link Catalog.writeLabels} stored. */
export interface WriteLabelsResult {
  readonly frames: number;
  readonly detections: number;
}

/**
 * Sieve's catalog and label store: one DuckDB file holding videos, reference models, the
 * reference detector's labels per (video, model, frame), specialized models, measured stage costs
 * and the history of query runs.
 *
 * Every method that writes several rows does so in one transaction, so a process killed at any
 * moment leaves the catalog as it was before or after that call, never half-way. Calls on one
 * catalog are serialised; group several into one atomic unit with {@link transaction}.
 *
 * @example
 * const catalog = await Catalog.open('.sieve/catalog.duckdb');
 * try {
 *   const video = await catalog.registerVideo({ path: 'traffic.mp4', name: 'traffic', ...probe });
 *   const model = await catalog.registerModel({ name: 'yolox-s', sha256, family: 'yolox', inputWidth: 640, inputHeight: 640, labels });
 *   const done = await catalog.labelledFrames(video.id, model.id); // skip these
 *   await catalog.writeLabels(video.id, model.id, [{ frame: 0, timestamp: 0, detections: [] }]);
 * } finally {
 *   await catalog.close();
 * }
 */
export class Catalog {
  /**
   * The run (a reserved query-run id) that the labels, models and index signals written now
   * belong to: set by {@link beginRun} for the length of one query, index build or labelling run.
   * An engine runs one at a time on a catalog, so one slot is enough.
   */
  private activeRun: number | null = null;

  private constructor(private readonly session: DuckDBSession) {}

  /**
   * Opens (creating it and its folder when missing) the catalog at `path`; `:memory:` gives a
   * throw-away in-memory catalog. Fails with a `StorageError`: `CATALOG_CORRUPT` (not a DuckDB
   * file), `CATALOG_LOCKED` (another process has it open), `CATALOG_UNWRITABLE`,
   * `CATALOG_NOT_SIEVE` (a DuckDB database that is not a Sieve catalog), `CATALOG_TOO_NEW`
   * (written by a newer Sieve) or `CATALOG_OPEN_FAILED`.
   */
  static async open(path: string): Promise<Catalog> {
    const session = await DuckDBSession.open(path);
    try {
      await migrate(session);
    } catch (error) {
      await session.close();
      throw error;
    }
    return new Catalog(session);
  }

  /** The absolute path of the database file, or `:memory:`. */
  get path(): string {
    return this.session.path;
  }

  get schemaVersion(): number {
    return SCHEMA_VERSION;
  }

  /**
   * Runs `fn` as one transaction: everything the catalog's methods write inside it is committed
   * together when `fn` resolves, and rolled back when it throws. Other callers wait meanwhile.
   *
   * @example
   * await catalog.transaction(async () => {
   *   const video = await catalog.registerVideo(info);
   *   await catalog.writeLabels(video.id, model.id, frames);
   * });
   */
  transaction<T>(fn: () => Promise<T>): Promise<T> {
    return this.session.transaction(fn);
  }

  /** Waits for running calls, then closes the file. Later calls fail with `CATALOG_CLOSED`. */
  close(): Promise<void> {
    return this.session.close();
  }

  // ---- videos ----------------------------------------------------------------------------------

  /**
   * Adds a video, or updates the one with the same content: a video is identified by the SHA-256
   * of its bytes, so registering the same file again (or a copy at a new path) returns the same
   * row with its path, probed facts and (when given) name updated. A name that belongs to a
   * different video fails with `VIDEO_NAME_TAKEN`.
   */
  async registerVideo(info: VideoInfo): Promise<VideoRow> {
    const path = resolve(info.path);
    if (info.name !== undefined) checkName(info.name);
    const contentHash = (info.contentHash ?? (await hashFile(path))).toLowerCase();
    const sizeBytes = info.sizeBytes ?? (await fileSize(path));
    return this.session.transaction(async () => {
      const existing = await this.findVideoByHash(contentHash);
      if (info.name !== undefined) {
        const owner = await this.findVideoByName(info.name);
        if (owner !== undefined && owner.contentHash !== contentHash) {
          throw new StorageError(
            'VIDEO_NAME_TAKEN',
            `the video name "${info.name}" already belongs to another video (id ${owner.id}, ${owner.path}); ` +
              `choose another name, or remove that video first`,
            { name: info.name, videoId: owner.id, path: owner.path },
          );
        }
      }
      const p = new SqlParams();
      let id: number;
      if (existing === undefined) {
        const rows = await this.session.all(
          `INSERT INTO videos (name, path, content_hash, size_bytes, fps, frame_count, width, height, duration, codec,
             variable_frame_rate, added_at)
           VALUES (${p.add(info.name ?? null)}, ${p.add(path)}, ${p.add(contentHash)}, ${p.add(sizeBytes)}, ${p.add(info.fps)},
             ${p.add(info.frameCount)}, ${p.add(info.width)}, ${p.add(info.height)}, ${p.add(info.duration)}, ${p.add(info.codec)},
             ${p.add(info.variableFrameRate)}, ${p.add(sqlValue.timestamp(new Date()))})
           RETURNING id`,
          p,
        );
        id = rows[0].id as number;
      } else {
        id = existing.id;
        await this.session.run(
          `UPDATE videos SET path = ${p.add(path)}, size_bytes = ${p.add(sizeBytes)}, fps = ${p.add(info.fps)},
             frame_count = ${p.add(info.frameCount)}, width = ${p.add(info.width)}, height = ${p.add(info.height)},
             duration = ${p.add(info.duration)}, codec = ${p.add(info.codec)}, variable_frame_rate = ${p.add(info.variableFrameRate)}
           WHERE id = ${p.add(id)}`,
          p,
        );
        if (info.name !== undefined && info.name !== existing.name) {
          await this.session.run(`UPDATE videos SET name = ? WHERE id = ?`, SqlParams.of(info.name, id));
        }
      }
      return (await this.findVideoById(id))!;
    });
  }

  findVideoById(id: number): Promise<VideoRow | undefined> {
    return this.oneVideo(`id = ?`, id);
  }

  findVideoByName(name: string): Promise<VideoRow | undefined> {
    return this.oneVideo(`name = ?`, name);
  }

  findVideoByHash(contentHash: string): Promise<VideoRow | undefined> {
    return this.oneVideo(`content_hash = ?`, contentHash.toLowerCase());
  }

  /** The video last registered at `path` (made absolute); older rows may share a path whose file has since changed. */
  findVideoByPath(path: string): Promise<VideoRow | undefined> {
    return this.oneVideo(`path = ?`, resolve(path));
  }

  async listVideos(): Promise<VideoRow[]> {
    return (await this.session.all(`SELECT * FROM videos ORDER BY id`)).map(toVideoRow);
  }

  /**
   * Removes a video (by name when given a string, by id when given a number) with its labels and
   * specialized models, in one transaction; query-run history is kept. Returns the removed row,
   * or `undefined` when there was no such video.
   */
  removeVideo(nameOrId: string | number): Promise<VideoRow | undefined> {
    return this.session.transaction(async () => {
      const video = typeof nameOrId === 'number' ? await this.findVideoById(nameOrId) : await this.findVideoByName(nameOrId);
      if (video === undefined) return undefined;
      for (const table of ['detections', 'labelled_frames', 'specialized_models', 'index_signals', 'video_timestamps'] as const) {
        await this.session.run(`DELETE FROM ${table} WHERE video_id = ?`, SqlParams.of(video.id));
      }
      await this.session.run(`DELETE FROM videos WHERE id = ?`, SqlParams.of(video.id));
      return video;
    });
  }

  /** Stores the container timestamp of every frame of a video (replacing earlier ones). */
  async putVideoTimestamps(videoId: number, timestamps: Float64Array): Promise<void> {
    const bytes = new Uint8Array(timestamps.buffer.slice(timestamps.byteOffset, timestamps.byteOffset + timestamps.byteLength));
    await this.session.transaction(async () => {
      await this.session.run(`DELETE FROM video_timestamps WHERE video_id = ?`, SqlParams.of(videoId));
      const p = new SqlParams();
      await this.session.run(`INSERT INTO video_timestamps VALUES (${p.add(videoId)}, ${p.add(sqlValue.blob(bytes))})`, p);
    });
  }

  /** The per-frame timestamps stored by {@link putVideoTimestamps}, or undefined. */
  async videoTimestamps(videoId: number): Promise<Float64Array | undefined> {
    const rows = await this.session.all(`SELECT timestamps FROM video_timestamps WHERE video_id = ?`, SqlParams.of(videoId));
    if (rows.length === 0) return undefined;
    const bytes = rows[0]!.timestamps as Uint8Array;
    return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  }

  private async oneVideo(where: string, value: string | number): Promise<VideoRow | undefined> {
    const rows = await this.session.all(`SELECT * FROM videos WHERE ${where} ORDER BY id DESC LIMIT 1`, SqlParams.of(value));
    return rows.length === 0 ? undefined : toVideoRow(rows[0]);
  }

  // ---- reference models ------------------------------------------------------------------------

  /**
   * Adds a reference model, or returns the one with the same name and SHA-256 (its family, input
   * size and labels updated to `info`).
   */
  registerModel(info: ModelInfo): Promise<ModelRow> {
    const sha256 = info.sha256.toLowerCase();
    const preprocess = info.preprocess ?? CURRENT_PREPROCESS;
    return this.session.transaction(async () => {
      const existing = await this.findModel(info.name, sha256, preprocess);
      const p = new SqlParams();
      if (existing === undefined) {
        await this.session.run(
          `INSERT INTO models (name, sha256, preprocess, family, input_width, input_height, labels, registered_at)
           VALUES (${p.add(info.name)}, ${p.add(sha256)}, ${p.add(preprocess)}, ${p.add(info.family)}, ${p.add(info.inputWidth)},
             ${p.add(info.inputHeight)}, ${p.add(JSON.stringify(info.labels))}, ${p.add(sqlValue.timestamp(new Date()))})`,
          p,
        );
      } else {
        await this.session.run(
          `UPDATE models SET family = ${p.add(info.family)}, input_width = ${p.add(info.inputWidth)},
             input_height = ${p.add(info.inputHeight)}, labels = ${p.add(JSON.stringify(info.labels))}
           WHERE id = ${p.add(existing.id)}`,
          p,
        );
      }
      return (await this.findModel(info.name, sha256, preprocess))!;
    });
  }

  /**
   * The model with this name, SHA-256 and pre-processing (default: the current one); without a
   * SHA-256, the one registered last under the name.
   */
  async findModel(name: string, sha256?: string, preprocess: string = CURRENT_PREPROCESS): Promise<ModelRow | undefined> {
    const rows =
      sha256 === undefined
        ? await this.session.all(`SELECT * FROM models WHERE name = ? ORDER BY id DESC LIMIT 1`, SqlParams.of(name))
        : await this.session.all(`SELECT * FROM models WHERE name = ? AND sha256 = ? AND preprocess = ?`, SqlParams.of(name, sha256.toLowerCase(), preprocess));
    return rows.length === 0 ? undefined : toModelRow(rows[0]);
  }

  async findModelById(id: number): Promise<ModelRow | undefined> {
    const rows = await this.session.all(`SELECT * FROM models WHERE id = ?`, SqlParams.of(id));
    return rows.length === 0 ? undefined : toModelRow(rows[0]);
  }

  async listModels(): Promise<ModelRow[]> {
    return (await this.session.all(`SELECT * FROM models ORDER BY id`)).map(toModelRow);
  }

  // ---- labels ----------------------------------------------------------------------------------

  /**
   * Stores what the reference detector found on a batch of frames, atomically: after a crash
   * either every frame of the batch is marked labelled with all its detections, or none is.
   * Frames already labelled are replaced, never duplicated. A frame with no detections is still
   * marked, so it is never sent to the detector again.
   */
  async writeLabels(videoId: number, modelId: number, frames: readonly LabelledFrame[]): Promise<WriteLabelsResult> {
    const frameNumbers = checkLabels(frames);
    const detectionCount = frames.reduce((n, f) => n + f.detections.length, 0);
    if (frames.length === 0) return { frames: 0, detections: 0 };
    let min = frameNumbers[0];
    let max = frameNumbers[0];
    for (const f of frameNumbers) {
      if (f < min) min = f;
      if (f > max) max = f;
    }
    return this.session.transaction(async () => {
      await this.requireVideoAndModel(videoId, modelId);
      const [list, listType] = sqlValue.integerList(frameNumbers);
      for (const table of ['detections', 'labelled_frames'] as const) {
        const p = new SqlParams();
        await this.session.run(
          `DELETE FROM ${table} WHERE video_id = ${p.add(videoId)} AND model_id = ${p.add(modelId)}
             AND frame BETWEEN ${p.add(min)} AND ${p.add(max)} AND frame IN (SELECT unnest(${p.add(list, listType)}))`,
          p,
        );
      }
      await this.session.append('labelled_frames', (a) => {
        for (const f of frames) {
          a.appendInteger(videoId);
          a.appendInteger(modelId);
          a.appendInteger(f.frame);
          a.appendDouble(f.timestamp);
          if (this.activeRun === null) a.appendNull();
          else a.appendInteger(this.activeRun);
          a.endRow();
        }
      });
      if (detectionCount > 0) {
        await this.session.append('detections', (a) => {
          for (const f of frames) {
            f.detections.forEach((d, ordinal) => {
              a.appendInteger(videoId);
              a.appendInteger(modelId);
              a.appendInteger(f.frame);
              a.appendInteger(ordinal);
              a.appendDouble(f.timestamp);
              a.appendInteger(d.classId);
              a.appendDouble(d.score);
              a.appendDouble(d.xmin);
              a.appendDouble(d.ymin);
              a.appendDouble(d.xmax);
              a.appendDouble(d.ymax);
              a.endRow();
            });
          }
        });
      }
      return { frames: frames.length, detections: detectionCount };
    });
  }

  /** The frames of `[start, end)` the reference detector has already labelled, ascending. */
  async labelledFrames(videoId: number, modelId: number, interval?: FrameInterval): Promise<Int32Array> {
    const p = SqlParams.of(videoId, modelId);
    const [frames] = await this.session.columns(
      `SELECT frame FROM labelled_frames WHERE video_id = ? AND model_id = ?${frameBounds(p, interval)} ORDER BY frame`,
      p,
    );
    return Int32Array.from(frames as number[]);
  }

  /** How many frames of `[start, end)` are labelled. */
  async countLabelled(videoId: number, modelId: number, interval?: FrameInterval): Promise<number> {
    const p = SqlParams.of(videoId, modelId);
    const [count] = await this.session.column(
      `SELECT count(*) FROM labelled_frames WHERE video_id = ? AND model_id = ?${frameBounds(p, interval)}`,
      p,
    );
    return Number(count);
  }

  /** Stored detections, sorted by frame and then in the order the detector returned them. */
  async readDetections(videoId: number, modelId: number, filter: DetectionFilter = {}): Promise<DetectionRow[]> {
    if (filter.classIds !== undefined && filter.classIds.length === 0) return [];
    const p = SqlParams.of(videoId, modelId);
    let where = `video_id = ? AND model_id = ?${frameBounds(p, filter)}`;
    if (filter.classIds !== undefined) {
      const [list, listType] = sqlValue.integerList(filter.classIds);
      where += ` AND list_contains(${p.add(list, listType)}, class_id)`;
    }
    if (filter.minScore !== undefined) where += ` AND score >= ${p.add(filter.minScore)}`;
    const [frame, timestamp, classId, score, xmin, ymin, xmax, ymax] = (await this.session.columns(
      `SELECT frame, timestamp, class_id, score, xmin, ymin, xmax, ymax FROM detections WHERE ${where} ORDER BY frame, ordinal`,
      p,
    )) as number[][];
    const rows: DetectionRow[] = new Array(frame.length);
    for (let i = 0; i < frame.length; i++) {
      rows[i] = {
        frame: frame[i],
        timestamp: timestamp[i],
        classId: classId[i],
        score: score[i],
        xmin: xmin[i],
        ymin: ymin[i],
        xmax: xmax[i],
        ymax: ymax[i],
      };
    }
    return rows;
  }

  private async requireVideoAndModel(videoId: number, modelId: number): Promise<void> {
    if ((await this.findVideoById(videoId)) === undefined) {
      throw new StorageError('VIDEO_NOT_FOUND', `no video with id ${videoId} in the catalog "${this.path}"; register it first`, { videoId });
    }
    if ((await this.findModelById(modelId)) === undefined) {
      throw new StorageError('MODEL_NOT_FOUND', `no model with id ${modelId} in the catalog "${this.path}"; register it first`, { modelId });
    }
  }

  // ---- query runs ------------------------------------------------------------------------------

  /**
   * Reserves the next query-run id and tags everything written until {@link endRun} with it
   * (labels, specialized models, index signals). The run is recorded with that id by
   * {@link recordQueryRun}; an interrupted run leaves its rows tagged with an id no run has.
   */
  async beginRun(): Promise<number> {
    if (this.activeRun !== null) throw new Error(`internal: run ${this.activeRun} is still active on this catalog`);
    const rows = await this.session.all(`SELECT nextval('query_runs_id_seq') AS id`);
    this.activeRun = Number(rows[0]!.id);
    return this.activeRun;
  }

  /** Ends the active run's tagging (whether it was recorded or not). */
  endRun(): void {
    this.activeRun = null;
  }

  async recordQueryRun(info: QueryRunInfo): Promise<QueryRunRow> {
    const p = new SqlParams();
    const rows = await this.session.all(
      `INSERT INTO query_runs (id, started_at, finished_at, query, video_id, model_id, plan, reference_calls, frames_decoded,
         seconds, result, status, error_code, provenance)
       VALUES (COALESCE(${p.add(info.id ?? this.activeRun ?? null)}, nextval('query_runs_id_seq')), ${p.add(sqlValue.timestamp(info.startedAt))}, ${p.add(sqlValue.timestamp(info.finishedAt))}, ${p.add(info.query)},
         ${p.add(info.videoId ?? null)}, ${p.add(info.modelId ?? null)}, ${p.add(toJson(info.plan))}, ${p.add(info.referenceCalls)},
         ${p.add(info.framesDecoded)}, ${p.add(info.seconds)}, ${p.add(toJson(info.result))}, ${p.add(info.status)},
         ${p.add(info.errorCode ?? null)}, ${p.add(toJson(info.provenance ?? null))})
       RETURNING *`,
      p,
    );
    return toQueryRunRow(rows[0]);
  }

  /** The latest `limit` query runs, newest first. */
  async listQueryRuns(limit = 20): Promise<QueryRunRow[]> {
    const rows = await this.session.all(`SELECT * FROM query_runs ORDER BY started_at DESC, id DESC LIMIT ?`, SqlParams.of(limit));
    return rows.map(toQueryRunRow);
  }

  async findQueryRun(id: number): Promise<QueryRunRow | undefined> {
    const rows = await this.session.all(`SELECT * FROM query_runs WHERE id = ?`, SqlParams.of(id));
    return rows.length === 0 ? undefined : toQueryRunRow(rows[0]);
  }

  /**
   * Of `frames` (labelled frames of one video and model), how many each run wrote: the runs whose
   * labels a query read back from the store. `run: null` is labels written outside any run
   * (`sieve label`, or before schema version 4).
   */
  async labelSources(videoId: number, modelId: number, frames: readonly number[]): Promise<{ run: number | null; frames: number }[]> {
    if (frames.length === 0) return [];
    const [list, listType] = sqlValue.integerList(Int32Array.from(frames));
    const p = new SqlParams();
    const rows = await this.session.all(
      `SELECT run_id, count(*) AS n FROM labelled_frames WHERE video_id = ${p.add(videoId)} AND model_id = ${p.add(modelId)}
         AND frame IN (SELECT unnest(${p.add(list, listType)})) GROUP BY run_id ORDER BY run_id NULLS FIRST`,
      p,
    );
    return rows.map((r) => ({ run: r.run_id === null ? null : Number(r.run_id), frames: Number(r.n) }));
  }

  /** The frames of one video a run's reference calls labelled (its verified frames), ascending. */
  async framesLabelledBy(runId: number, videoId: number, modelId: number): Promise<Int32Array> {
    const [frames] = await this.session.columns(
      `SELECT frame FROM labelled_frames WHERE run_id = ? AND video_id = ? AND model_id = ? ORDER BY frame`,
      SqlParams.of(runId, videoId, modelId),
    );
    return Int32Array.from(frames as Iterable<number>, Number);
  }

  // ---- specialized models ----------------------------------------------------------------------

  /**
   * Stores a specialized model, replacing the one with the same key (its id is kept; so is the run
   * that trained it when only its statistics change, as a warm run's certification updates them).
   */
  putSpecializedModel(info: SpecializedModelInfo): Promise<SpecializedModelRow> {
    return this.session.transaction(async () => {
      const p = new SqlParams();
      await this.session.run(
        `INSERT INTO specialized_models (video_id, reference_model_id, predicate_key, kind, architecture, onnx, manifest, metrics, created_at, run_id)
         VALUES (${p.add(info.videoId)}, ${p.add(info.referenceModelId)}, ${p.add(info.predicateKey)}, ${p.add(info.kind)},
           ${p.add(toJson(info.architecture))}, ${p.add(sqlValue.blob(info.onnx))}, ${p.add(toJson(info.manifest))},
           ${p.add(toJson(info.metrics))}, ${p.add(sqlValue.timestamp(new Date()))}, ${p.add(this.activeRun)})
         ON CONFLICT (video_id, reference_model_id, predicate_key, kind) DO UPDATE SET
           architecture = excluded.architecture, onnx = excluded.onnx, manifest = excluded.manifest,
           metrics = excluded.metrics, created_at = excluded.created_at,
           run_id = CASE WHEN specialized_models.onnx = excluded.onnx THEN specialized_models.run_id ELSE excluded.run_id END`,
        p,
      );
      return (await this.findSpecializedModel(info))!;
    });
  }

  async findSpecializedModel(key: SpecializedModelKey): Promise<SpecializedModelRow | undefined> {
    const rows = await this.session.all(
      `SELECT * FROM specialized_models WHERE video_id = ? AND reference_model_id = ? AND predicate_key = ? AND kind = ?`,
      SqlParams.of(key.videoId, key.referenceModelId, key.predicateKey, key.kind),
    );
    if (rows.length === 0) return undefined;
    const { onnxBytes: _, ...summary } = toSpecializedSummary(rows[0]);
    return { ...summary, onnx: rows[0].onnx as Uint8Array };
  }

  /** Specialized models without their ONNX bytes, optionally only those of one video or reference model. */
  async listSpecializedModels(filter: { videoId?: number; referenceModelId?: number } = {}): Promise<SpecializedModelSummary[]> {
    const p = new SqlParams();
    let where = 'TRUE';
    if (filter.videoId !== undefined) where += ` AND video_id = ${p.add(filter.videoId)}`;
    if (filter.referenceModelId !== undefined) where += ` AND reference_model_id = ${p.add(filter.referenceModelId)}`;
    const rows = await this.session.all(
      `SELECT * EXCLUDE (onnx), octet_length(onnx) AS onnx_bytes FROM specialized_models WHERE ${where} ORDER BY id`,
      p,
    );
    return rows.map(toSpecializedSummary);
  }

  // ---- live streams --------------------------------------------------------------------------------

  /**
   * Appends one chunk of a watch's labels (thumbnails of `thumbSize` squared RGB, one label each)
   * and drops all but the newest `keepChunks`, in one transaction.
   */
  async putStreamLabels(key: StreamKey, chunk: StreamLabelChunk, keepChunks: number): Promise<void> {
    await this.session.transaction(async () => {
      await this.appendStreamLabels(key, chunk);
      await this.session.run(
        `DELETE FROM stream_labels WHERE stream = ? AND reference_model_id = ? AND predicate_key = ?
           AND chunk <= (SELECT max(chunk) FROM stream_labels WHERE stream = ? AND reference_model_id = ? AND predicate_key = ?) - ?`,
        SqlParams.of(key.stream, key.referenceModelId, key.predicateKey, key.stream, key.referenceModelId, key.predicateKey, keepChunks),
      );
    });
  }

  private async appendStreamLabels(key: StreamKey, chunk: StreamLabelChunk): Promise<void> {
    const p = new SqlParams();
    const bytes = (a: Int32Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    await this.session.run(
      `INSERT INTO stream_labels VALUES (${p.add(key.stream)}, ${p.add(key.referenceModelId)}, ${p.add(key.predicateKey)},
         (SELECT coalesce(max(chunk) + 1, 0) FROM stream_labels WHERE stream = ${p.add(key.stream)} AND reference_model_id = ${p.add(key.referenceModelId)} AND predicate_key = ${p.add(key.predicateKey)}),
         ${p.add(chunk.thumbSize)}, ${p.add(sqlValue.blob(bytes(chunk.frames)))}, ${p.add(sqlValue.blob(chunk.labels))}, ${p.add(sqlValue.blob(chunk.thumbs))}, ${p.add(sqlValue.timestamp(new Date()))})`,
      p,
    );
  }

  /** A watch's stored labels, oldest chunk first. */
  async streamLabels(key: StreamKey): Promise<StreamLabelChunk[]> {
    const rows = await this.session.all(
      `SELECT thumb_size, frames, labels, thumbs FROM stream_labels WHERE stream = ? AND reference_model_id = ? AND predicate_key = ? ORDER BY chunk`,
      SqlParams.of(key.stream, key.referenceModelId, key.predicateKey),
    );
    return rows.map((r) => {
      const frames = r.frames as Uint8Array;
      return { thumbSize: r.thumb_size as number, frames: new Int32Array(frames.buffer.slice(frames.byteOffset, frames.byteOffset + frames.byteLength)), labels: r.labels as Uint8Array, thumbs: r.thumbs as Uint8Array };
    });
  }

  /** Stores a watch's certified model (replacing the one it had). */
  async putStreamModel(key: StreamKey, onnx: Uint8Array, state: unknown): Promise<void> {
    const p = new SqlParams();
    await this.session.run(
      `INSERT INTO stream_models VALUES (${p.add(key.stream)}, ${p.add(key.referenceModelId)}, ${p.add(key.predicateKey)}, ${p.add(sqlValue.blob(onnx))}, ${p.add(toJson(state))}, ${p.add(sqlValue.timestamp(new Date()))})
       ON CONFLICT (stream, reference_model_id, predicate_key) DO UPDATE SET onnx = excluded.onnx, state = excluded.state, created_at = excluded.created_at`,
      p,
    );
  }

  async streamModel(key: StreamKey): Promise<{ onnx: Uint8Array; state: unknown; createdAt: Date } | undefined> {
    const rows = await this.session.all(
      `SELECT onnx, state, created_at FROM stream_models WHERE stream = ? AND reference_model_id = ? AND predicate_key = ?`,
      SqlParams.of(key.stream, key.referenceModelId, key.predicateKey),
    );
    return rows[0] ? { onnx: rows[0].onnx as Uint8Array, state: fromJson(rows[0].state), createdAt: new Date(String(rows[0].created_at)) } : undefined;
  }

  /** Forgets a watch's labels and model (its scene changed), in one transaction. */
  clearStream(key: StreamKey): Promise<void> {
    return this.session.transaction(async () => {
      for (const table of ['stream_labels', 'stream_models']) {
        await this.session.run(`DELETE FROM ${table} WHERE stream = ? AND reference_model_id = ? AND predicate_key = ?`, SqlParams.of(key.stream, key.referenceModelId, key.predicateKey));
      }
    });
  }

  // ---- the per-video index ----------------------------------------------------------------------

  /** Stores an index signal, replacing the one of the same name (one transaction: all or nothing). */
  async putIndexSignal(info: IndexSignalInfo): Promise<void> {
    const v = info.values;
    const bytes = new Uint8Array(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
    await this.session.transaction(async () => {
      await this.session.run(`DELETE FROM index_signals WHERE video_id = ? AND reference_model_id = ? AND signal = ?`, SqlParams.of(info.videoId, info.referenceModelId, info.signal));
      const p = new SqlParams();
      await this.session.run(
        `INSERT INTO index_signals VALUES (${p.add(info.videoId)}, ${p.add(info.referenceModelId)}, ${p.add(info.signal)}, ${p.add(info.classId)},
           ${p.add(toJson(info.architecture))}, ${p.add(sqlValue.blob(info.onnx))}, ${p.add(v.length)}, ${p.add(sqlValue.blob(bytes))},
           ${p.add(toJson(info.metrics))}, ${p.add(sqlValue.timestamp(new Date()))}, ${p.add(this.activeRun)})`,
        p,
      );
    });
  }

  /** The index signals of a video for one reference model, by name. */
  async indexSignals(videoId: number, referenceModelId: number): Promise<IndexSignalRow[]> {
    const rows = await this.session.all(`SELECT * FROM index_signals WHERE video_id = ? AND reference_model_id = ? ORDER BY signal`, SqlParams.of(videoId, referenceModelId));
    return rows.map((r) => {
      const bytes = r.frame_values as Uint8Array;
      return {
        videoId: Number(r.video_id),
        referenceModelId: Number(r.reference_model_id),
        signal: String(r.signal),
        classId: Number(r.class_id),
        architecture: fromJson(r.architecture),
        onnx: r.onnx as Uint8Array,
        values: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)),
        metrics: fromJson(r.metrics),
        createdAt: r.created_at as Date,
        runId: r.run_id === null ? null : Number(r.run_id),
      };
    });
  }

  /** Which run built each index signal of a video (no model or per-frame values read). */
  async indexSignalRuns(videoId: number, referenceModelId: number): Promise<{ signal: string; runId: number | null }[]> {
    const rows = await this.session.all(`SELECT signal, run_id FROM index_signals WHERE video_id = ? AND reference_model_id = ? ORDER BY signal`, SqlParams.of(videoId, referenceModelId));
    return rows.map((r) => ({ signal: String(r.signal), runId: r.run_id === null ? null : Number(r.run_id) }));
  }

  // ---- stage costs -----------------------------------------------------------------------------

  /** Stores a measured per-frame cost, replacing the earlier measurement for the same stage, key and machine. */
  async putStageCost(info: StageCostInfo): Promise<StageCostRow> {
    const p = new SqlParams();
    const rows = await this.session.all(
      `INSERT INTO stage_costs (stage_kind, key, machine, seconds_per_frame, measured_at)
       VALUES (${p.add(info.stageKind)}, ${p.add(info.key)}, ${p.add(info.machine)}, ${p.add(info.secondsPerFrame)},
         ${p.add(sqlValue.timestamp(info.measuredAt ?? new Date()))})
       ON CONFLICT (stage_kind, key, machine) DO UPDATE SET
         seconds_per_frame = excluded.seconds_per_frame, measured_at = excluded.measured_at
       RETURNING *`,
      p,
    );
    return toStageCostRow(rows[0]);
  }

  async findStageCost(stageKind: string, key: string, machine: string): Promise<StageCostRow | undefined> {
    const rows = await this.session.all(
      `SELECT * FROM stage_costs WHERE stage_kind = ? AND key = ? AND machine = ?`,
      SqlParams.of(stageKind, key, machine),
    );
    return rows.length === 0 ? undefined : toStageCostRow(rows[0]);
  }

  async listStageCosts(filter: { stageKind?: string; machine?: string } = {}): Promise<StageCostRow[]> {
    const p = new SqlParams();
    let where = 'TRUE';
    if (filter.stageKind !== undefined) where += ` AND stage_kind = ${p.add(filter.stageKind)}`;
    if (filter.machine !== undefined) where += ` AND machine = ${p.add(filter.machine)}`;
    const rows = await this.session.all(`SELECT * FROM stage_costs WHERE ${where} ORDER BY stage_kind, key, machine`, p);
    return rows.map(toStageCostRow);
  }
}

async function migrate(session: DuckDBSession): Promise<void> {
  const migrated = await session.transaction(async () => {
    const tables = (await session.column(
      `SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'`,
    )) as string[];
    let version = 0;
    if (tables.includes('meta')) {
      const [value] = await session.column(`SELECT value FROM meta WHERE key = 'schema_version'`);
      version = Number(value);
      if (!Number.isInteger(version) || version < 1) throw notSieve(session.path);
    } else if (tables.length > 0) {
      throw notSieve(session.path);
    }
    if (version > SCHEMA_VERSION) {
      throw new StorageError(
        'CATALOG_TOO_NEW',
        `the catalog "${session.path}" has schema version ${version}, newer than this Sieve's ${SCHEMA_VERSION}; upgrade Sieve, or pass another catalog path`,
        { path: session.path, schemaVersion: version, supported: SCHEMA_VERSION },
      );
    }
    if (version === SCHEMA_VERSION) return false;
    for (let v = version; v < SCHEMA_VERSION; v++) {
      for (const statement of MIGRATIONS[v]) await session.run(statement);
    }
    await session.run(
      `INSERT INTO meta (key, value) VALUES ('schema_version', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      SqlParams.of(String(SCHEMA_VERSION)),
    );
    return true;
  });
  // Write the new schema into the database file at once: DuckDB 1.5 cannot replay an
  // `ALTER TABLE ... ADD COLUMN` on a table with a `nextval` default from its WAL ("no default
  // database set"), so a process killed before its first checkpoint left a catalog no one could open.
  if (migrated) await session.run('CHECKPOINT');
}

function notSieve(path: string): StorageError {
  const where = path === IN_MEMORY ? 'the in-memory database' : `"${path}"`;
  return new StorageError(
    'CATALOG_NOT_SIEVE',
    `${where} is a DuckDB database but not a Sieve catalog; pass another catalog path (Sieve will not write into other databases)`,
    { path },
  );
}

function checkName(name: string): void {
  if (name.trim() === '' || name !== name.trim()) {
    throw new StorageError('VIDEO_NAME_INVALID', `a video name must be non-empty and have no leading or trailing spaces (got ${JSON.stringify(name)})`, {
      name,
    });
  }
}

async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    throw new VideoError('VIDEO_NOT_FOUND', `no file at "${path}"; check the path`, { path }, { cause: error });
  }
}

/** Checks a labels batch and returns its frame numbers. */
function checkLabels(frames: readonly LabelledFrame[]): number[] {
  const seen = new Set<number>();
  const invalid = (message: string, frame: number): StorageError =>
    new StorageError('LABELS_INVALID', `cannot store labels: ${message}`, { frame });
  for (const f of frames) {
    if (!Number.isInteger(f.frame) || f.frame < 0 || f.frame > 0x7fffffff) throw invalid(`frame ${f.frame} is not a frame index`, f.frame);
    if (seen.has(f.frame)) throw invalid(`frame ${f.frame} appears twice in one batch`, f.frame);
    seen.add(f.frame);
    if (!Number.isFinite(f.timestamp)) throw invalid(`frame ${f.frame} has timestamp ${f.timestamp}`, f.frame);
    for (const d of f.detections) {
      if (!Number.isInteger(d.classId)) throw invalid(`frame ${f.frame} has a detection with class id ${d.classId}`, f.frame);
      if (![d.score, d.xmin, d.ymin, d.xmax, d.ymax].every(Number.isFinite)) {
        throw invalid(`frame ${f.frame} has a detection with a non-finite score or box`, f.frame);
      }
    }
  }
  return [...seen];
}

function frameBounds(p: SqlParams, interval: FrameInterval | undefined): string {
  let sql = '';
  if (interval?.start !== undefined) sql += ` AND frame >= ${p.add(interval.start)}`;
  if (interval?.end !== undefined) sql += ` AND frame < ${p.add(interval.end)}`;
  return sql;
}

function toJson(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

function fromJson(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : null;
}

function toVideoRow(r: SqlRow): VideoRow {
  return {
    id: r.id as number,
    name: r.name as string | null,
    path: r.path as string,
    contentHash: r.content_hash as string,
    sizeBytes: Number(r.size_bytes),
    fps: r.fps as number,
    frameCount: r.frame_count as number,
    width: r.width as number,
    height: r.height as number,
    duration: r.duration as number,
    codec: r.codec as string,
    variableFrameRate: r.variable_frame_rate as boolean,
    addedAt: r.added_at as Date,
  };
}

function toModelRow(r: SqlRow): ModelRow {
  return {
    id: r.id as number,
    name: r.name as string,
    sha256: r.sha256 as string,
    preprocess: r.preprocess as string,
    family: r.family as string,
    inputWidth: r.input_width as number,
    inputHeight: r.input_height as number,
    labels: fromJson(r.labels) as string[],
    registeredAt: r.registered_at as Date,
  };
}

function toQueryRunRow(r: SqlRow): QueryRunRow {
  return {
    id: r.id as number,
    query: r.query as string,
    startedAt: r.started_at as Date,
    finishedAt: r.finished_at as Date,
    videoId: r.video_id as number | null,
    modelId: r.model_id as number | null,
    plan: fromJson(r.plan),
    referenceCalls: Number(r.reference_calls),
    framesDecoded: Number(r.frames_decoded),
    seconds: r.seconds as number,
    result: fromJson(r.result),
    status: r.status as QueryRunStatus,
    errorCode: r.error_code as string | null,
    provenance: r.provenance === undefined ? null : fromJson(r.provenance),
  };
}

function toSpecializedSummary(r: SqlRow): SpecializedModelSummary {
  return {
    id: r.id as number,
    videoId: r.video_id as number,
    referenceModelId: r.reference_model_id as number,
    predicateKey: r.predicate_key as string,
    kind: r.kind as string,
    architecture: fromJson(r.architecture),
    manifest: fromJson(r.manifest),
    metrics: fromJson(r.metrics),
    onnxBytes: r.onnx_bytes === undefined ? (r.onnx as Uint8Array).byteLength : Number(r.onnx_bytes),
    createdAt: r.created_at as Date,
    runId: r.run_id === null || r.run_id === undefined ? null : Number(r.run_id),
  };
}

function toStageCostRow(r: SqlRow): StageCostRow {
  return {
    stageKind: r.stage_kind as string,
    key: r.key as string,
    machine: r.machine as string,
    secondsPerFrame: r.seconds_per_frame as number,
    measuredAt: r.measured_at as Date,
  };
}
