import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { MIGRATIONS } from '../../src/storage/schema.js';
import { Catalog, CURRENT_PREPROCESS, SCHEMA_VERSION, hashFile, type LabelledFrame, type ModelInfo, type VideoInfo } from '../../src/storage/index.js';

let dir: string;
const open: Catalog[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sieve-catalog-'));
});

afterEach(async () => {
  for (const catalog of open.splice(0)) await catalog.close();
  await rm(dir, { recursive: true, force: true });
});

async function openCatalog(name = 'catalog.duckdb'): Promise<Catalog> {
  const catalog = await Catalog.open(join(dir, name));
  open.push(catalog);
  return catalog;
}

function videoInfo(overrides: Partial<VideoInfo> = {}): VideoInfo {
  return {
    path: '/videos/traffic.mp4',
    name: 'traffic',
    contentHash: 'a'.repeat(64),
    sizeBytes: 1_000_000,
    fps: 30,
    frameCount: 9000,
    width: 768,
    height: 432,
    duration: 300,
    codec: 'h264',
    variableFrameRate: false,
    ...overrides,
  };
}

const yolox: ModelInfo = {
  name: 'yolox-s',
  sha256: 'b'.repeat(64),
  family: 'yolox',
  inputWidth: 640,
  inputHeight: 640,
  labels: ['person', 'bicycle', 'car'],
};

/** Frame f gets f % 3 detections derived from f. */
function labelsFor(frame: number, perFrame = frame % 3): LabelledFrame {
  return {
    frame,
    timestamp: frame / 30,
    detections: Array.from({ length: perFrame }, (_, k) => ({
      classId: (frame + k) % 3,
      score: 0.5 + ((frame + k) % 50) / 100,
      xmin: frame + k,
      ymin: 2 * k,
      xmax: frame + k + 10.25,
      ymax: 2 * k + 5.5,
    })),
  };
}

async function expectStorageError(promise: Promise<unknown>, code: string): Promise<StorageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StorageError);
  expect((error as StorageError).code).toBe(code);
  return error as StorageError;
}

describe('opening', () => {
  it('creates the schema in a new file and keeps data across reopening', async () => {
    const path = join(dir, 'nested', 'folder', 'catalog.duckdb');
    const first = await Catalog.open(path);
    expect(first.path).toBe(path);
    expect(first.schemaVersion).toBe(SCHEMA_VERSION);
    const video = await first.registerVideo(videoInfo());
    await first.close();

    const second = await Catalog.open(path);
    open.push(second);
    expect(await second.findVideoByName('traffic')).toEqual(video);
  });

  it('opens an in-memory catalog', async () => {
    const catalog = await Catalog.open(':memory:');
    open.push(catalog);
    expect(catalog.path).toBe(':memory:');
    expect(await catalog.listVideos()).toEqual([]);
  });

  it('rejects a file that is not a DuckDB database', async () => {
    const path = join(dir, 'x.duckdb');
    await writeFile(path, Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 7919) % 256)));
    const error = await expectStorageError(Catalog.open(path), 'CATALOG_CORRUPT');
    expect(error.message).toContain(path);
    expect(error.message).toMatch(/move it aside|another catalog path/);
    expect(error.category).toBe('storage');
  });

  it('rejects a DuckDB database that is not a Sieve catalog, without writing into it', async () => {
    const path = join(dir, 'other.duckdb');
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    await connection.run('CREATE TABLE orders (id INTEGER)');
    connection.closeSync();
    instance.closeSync();
    const error = await expectStorageError(Catalog.open(path), 'CATALOG_NOT_SIEVE');
    expect(error.message).toContain(path);
  });

  it('rejects a catalog written by a newer schema version', async () => {
    const path = join(dir, 'catalog.duckdb');
    await (await Catalog.open(path)).close();
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    await connection.run(`UPDATE meta SET value = ? WHERE key = 'schema_version'`, [String(SCHEMA_VERSION + 1)]);
    connection.closeSync();
    instance.closeSync();
    const error = await expectStorageError(Catalog.open(path), 'CATALOG_TOO_NEW');
    expect(error.message).toMatch(/upgrade Sieve/);
  });

  it('says so when the catalog folder cannot be created', async () => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const error = await expectStorageError(Catalog.open(join(file, 'catalog.duckdb')), 'CATALOG_UNWRITABLE');
    expect(error.message).toContain(file);
  });

  it('fails calls after close with CATALOG_CLOSED', async () => {
    const catalog = await Catalog.open(join(dir, 'catalog.duckdb'));
    await catalog.close();
    await catalog.close();
    await expectStorageError(catalog.listVideos(), 'CATALOG_CLOSED');
  });
});

describe('videos', () => {
  it('round-trips a video and finds it by name, hash, path and id', async () => {
    const catalog = await openCatalog();
    const before = Date.now();
    const video = await catalog.registerVideo(videoInfo());
    expect(video).toMatchObject({ ...videoInfo(), id: expect.any(Number) });
    expect(video.addedAt.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(await catalog.findVideoByName('traffic')).toEqual(video);
    expect(await catalog.findVideoByHash('A'.repeat(64))).toEqual(video);
    expect(await catalog.findVideoByPath('/videos/traffic.mp4')).toEqual(video);
    expect(await catalog.findVideoById(video.id)).toEqual(video);
    expect(await catalog.findVideoByName('nope')).toBeUndefined();
    expect(await catalog.listVideos()).toEqual([video]);
  });

  it('is idempotent by content: the same content at a new path updates the path', async () => {
    const catalog = await openCatalog();
    const first = await catalog.registerVideo(videoInfo());
    const again = await catalog.registerVideo(videoInfo());
    expect(again).toEqual(first);
    const moved = await catalog.registerVideo(videoInfo({ path: '/elsewhere/copy.mp4', name: undefined }));
    expect(moved.id).toBe(first.id);
    expect(moved.path).toBe('/elsewhere/copy.mp4');
    expect(moved.name).toBe('traffic');
    expect(await catalog.findVideoByPath('/videos/traffic.mp4')).toBeUndefined();
    const renamed = await catalog.registerVideo(videoInfo({ name: 'crossing' }));
    expect(renamed.id).toBe(first.id);
    expect(renamed.name).toBe('crossing');
    expect(await catalog.listVideos()).toHaveLength(1);
  });

  it('refuses a name that belongs to a different video', async () => {
    const catalog = await openCatalog();
    const first = await catalog.registerVideo(videoInfo());
    const error = await expectStorageError(
      catalog.registerVideo(videoInfo({ path: '/videos/other.mp4', contentHash: 'c'.repeat(64) })),
      'VIDEO_NAME_TAKEN',
    );
    expect(error.message).toContain('"traffic"');
    expect(error.message).toContain('/videos/traffic.mp4');
    expect(error.details).toMatchObject({ name: 'traffic', videoId: first.id });
    expect(await catalog.listVideos()).toEqual([first]);
    await expectStorageError(catalog.registerVideo(videoInfo({ name: ' padded ' })), 'VIDEO_NAME_INVALID');
  });

  it('stores per-frame timestamps exactly and drops them with the video', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const ts = Float64Array.from({ length: 9000 }, (_, i) => 1.86 + i / 9.97 + (i % 7) * 1e-4);
    expect(await catalog.videoTimestamps(video.id)).toBeUndefined();
    await catalog.putVideoTimestamps(video.id, ts);
    await catalog.putVideoTimestamps(video.id, ts);
    expect(Array.from((await catalog.videoTimestamps(video.id))!)).toEqual(Array.from(ts));
    await catalog.removeVideo(video.id);
    expect(await catalog.videoTimestamps(video.id)).toBeUndefined();
  });

  it('allows several unnamed videos', async () => {
    const catalog = await openCatalog();
    await catalog.registerVideo(videoInfo({ name: undefined }));
    await catalog.registerVideo(videoInfo({ name: undefined, path: '/v/2.mp4', contentHash: 'd'.repeat(64) }));
    expect((await catalog.listVideos()).map((v) => v.name)).toEqual([null, null]);
  });

  it('hashes the file (streaming) and stats its size when not given', async () => {
    const catalog = await openCatalog();
    const file = join(dir, 'clip.bin');
    const bytes = Buffer.alloc(3 * 1024 * 1024 + 17, 0);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31) % 251;
    await writeFile(file, bytes);
    const expected = createHash('sha256').update(bytes).digest('hex');
    expect(await hashFile(file)).toBe(expected);
    const video = await catalog.registerVideo(videoInfo({ path: file, contentHash: undefined, sizeBytes: undefined }));
    expect(video.contentHash).toBe(expected);
    expect(video.sizeBytes).toBe(bytes.length);
    await expect(hashFile(join(dir, 'missing.mp4'))).rejects.toMatchObject({ code: 'VIDEO_NOT_FOUND' });
  });

  it('removes a video by name or id with its labels and specialized models', async () => {
    const catalog = await openCatalog();
    const a = await catalog.registerVideo(videoInfo());
    const b = await catalog.registerVideo(videoInfo({ name: 'b', path: '/v/b.mp4', contentHash: 'e'.repeat(64) }));
    const model = await catalog.registerModel(yolox);
    const frames = Array.from({ length: 30 }, (_, f) => labelsFor(f));
    await catalog.writeLabels(a.id, model.id, frames);
    await catalog.writeLabels(b.id, model.id, frames);
    await catalog.putSpecializedModel({
      videoId: a.id,
      referenceModelId: model.id,
      predicateKey: 'class=car',
      kind: 'binary',
      architecture: {},
      onnx: new Uint8Array([1]),
      manifest: {},
      metrics: {},
    });

    expect(await catalog.removeVideo('traffic')).toEqual(a);
    expect(await catalog.removeVideo('traffic')).toBeUndefined();
    expect(await catalog.countLabelled(a.id, model.id)).toBe(0);
    expect(await catalog.readDetections(a.id, model.id)).toEqual([]);
    expect(await catalog.listSpecializedModels()).toEqual([]);
    expect(await catalog.countLabelled(b.id, model.id)).toBe(30);
    expect(await catalog.removeVideo(b.id)).toEqual(b);
    expect(await catalog.listVideos()).toEqual([]);
  });
});

describe('models', () => {
  it('registers idempotently and finds by name, hash and id', async () => {
    const catalog = await openCatalog();
    const model = await catalog.registerModel(yolox);
    expect(model).toMatchObject({ ...yolox, preprocess: CURRENT_PREPROCESS, id: expect.any(Number) });
    expect(model.registeredAt).toBeInstanceOf(Date);
    expect(await catalog.registerModel(yolox)).toEqual(model);
    expect(await catalog.findModel('yolox-s')).toEqual(model);
    expect(await catalog.findModel('yolox-s', 'B'.repeat(64))).toEqual(model);
    expect(await catalog.findModel('yolox-s', 'f'.repeat(64))).toBeUndefined();
    expect(await catalog.findModelById(model.id)).toEqual(model);

    const retrained = await catalog.registerModel({ ...yolox, sha256: 'f'.repeat(64) });
    expect(retrained.id).not.toBe(model.id);
    expect(await catalog.findModel('yolox-s')).toEqual(retrained);
    expect(await catalog.listModels()).toEqual([model, retrained]);
  });

  it('keys models by pre-processing too: the same file fed another way is another labeller', async () => {
    const catalog = await openCatalog();
    const model = await catalog.registerModel(yolox);
    const other = await catalog.registerModel({ ...yolox, preprocess: 'ffmpeg-bilinear' });
    expect(other.id).not.toBe(model.id);
    expect(await catalog.findModel('yolox-s', yolox.sha256)).toEqual(model);
    expect(await catalog.findModel('yolox-s', yolox.sha256, 'ffmpeg-bilinear')).toEqual(other);
  });

  it('upgrades a version-1 catalog: its models become ffmpeg-bilinear, their labels kept but not reused', async () => {
    const path = join(dir, 'v1.duckdb');
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    for (const statement of MIGRATIONS[0]!) await connection.run(statement);
    await connection.run(`INSERT INTO meta VALUES ('schema_version', '1')`);
    await connection.run(
      `INSERT INTO models (name, sha256, family, input_width, input_height, labels, registered_at)
       VALUES ('yolox-s', '${yolox.sha256.toLowerCase()}', 'yolox', 640, 640, '["person","car"]', now())`,
    );
    connection.closeSync();
    instance.closeSync();
    const catalog = await Catalog.open(path);
    open.push(catalog);
    const [old] = await catalog.listModels();
    expect(old).toMatchObject({ name: 'yolox-s', preprocess: 'ffmpeg-bilinear', labels: ['person', 'car'] });
    const video = await catalog.registerVideo(videoInfo());
    await catalog.writeLabels(video.id, old!.id, [labelsFor(0)]);
    const current = await catalog.registerModel(yolox);
    expect(current.id).not.toBe(old!.id);
    expect(await catalog.countLabelled(video.id, current.id)).toBe(0);
    expect(await catalog.countLabelled(video.id, old!.id)).toBe(1);
  });

  it('upgrades a version-3 catalog: its labels and runs are kept with no run named, new ones name theirs', async () => {
    const path = join(dir, 'v3.duckdb');
    const instance = await DuckDBInstance.create(path);
    const connection = await instance.connect();
    for (const statement of MIGRATIONS.slice(0, 3).flat()) await connection.run(statement);
    await connection.run(`INSERT INTO meta VALUES ('schema_version', '3')`);
    connection.closeSync();
    instance.closeSync();
    let catalog = await Catalog.open(path);
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    await catalog.writeLabels(video.id, model.id, [labelsFor(0), labelsFor(1)]);
    await catalog.close();
    // Back to version 3 on disk, as an older Sieve left it: no run_id columns.
    const downgrade = await DuckDBInstance.create(path);
    const c2 = await downgrade.connect();
    for (const t of ['labelled_frames', 'specialized_models', 'index_signals']) await c2.run(`ALTER TABLE ${t} DROP COLUMN run_id`);
    await c2.run(`ALTER TABLE query_runs DROP COLUMN provenance`);
    for (const t of ['stream_labels', 'stream_models']) await c2.run(`DROP TABLE ${t}`);
    await c2.run(`UPDATE meta SET value = '3' WHERE key = 'schema_version'`);
    c2.closeSync();
    downgrade.closeSync();

    catalog = await Catalog.open(path);
    open.push(catalog);
    expect(catalog.schemaVersion).toBe(SCHEMA_VERSION);
    expect(await catalog.labelSources(video.id, model.id, [0, 1])).toEqual([{ run: null, frames: 2 }]);
    const run = await catalog.beginRun();
    await catalog.writeLabels(video.id, model.id, [labelsFor(2)]);
    catalog.endRun();
    expect([...(await catalog.framesLabelledBy(run, video.id, model.id))]).toEqual([2]);
    expect(await catalog.labelSources(video.id, model.id, [0, 1, 2])).toEqual([
      { run: null, frames: 2 },
      { run, frames: 1 },
    ]);
  });
});

describe('labels', () => {
  it('round-trips labelled frames and detections, including frames with nothing found', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    const frames = [5, 1, 3, 0, 4, 2].map((f) => labelsFor(f));
    expect(await catalog.writeLabels(video.id, model.id, frames)).toEqual({ frames: 6, detections: 6 });

    const labelled = await catalog.labelledFrames(video.id, model.id);
    expect(labelled).toBeInstanceOf(Int32Array);
    expect([...labelled]).toEqual([0, 1, 2, 3, 4, 5]);
    expect(await catalog.countLabelled(video.id, model.id)).toBe(6);

    const expected = [0, 1, 2, 3, 4, 5].flatMap((f) => {
      const l = labelsFor(f);
      return l.detections.map((d) => ({ frame: f, timestamp: l.timestamp, ...d }));
    });
    expect(await catalog.readDetections(video.id, model.id)).toEqual(expected);
  });

  it('filters by frame interval, class and score', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    await catalog.writeLabels(video.id, model.id, Array.from({ length: 100 }, (_, f) => labelsFor(f, 3)));

    expect([...(await catalog.labelledFrames(video.id, model.id, { start: 10, end: 15 }))]).toEqual([10, 11, 12, 13, 14]);
    expect(await catalog.countLabelled(video.id, model.id, { start: 90 })).toBe(10);
    expect(await catalog.countLabelled(video.id, model.id, { end: 5 })).toBe(5);

    const all = await catalog.readDetections(video.id, model.id);
    const picked = await catalog.readDetections(video.id, model.id, { start: 20, end: 40, classIds: [2, 0], minScore: 0.7 });
    expect(picked).toEqual(all.filter((d) => d.frame >= 20 && d.frame < 40 && (d.classId === 2 || d.classId === 0) && d.score >= 0.7));
    expect(picked.length).toBeGreaterThan(0);
    expect(await catalog.readDetections(video.id, model.id, { classIds: [] })).toEqual([]);
    // Labels of another (video, model) pair stay apart.
    const other = await catalog.registerModel({ ...yolox, name: 'other' });
    expect(await catalog.countLabelled(video.id, other.id)).toBe(0);
  });

  it('is idempotent: writing the same labels twice leaves the same rows', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    const frames = Array.from({ length: 50 }, (_, f) => labelsFor(f));
    await catalog.writeLabels(video.id, model.id, frames);
    const first = await catalog.readDetections(video.id, model.id);
    await catalog.writeLabels(video.id, model.id, frames);
    await catalog.writeLabels(video.id, model.id, frames.slice(10, 20));
    expect(await catalog.countLabelled(video.id, model.id)).toBe(50);
    expect(await catalog.readDetections(video.id, model.id)).toEqual(first);
  });

  it('replaces the detections of a frame written again', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    await catalog.writeLabels(video.id, model.id, [labelsFor(7, 3), labelsFor(8, 2)]);
    await catalog.writeLabels(video.id, model.id, [{ frame: 7, timestamp: 7 / 30, detections: [] }, labelsFor(9, 1)]);
    const rows = await catalog.readDetections(video.id, model.id);
    expect(rows.map((r) => r.frame)).toEqual([8, 8, 9]);
    expect([...(await catalog.labelledFrames(video.id, model.id))]).toEqual([7, 8, 9]);
  });

  it('rejects invalid batches and unknown videos or models, writing nothing', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    await expectStorageError(catalog.writeLabels(video.id, model.id, [labelsFor(1), labelsFor(1)]), 'LABELS_INVALID');
    await expectStorageError(catalog.writeLabels(video.id, model.id, [{ frame: -1, timestamp: 0, detections: [] }]), 'LABELS_INVALID');
    const bad = labelsFor(2, 1);
    await expectStorageError(
      catalog.writeLabels(video.id, model.id, [labelsFor(0), { ...bad, detections: [{ ...bad.detections[0], score: Number.NaN }] }]),
      'LABELS_INVALID',
    );
    await expectStorageError(catalog.writeLabels(video.id + 100, model.id, [labelsFor(0)]), 'VIDEO_NOT_FOUND');
    await expectStorageError(catalog.writeLabels(video.id, model.id + 100, [labelsFor(0)]), 'MODEL_NOT_FOUND');
    expect(await catalog.countLabelled(video.id, model.id)).toBe(0);
    expect(await catalog.writeLabels(video.id, model.id, [])).toEqual({ frames: 0, detections: 0 });
  });

  it('rolls back everything written in a transaction that throws', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    await catalog.writeLabels(video.id, model.id, [labelsFor(1)]);
    const boom = new Error('boom');
    await expect(
      catalog.transaction(async () => {
        await catalog.writeLabels(video.id, model.id, Array.from({ length: 40 }, (_, f) => labelsFor(f)));
        await catalog.registerVideo(videoInfo({ name: 'other', path: '/v/o.mp4', contentHash: '0'.repeat(64) }));
        expect(await catalog.countLabelled(video.id, model.id)).toBe(40);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(await catalog.countLabelled(video.id, model.id)).toBe(1);
    expect(await catalog.listVideos()).toHaveLength(1);

    const result = await catalog.transaction(async () => {
      await catalog.writeLabels(video.id, model.id, [labelsFor(2)]);
      return catalog.countLabelled(video.id, model.id);
    });
    expect(result).toBe(2);
    expect(await catalog.countLabelled(video.id, model.id)).toBe(2);
  });

  it('serialises concurrent calls on one catalog', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    const batches = Array.from({ length: 10 }, (_, b) => Array.from({ length: 20 }, (_, i) => labelsFor(b * 20 + i)));
    const slow = catalog.transaction(async () => {
      await catalog.writeLabels(video.id, model.id, batches[0]);
      await new Promise((r) => setTimeout(r, 30));
      return catalog.countLabelled(video.id, model.id);
    });
    const rest = Promise.all(batches.slice(1).map((batch) => catalog.writeLabels(video.id, model.id, batch)));
    expect(await slow).toBe(20);
    await rest;
    expect(await catalog.countLabelled(video.id, model.id)).toBe(200);
  });

  it('writes 2,000 frames x 6 detections quickly', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    const frames = Array.from({ length: 2000 }, (_, f) => labelsFor(f, 6));
    const t0 = performance.now();
    await catalog.writeLabels(video.id, model.id, frames);
    const firstMs = performance.now() - t0;
    const t1 = performance.now();
    await catalog.writeLabels(video.id, model.id, frames); // replacing costs a delete as well
    const againMs = performance.now() - t1;
    const t2 = performance.now();
    const rows = await catalog.readDetections(video.id, model.id);
    const readMs = performance.now() - t2;
    console.log(`writeLabels 2000x6: ${firstMs.toFixed(0)} ms; rewrite ${againMs.toFixed(0)} ms; read ${readMs.toFixed(0)} ms`);
    expect(rows).toHaveLength(12_000);
    expect(firstMs).toBeLessThan(1500);
    expect(againMs).toBeLessThan(1500);
  });
});

describe('query runs', () => {
  it('records runs and lists the latest first', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const base = Date.UTC(2026, 0, 1, 12, 0, 0);
    const ok = await catalog.recordQueryRun({
      query: "SELECT FCOUNT(*) FROM traffic WHERE class='car'",
      startedAt: new Date(base),
      finishedAt: new Date(base + 2500),
      videoId: video.id,
      modelId: null,
      plan: { kind: 'aggregate', stages: ['decode', 'specialized', 'reference'] },
      referenceCalls: 120,
      framesDecoded: 9000,
      seconds: 2.5,
      result: { value: 1.25, halfWidth: 0.01 },
      status: 'ok',
    });
    expect(ok).toMatchObject({
      id: expect.any(Number),
      startedAt: new Date(base),
      finishedAt: new Date(base + 2500),
      videoId: video.id,
      modelId: null,
      plan: { kind: 'aggregate', stages: ['decode', 'specialized', 'reference'] },
      referenceCalls: 120,
      result: { value: 1.25, halfWidth: 0.01 },
      status: 'ok',
      errorCode: null,
    });
    const failed = await catalog.recordQueryRun({
      query: 'SELEC',
      startedAt: new Date(base + 10_000),
      finishedAt: new Date(base + 10_001),
      referenceCalls: 0,
      framesDecoded: 0,
      seconds: 0.001,
      status: 'error',
      errorCode: 'PARSE_ERROR',
    });
    expect(failed).toMatchObject({ plan: null, result: null, videoId: null, errorCode: 'PARSE_ERROR' });
    expect(await catalog.listQueryRuns()).toEqual([failed, ok]);
    expect(await catalog.listQueryRuns(1)).toEqual([failed]);
  });
});

describe('specialized models and stage costs', () => {
  it('puts and gets specialized models by key, replacing in place', async () => {
    const catalog = await openCatalog();
    const video = await catalog.registerVideo(videoInfo());
    const model = await catalog.registerModel(yolox);
    const key = { videoId: video.id, referenceModelId: model.id, predicateKey: "class='car'", kind: 'binary' };
    const onnx = new Uint8Array([8, 1, 0, 255, 0, 42]);
    const put = await catalog.putSpecializedModel({ ...key, architecture: { convs: [16, 32] }, onnx, manifest: { input: [64, 64] }, metrics: { auc: 0.97 } });
    expect(put).toMatchObject({ ...key, architecture: { convs: [16, 32] }, manifest: { input: [64, 64] }, metrics: { auc: 0.97 } });
    expect([...put.onnx]).toEqual([...onnx]);
    expect(await catalog.findSpecializedModel(key)).toEqual(put);
    expect(await catalog.findSpecializedModel({ ...key, kind: 'count' })).toBeUndefined();

    const replaced = await catalog.putSpecializedModel({ ...key, architecture: { convs: [8] }, onnx: new Uint8Array([9]), manifest: {}, metrics: { auc: 0.99 } });
    expect(replaced.id).toBe(put.id);
    expect(replaced.metrics).toEqual({ auc: 0.99 });
    const listed = await catalog.listSpecializedModels({ videoId: video.id });
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({ ...key, onnxBytes: 1, metrics: { auc: 0.99 } });
    expect(listed[0]).not.toHaveProperty('onnx');
    expect(await catalog.listSpecializedModels({ videoId: video.id + 1 })).toEqual([]);
  });

  it('puts and gets stage costs per stage, key and machine', async () => {
    const catalog = await openCatalog();
    const at = new Date(Date.UTC(2026, 5, 1));
    const cost = await catalog.putStageCost({ stageKind: 'reference', key: 'yolox-s@cpu', machine: 'ci', secondsPerFrame: 0.05, measuredAt: at });
    expect(cost).toEqual({ stageKind: 'reference', key: 'yolox-s@cpu', machine: 'ci', secondsPerFrame: 0.05, measuredAt: at });
    await catalog.putStageCost({ stageKind: 'decode', key: '64x64', machine: 'ci', secondsPerFrame: 0.0009 });
    const updated = await catalog.putStageCost({ stageKind: 'reference', key: 'yolox-s@cpu', machine: 'ci', secondsPerFrame: 0.04 });
    expect(updated.secondsPerFrame).toBe(0.04);
    expect(await catalog.findStageCost('reference', 'yolox-s@cpu', 'ci')).toEqual(updated);
    expect(await catalog.findStageCost('reference', 'yolox-s@cpu', 'laptop')).toBeUndefined();
    expect((await catalog.listStageCosts({ machine: 'ci' })).map((c) => c.stageKind)).toEqual(['decode', 'reference']);
    expect(await catalog.listStageCosts({ stageKind: 'specialized' })).toEqual([]);
  });
});

describe('live streams', () => {
  const key = { stream: 'rtsp://10.0.0.5/stream1', referenceModelId: 1, predicateKey: 'watch:{"class":"bus"}:fnr=0.1' };
  const chunk = (first: number, n: number) => ({
    thumbSize: 2,
    frames: Int32Array.from({ length: n }, (_, i) => first + i),
    labels: Uint8Array.from({ length: n }, (_, i) => (first + i) % 2),
    thumbs: Uint8Array.from({ length: n * 12 }, (_, i) => (first * 12 + i) % 251),
  });

  it('appends label chunks in order, keeps the newest ones, and survives reopening', async () => {
    let catalog = await openCatalog();
    await catalog.putStreamLabels(key, chunk(0, 3), 2);
    await catalog.putStreamLabels(key, chunk(3, 2), 2);
    await catalog.putStreamLabels({ ...key, stream: 'udp://0.0.0.0:5000' }, chunk(100, 1), 2);
    expect((await catalog.streamLabels(key)).map((c) => [...c.frames])).toEqual([[0, 1, 2], [3, 4]]);
    await catalog.putStreamLabels(key, chunk(5, 1), 2);
    await catalog.close();
    open.splice(0);
    catalog = await openCatalog();
    const stored = await catalog.streamLabels(key);
    expect(stored.map((c) => [...c.frames])).toEqual([[3, 4], [5]]);
    const want = chunk(3, 2);
    expect(stored[0]!.thumbSize).toBe(2);
    expect([...stored[0]!.labels]).toEqual([...want.labels]);
    expect([...stored[0]!.thumbs]).toEqual([...want.thumbs]);
    expect((await catalog.streamLabels({ ...key, stream: 'udp://0.0.0.0:5000' })).length).toBe(1);
  });

  it('replaces the model of a key, and a scene change clears its labels and model only', async () => {
    const catalog = await openCatalog();
    const other = { ...key, predicateKey: 'watch:{"class":"car"}:fnr=0.1' };
    expect(await catalog.streamModel(key)).toBeUndefined();
    await catalog.putStreamModel(key, Uint8Array.of(1, 2, 3), { certified: true, n: 1 });
    await catalog.putStreamModel(key, Uint8Array.of(4, 5), { certified: true, n: 2 });
    await catalog.putStreamModel(other, Uint8Array.of(9), { n: 3 });
    await catalog.putStreamLabels(key, chunk(0, 2), 10);
    const model = await catalog.streamModel(key);
    expect([...model!.onnx]).toEqual([4, 5]);
    expect(model!.state).toEqual({ certified: true, n: 2 });
    await catalog.clearStream(key);
    expect(await catalog.streamModel(key)).toBeUndefined();
    expect(await catalog.streamLabels(key)).toEqual([]);
    expect((await catalog.streamModel(other))!.state).toEqual({ n: 3 });
  });
});
