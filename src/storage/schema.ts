/**
 * The catalog's tables, as numbered migrations. `MIGRATIONS[v]` takes a catalog from schema
 * version `v` to `v + 1`; a fresh file starts at 0. Never edit a migration that has shipped: add
 * the next one and bump {@link SCHEMA_VERSION}.
 */

/** The schema version this build of Sieve reads and writes. */
export const SCHEMA_VERSION = 5;

export const MIGRATIONS: readonly (readonly string[])[] = [
  // 0 -> 1: the first schema.
  [
    `CREATE TABLE meta (
       key VARCHAR PRIMARY KEY,
       value VARCHAR NOT NULL
     )`,
    `CREATE SEQUENCE videos_id_seq START 1`,
    `CREATE TABLE videos (
       id INTEGER PRIMARY KEY DEFAULT nextval('videos_id_seq'),
       name VARCHAR UNIQUE,
       path VARCHAR NOT NULL,
       content_hash VARCHAR NOT NULL UNIQUE,
       size_bytes BIGINT NOT NULL,
       fps DOUBLE NOT NULL,
       frame_count INTEGER NOT NULL,
       width INTEGER NOT NULL,
       height INTEGER NOT NULL,
       duration DOUBLE NOT NULL,
       codec VARCHAR NOT NULL,
       variable_frame_rate BOOLEAN NOT NULL,
       added_at TIMESTAMP NOT NULL
     )`,
    `CREATE SEQUENCE models_id_seq START 1`,
    `CREATE TABLE models (
       id INTEGER PRIMARY KEY DEFAULT nextval('models_id_seq'),
       name VARCHAR NOT NULL,
       sha256 VARCHAR NOT NULL,
       family VARCHAR NOT NULL,
       input_width INTEGER NOT NULL,
       input_height INTEGER NOT NULL,
       labels JSON NOT NULL,
       registered_at TIMESTAMP NOT NULL,
       UNIQUE (name, sha256)
     )`,
    // Every decoded frame's container timestamp (float64 little-endian), so a registered video
    // never needs probing again and time ranges map to frames exactly.
    `CREATE TABLE video_timestamps (
       video_id INTEGER PRIMARY KEY,
       timestamps BLOB NOT NULL
     )`,
    // One row per frame the reference detector has looked at, also when it found nothing.
    `CREATE TABLE labelled_frames (
       video_id INTEGER NOT NULL,
       model_id INTEGER NOT NULL,
       frame INTEGER NOT NULL,
       timestamp DOUBLE NOT NULL,
       PRIMARY KEY (video_id, model_id, frame)
     )`,
    // No index: rows are only ever read by (video, model, frame range) scans, which zone maps
    // serve, and an index over millions of boxes would live in memory for nothing.
    `CREATE TABLE detections (
       video_id INTEGER NOT NULL,
       model_id INTEGER NOT NULL,
       frame INTEGER NOT NULL,
       ordinal INTEGER NOT NULL,
       timestamp DOUBLE NOT NULL,
       class_id INTEGER NOT NULL,
       score DOUBLE NOT NULL,
       xmin DOUBLE NOT NULL,
       ymin DOUBLE NOT NULL,
       xmax DOUBLE NOT NULL,
       ymax DOUBLE NOT NULL
     )`,
    `CREATE SEQUENCE query_runs_id_seq START 1`,
    `CREATE TABLE query_runs (
       id INTEGER PRIMARY KEY DEFAULT nextval('query_runs_id_seq'),
       started_at TIMESTAMP NOT NULL,
       finished_at TIMESTAMP NOT NULL,
       query VARCHAR NOT NULL,
       video_id INTEGER,
       model_id INTEGER,
       plan JSON,
       reference_calls BIGINT NOT NULL,
       frames_decoded BIGINT NOT NULL,
       seconds DOUBLE NOT NULL,
       result JSON,
       status VARCHAR NOT NULL CHECK (status IN ('ok', 'error')),
       error_code VARCHAR
     )`,
    `CREATE SEQUENCE specialized_models_id_seq START 1`,
    `CREATE TABLE specialized_models (
       id INTEGER PRIMARY KEY DEFAULT nextval('specialized_models_id_seq'),
       video_id INTEGER NOT NULL,
       reference_model_id INTEGER NOT NULL,
       predicate_key VARCHAR NOT NULL,
       kind VARCHAR NOT NULL,
       architecture JSON NOT NULL,
       onnx BLOB NOT NULL,
       manifest JSON NOT NULL,
       metrics JSON NOT NULL,
       created_at TIMESTAMP NOT NULL,
       UNIQUE (video_id, reference_model_id, predicate_key, kind)
     )`,
    `CREATE TABLE stage_costs (
       stage_kind VARCHAR NOT NULL,
       key VARCHAR NOT NULL,
       machine VARCHAR NOT NULL,
       seconds_per_frame DOUBLE NOT NULL,
       measured_at TIMESTAMP NOT NULL,
       PRIMARY KEY (stage_kind, key, machine)
     )`,
  ],
  // 1 -> 2: a reference model's labels depend on its pre-processing as well as its file. Models
  // are keyed by (name, sha256, preprocess); the rows of version 1 were labelled with ffmpeg's
  // bilinear scaler ('ffmpeg-bilinear'), so their labels are kept but no longer reused by a build
  // that pre-processes as the model's own project does ('cv2-inter-linear').
  [
    `CREATE TABLE models_v2 (
       id INTEGER PRIMARY KEY DEFAULT nextval('models_id_seq'),
       name VARCHAR NOT NULL,
       sha256 VARCHAR NOT NULL,
       preprocess VARCHAR NOT NULL,
       family VARCHAR NOT NULL,
       input_width INTEGER NOT NULL,
       input_height INTEGER NOT NULL,
       labels JSON NOT NULL,
       registered_at TIMESTAMP NOT NULL,
       UNIQUE (name, sha256, preprocess)
     )`,
    `INSERT INTO models_v2 SELECT id, name, sha256, 'ffmpeg-bilinear', family, input_width, input_height, labels, registered_at FROM models`,
    `DROP TABLE models`,
    `ALTER TABLE models_v2 RENAME TO models`,
  ],
  // 2 -> 3: the per-video index. One row per signal (a class's count proxy): the specialized
  // model that computes it, and its value on every frame of the video (float32 little-endian), so
  // any later query reads the signal instead of recomputing it.
  [
    `CREATE TABLE index_signals (
       video_id INTEGER NOT NULL,
       reference_model_id INTEGER NOT NULL,
       signal VARCHAR NOT NULL,
       class_id INTEGER NOT NULL,
       architecture JSON NOT NULL,
       onnx BLOB NOT NULL,
       frame_count INTEGER NOT NULL,
       frame_values BLOB NOT NULL,
       metrics JSON NOT NULL,
       created_at TIMESTAMP NOT NULL,
       PRIMARY KEY (video_id, reference_model_id, signal)
     )`,
  ],
  // 3 -> 4: provenance. The query run whose reference call wrote a label, trained a model or
  // built an index signal (NULL for rows written before version 4, or by `sieve label`), and what
  // each run reused from earlier runs. Run ids are reserved when a run starts, so the rows a run
  // writes name it even when the run itself is interrupted and never recorded.
  [
    `ALTER TABLE labelled_frames ADD COLUMN run_id INTEGER`,
    `ALTER TABLE specialized_models ADD COLUMN run_id INTEGER`,
    `ALTER TABLE index_signals ADD COLUMN run_id INTEGER`,
    `ALTER TABLE query_runs ADD COLUMN provenance JSON`,
  ],
  // 4 -> 5: live streams. A watch's labels (the reference's answer on thumbnails of the frames it
  // decided, in chunks as they come) and its certified model, per input URL, reference model and
  // predicate with its targets, so that a restarted watch resumes warm. A detected scene change
  // deletes both (they describe the old scene).
  [
    `CREATE TABLE stream_labels (
       stream VARCHAR NOT NULL,
       reference_model_id INTEGER NOT NULL,
       predicate_key VARCHAR NOT NULL,
       chunk INTEGER NOT NULL,
       thumb_size INTEGER NOT NULL,
       frames BLOB NOT NULL,
       labels BLOB NOT NULL,
       thumbs BLOB NOT NULL,
       created_at TIMESTAMP NOT NULL,
       PRIMARY KEY (stream, reference_model_id, predicate_key, chunk)
     )`,
    `CREATE TABLE stream_models (
       stream VARCHAR NOT NULL,
       reference_model_id INTEGER NOT NULL,
       predicate_key VARCHAR NOT NULL,
       onnx BLOB NOT NULL,
       state JSON NOT NULL,
       created_at TIMESTAMP NOT NULL,
       PRIMARY KEY (stream, reference_model_id, predicate_key)
     )`,
  ],
];
