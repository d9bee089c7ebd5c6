/**
 * Exact answers on real video, checked against ground truth computed here: the frames are decoded
 * by the ffmpeg binary directly, labelled by a ReferenceDetector of the test's own, timed by
 * ffprobe's frame timestamps, and every query's answer is recomputed in plain TypeScript.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine.js';
import type { QueryResult, ResultRow } from '../../src/engine-types.js';
import { ReferenceDetector } from '../../src/inference/reference-detector.js';
import { dataDir, ffmpegBackends, model, video, type FfmpegBackend } from '../helpers.js';
import { detectFrameRange, probeWithFfprobe } from './independent-labels.js';

interface Case {
  readonly file: string;
  /** The class most queries ask about. */
  readonly cls: string;
  /** The frame range as FrameQL, and the same condition in TypeScript. */
  readonly range: string;
  readonly inRange: (frame: number, timestamp: number) => boolean;
  /** `HAVING SUM(class = cls) >= having`. */
  readonly having: number;
}

// A few seconds each: the reference detector costs tens of milliseconds a frame here.
const CASES: readonly Case[] = [
  { file: 'road_polecam.mp4', cls: 'car', range: 'timestamp < 1.2', inRange: (_, t) => t < 1.2, having: 3 },
  // People arrive after about 8 s; the strict upper bound falls exactly on a frame (10 fps).
  { file: 'intel_one_by_one_person.mp4', cls: 'person', range: 'timestamp >= 8 AND timestamp < 10', inRange: (_, t) => t >= 8 && t < 10, having: 1 },
  // H.264 in AVI: ffprobe has no pts for its frames, only best-effort timestamps.
  { file: 'interstate_overpass.avi', cls: 'car', range: 'frame <= 23', inRange: (f) => f <= 23, having: 2 },
  // Variable frame rate (the header says 25.25 fps, the real rate is about 10 and uneven): the
  // container's timestamps, not frame / fps, decide which frames are in range.
  { file: 'street_window_cvtrafficcam.mp4', cls: 'car', range: 'timestamp BETWEEN 5.3 AND 6.4', inRange: (_, t) => t >= 5.3 && t <= 6.4, having: 3 },
];

/** One object of the ground truth, with the columns of `SELECT *`. */
interface TruthRow {
  readonly frame: number;
  readonly timestamp: number;
  readonly class: string;
  readonly score: number;
  readonly xmin: number;
  readonly ymin: number;
  readonly xmax: number;
  readonly ymax: number;
  readonly width: number;
  readonly height: number;
  readonly area: number;
}

interface Truth {
  /** Frames in range: [start, start + frames). */
  readonly start: number;
  readonly frames: number;
  /** Of every frame of the video. */
  readonly timestamps: readonly number[];
  /** Every object in range, in frame order, in the detector's order within a frame. */
  readonly rows: readonly TruthRow[];
}

const SELECT_ALL = ['frame', 'timestamp', 'class', 'score', 'xmin', 'ymin', 'xmax', 'ymax', 'width', 'height', 'area'] as const;

let tmp: string;
let detector: ReferenceDetector;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sieve-exact-'));
  detector = await ReferenceDetector.load(model('yolo11n_int8dyn_640.onnx'), { executionProvider: 'cpu' });
});

afterAll(async () => {
  await detector?.dispose();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The truth of one case as decoded by one ffmpeg build (its own ffprobe and ffmpeg, run directly). */
async function groundTruth(c: Case, bins: FfmpegBackend): Promise<Truth> {
  const file = video(c.file);
  const probed = await probeWithFfprobe(file, bins);
  const inRange = probed.timestamps.map((t, f) => c.inRange(f, t));
  const start = inRange.indexOf(true);
  const end = inRange.indexOf(false, start) === -1 ? inRange.length : inRange.indexOf(false, start);
  expect(start, 'the range is not empty').toBeGreaterThanOrEqual(0);
  expect(inRange.slice(end).some(Boolean), 'the range is contiguous').toBe(false);
  const detections = await detectFrameRange(detector, file, probed, start, end, bins);
  const rows: TruthRow[] = [];
  detections.forEach((list, i) => {
    const frame = start + i;
    for (const d of list) {
      const width = d.xmax - d.xmin;
      const height = d.ymax - d.ymin;
      rows.push({ frame, timestamp: probed.timestamps[frame]!, class: detector.labels[d.classId]!, score: d.score, xmin: d.xmin, ymin: d.ymin, xmax: d.xmax, ymax: d.ymax, width, height, area: width * height });
    }
  });
  return { start, frames: end - start, timestamps: probed.timestamps, rows };
}

/** The frames (ascending) holding at least one row that passes `keep`. */
function framesWith(truth: Truth, keep: (r: TruthRow) => boolean): number[] {
  return [...new Set(truth.rows.filter(keep).map((r) => r.frame))].sort((a, b) => a - b);
}

function expectRowsEqual(actual: readonly ResultRow[], expected: readonly TruthRow[]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((row, i) => {
    const want = expected[i]!;
    for (const column of SELECT_ALL) {
      if (typeof want[column] === 'number') expect(row[column], `row ${i} ${column}`).toBeCloseTo(want[column] as number, 6);
      else expect(row[column], `row ${i} ${column}`).toBe(want[column]);
    }
  });
}

function timestampsOf(result: QueryResult): number[] {
  return result.rows.map((r) => r['timestamp'] as number);
}

// Every case against every ffmpeg build present (CI has the bundled 2018 build and Debian's).
describe.each(ffmpegBackends())('ffmpeg $name ($version)', (backend) => {
let engine: Engine;

beforeAll(async () => {
  engine = await openEngine({ catalog: join(tmp, `catalog-${backend.name}.duckdb`), dataDir, ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath });
});

afterAll(async () => {
  await engine?.close();
});

describe.each(CASES)('$file: $range', (c) => {
  let truth: Truth;
  const clip = { clip: video(c.file) };
  const ask = (select: string, where: string) => `SELECT ${select} FROM clip WHERE ${where} AND ${c.range}`;
  const run = async (sql: string): Promise<QueryResult> => engine.query(sql, { videos: clip, exact: true });

  beforeAll(async () => {
    truth = await groundTruth(c, backend);
    // The check is only worth something when the class is really there.
    expect(truth.rows.filter((r) => r.class === c.cls).length).toBeGreaterThan(0);
  });

  it('SELECT * returns every object of every frame in range, labelling each frame once', async () => {
    const result = await run(`SELECT * FROM clip WHERE ${c.range}`);
    expect(result.kind).toBe('rows');
    expect(result.columns).toEqual(expect.arrayContaining([...SELECT_ALL]));
    expectRowsEqual(result.rows, truth.rows);
    expect(result.stats.framesInRange).toBe(truth.frames);
    expect(result.stats.referenceCalls + result.stats.labelsFromStore).toBe(truth.frames);
    expect(result.accuracy.mode).toBe('exact');
  });

  it('FCOUNT(*), COUNT(*) and COUNT(DISTINCT frame)', async () => {
    const matching = truth.rows.filter((r) => r.class === c.cls);
    const fcount = await run(ask('FCOUNT(*)', `class = '${c.cls}'`));
    expect(fcount.kind).toBe('aggregate');
    expect(fcount.stats.framesInRange).toBe(truth.frames);
    expect(fcount.value).toBeCloseTo(matching.length / truth.frames, 12);
    expect(fcount.stats.referenceCalls).toBe(0);

    const count = await run(ask('COUNT(*)', `class = '${c.cls}'`));
    expect(count.value).toBe(matching.length);

    const distinct = await run(ask('COUNT(DISTINCT frame)', `class = '${c.cls}'`));
    expect(distinct.value).toBe(framesWith(truth, (r) => r.class === c.cls).length);

    const all = await run(`SELECT COUNT(*) FROM clip WHERE ${c.range}`);
    expect(all.value).toBe(truth.rows.length);
  });

  it('selects the timestamps of frames holding the class, with the container timestamps', async () => {
    const result = await run(ask('timestamp', `class = '${c.cls}'`));
    expect(result.kind).toBe('frames');
    const want = framesWith(truth, (r) => r.class === c.cls).map((f) => truth.timestamps[f]!);
    expect(timestampsOf(result)).toHaveLength(want.length);
    timestampsOf(result).forEach((t, i) => expect(t).toBeCloseTo(want[i]!, 9));
  });

  it('applies box and score predicates', async () => {
    const keep = (r: TruthRow) => r.class === c.cls && r.score >= 0.6 && r.area > 2000 && r.xmin > 100;
    const result = await run(ask('timestamp', `class = '${c.cls}' AND score >= 0.6 AND area > 2000 AND xmin > 100`));
    const want = framesWith(truth, keep).map((f) => truth.timestamps[f]!);
    expect(timestampsOf(result)).toHaveLength(want.length);
    timestampsOf(result).forEach((t, i) => expect(t).toBeCloseTo(want[i]!, 9));
    // The same objects, as rows.
    const rows = await run(ask('*', `class = '${c.cls}' AND score >= 0.6 AND area > 2000 AND xmin > 100`));
    expectRowsEqual(rows.rows, truth.rows.filter(keep));
  });

  it('ORDER BY score DESC LIMIT 3', async () => {
    const result = await run(`${ask('*', `class = '${c.cls}'`)} ORDER BY score DESC LIMIT 3`);
    const matching = truth.rows.filter((r) => r.class === c.cls);
    const scores = matching.map((r) => r.score).sort((a, b) => b - a).slice(0, 3);
    expect(result.rows.map((r) => r['score'])).toEqual(scores);
    // Each returned object is one of the ground truth's objects with that score.
    for (const row of result.rows) {
      const candidates = matching.filter((r) => r.score === row['score']);
      expect(candidates.some((r) => SELECT_ALL.every((col) => (typeof r[col] === 'number' ? Math.abs((r[col] as number) - (row[col] as number)) < 1e-6 : r[col] === row[col])))).toBe(true);
    }
  });

  it(`GROUP BY timestamp HAVING SUM(class = ...) >= k LIMIT 2 GAP 10`, async () => {
    // At most `having`, and at most what the truth reaches in the range (so some frame qualifies).
    const count = (f: number) => truth.rows.filter((r) => r.frame === f && r.class === c.cls).length;
    const frames = Array.from({ length: truth.frames }, (_, i) => truth.start + i);
    const k = Math.max(1, Math.min(c.having, Math.max(...frames.map(count))));
    const result = await run(`SELECT timestamp FROM clip WHERE ${c.range} GROUP BY timestamp HAVING SUM(class = '${c.cls}') >= ${k} LIMIT 2 GAP 10`);
    expect(result.kind).toBe('limit');
    const qualifying = frames.filter((f) => count(f) >= k);
    const picked: number[] = [];
    for (const f of qualifying) {
      if (picked.length === 2) break;
      if (picked.length === 0 || f - picked[picked.length - 1]! >= 10) picked.push(f);
    }
    expect(picked.length, 'the data has frames for this HAVING').toBeGreaterThan(0);
    expect(timestampsOf(result)).toHaveLength(picked.length);
    timestampsOf(result).forEach((t, i) => expect(t).toBeCloseTo(truth.timestamps[picked[i]!]!, 9));
    expect(result.stats.referenceCalls).toBe(0);
  });
});
});
