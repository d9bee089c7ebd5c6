/**
 * The index and the LIMIT search on a real clip (campus_pedestrians_vtest, 795 frames): a cold
 * grouped LIMIT builds the index (the sample labelled, a count model trained, every frame
 * scored) and returns frames each verified by the reference, a GAP apart; later queries on the
 * same class read the index instead of training; the exact scan in frame order on the same catalog
 * returns as many frames and needs more of the reference than the search did.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, sessionOf, type Engine } from '../../src/engine.js';
import type { QueryResult } from '../../src/engine-types.js';
import { dataDir, video } from '../helpers.js';

const videos = { campus: video('campus_pedestrians_vtest.mp4') };
const CROWD = "SELECT frame, timestamp FROM campus GROUP BY timestamp HAVING SUM(class = 'person') >= 7 LIMIT 3 GAP 100";
let tmp: string;
let engine: Engine;

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sieve-search-'));
  engine = await openEngine({ catalog: join(tmp, 'catalog.duckdb'), dataDir });
});

afterAll(async () => {
  await engine?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The reference's objects of `cls` on each frame, read from the label store. */
async function storedCounts(frames: readonly number[], cls: string, minScore = 0): Promise<Map<number, number>> {
  const [v] = await engine.catalog.listVideos();
  const model = await sessionOf(engine).referenceModelRow();
  const labels = (await sessionOf(engine).referenceModel()).manifest.labels;
  const out = new Map<number, number>();
  const labelled = new Set(await engine.catalog.labelledFrames(v!.id, model.id));
  for (const f of frames) {
    expect(labelled.has(f), `frame ${f} was labelled by the reference`).toBe(true);
    const rows = await engine.catalog.readDetections(v!.id, model.id, { start: f, end: f + 1 });
    out.set(f, rows.filter((r) => labels[r.classId] === cls && r.score >= minScore).length);
  }
  return out;
}

function expectGap(frames: readonly number[], gap: number): void {
  const sorted = [...frames].sort((a, b) => a - b);
  for (let i = 1; i < sorted.length; i++) expect(sorted[i]! - sorted[i - 1]!).toBeGreaterThanOrEqual(gap);
}

const framesOf = (r: QueryResult) => r.rows.map((row) => Number(row['frame']));

/** This process's live ffmpeg children (Linux /proc; zombies not counted), after up to 5 s for killed ones to exit. */
async function ffmpegChildren(): Promise<string[]> {
  const live = () =>
    readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .flatMap((d) => {
        try {
          const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
          const [, comm, state, ppid] = /^\d+ \((.*)\) (\S) (\d+)/.exec(stat) ?? [];
          return comm?.startsWith('ffmpeg') && state !== 'Z' && Number(ppid) === process.pid ? [`${d} ${comm}`] : [];
        } catch {
          return [];
        }
      });
  for (let i = 0; i < 50 && live().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  return live();
}

describe('LIMIT search over the index', { timeout: 600_000 }, () => {
  let cold: QueryResult;

  it('EXPLAIN before anything ran: the search, and the index signal it will add', async () => {
    const plan = (await engine.query(`EXPLAIN ${CROWD}`, { videos })).plan;
    expect(plan).toContain('LimitSearch LIMIT 3 GAP 100');
    expect(plan).toMatch(/to add to the index: count:person \(label every 5th frame of the video, 159 frames, 159 not in the store/);
  });

  it('cold: builds the index and returns k frames, each verified by the reference, a GAP apart', async () => {
    cold = await engine.query(CROWD, { videos });
    expect(cold.kind).toBe('limit');
    expect(cold.rows).toHaveLength(3);
    expect(['verified', 'exact']).toContain(cold.accuracy.mode);
    expect(cold.accuracy.note).toMatch(/^LIMIT search: /);
    expect(cold.accuracy.note).toContain('index signals added: count:person');
    const stages = cold.stats.stages.map((s) => s.stage);
    expect(stages).toContain('index sample (reference)');
    expect(stages.some((s) => s.startsWith('index: train person count model'))).toBe(true);
    const frames = framesOf(cold);
    for (const [f, n] of await storedCounts(frames, 'person')) expect(n, `persons on frame ${f}`).toBeGreaterThanOrEqual(7);
    expectGap(frames, 100);
    const runs = await engine.catalog.listQueryRuns(1);
    expect(runs[0]!.plan).toMatchObject({ kind: 'limit-search', index: { added: ['count:person'], reused: [] } });
  });

  it('later queries on the class read the index: no sample, no training; a frame selection LIMIT too', async () => {
    const plan = (await engine.query(`EXPLAIN ${CROWD}`, { videos })).plan;
    expect(plan).toContain('from the index: count:person');
    expect(plan).not.toContain('to add');
    const other = await engine.query("SELECT frame FROM campus GROUP BY frame HAVING SUM(class = 'person') >= 8 LIMIT 2 GAP 200", { videos });
    expect(other.stats.stages.map((s) => s.stage)).not.toContain('index sample (reference)');
    expect(other.accuracy.note).toContain('index signals read: count:person');
    expect(other.rows).toHaveLength(2);
    for (const [f, n] of await storedCounts(framesOf(other), 'person')) expect(n, `persons on frame ${f}`).toBeGreaterThanOrEqual(8);
    expectGap(framesOf(other), 200);
    const sure = await engine.query("SELECT frame FROM campus WHERE class = 'person' AND score >= 0.8 LIMIT 5 GAP 50", { videos });
    expect(sure.kind).toBe('frames');
    expect(sure.rows).toHaveLength(5);
    for (const [f, n] of await storedCounts(framesOf(sure), 'person', 0.8)) expect(n, `confident persons on frame ${f}`).toBeGreaterThanOrEqual(1);
    expectGap(framesOf(sure), 50);
    const runs = await engine.catalog.listQueryRuns(1);
    expect(runs[0]!.plan).toMatchObject({ kind: 'limit-search', index: { added: [], reused: ['count:person'] } });
    // A box predicate ranks by the class's count and is checked on the reference's boxes; a time
    // predicate bounds the frames ranked (seconds 20-50 at 10 fps: frames 200-500).
    const boxed = await engine.query("SELECT frame, timestamp FROM campus WHERE class = 'person' AND area > 1500 AND timestamp BETWEEN 20 AND 50 LIMIT 3 GAP 50", { videos });
    expect(boxed.kind).toBe('frames');
    expect(boxed.accuracy.note).toContain('index signals read: count:person');
    expect(boxed.rows.length).toBeGreaterThan(0);
    for (const row of boxed.rows) expect(Number(row['timestamp'])).toBeGreaterThanOrEqual(20), expect(Number(row['timestamp'])).toBeLessThanOrEqual(50);
    expectGap(framesOf(boxed), 50);
    const [v] = await engine.catalog.listVideos();
    const model = await sessionOf(engine).referenceModelRow();
    const person = (await sessionOf(engine).referenceModel()).manifest.labels.indexOf('person');
    for (const f of framesOf(boxed)) {
      const rows = await engine.catalog.readDetections(v!.id, model.id, { start: f, end: f + 1 });
      expect(rows.some((r) => r.classId === person && (r.xmax - r.xmin) * (r.ymax - r.ymin) > 1500), `a person over 1500 px on frame ${f}`).toBe(true);
    }
    const ranked = Number(/of (\d+) ranked by the index/.exec(boxed.accuracy.note ?? '')?.[1]);
    expect(ranked).toBeLessThanOrEqual(301);
    // `sieve index` with the class stored: nothing to build, and an unknown class says which it meant.
    const summary = await engine.index(videos.campus, { classes: ['person'] });
    expect(summary.signals).toEqual([expect.objectContaining({ name: 'count:person', added: false })]);
    expect(summary.referenceCalls).toBe(0);
    await expect(engine.index(videos.campus, { classes: ['persn'] })).rejects.toMatchObject({ code: 'UNKNOWN_CLASS', message: expect.stringContaining("did you mean 'person'") });
  });

  it('the exact scan in frame order returns as many frames and needs more reference labels than the cold search', async () => {
    const exact = await engine.query(CROWD, { videos, planner: { search: false } });
    expect(exact.accuracy.mode).toBe('exact');
    expect(exact.rows).toHaveLength(cold.rows.length);
    // What the exact plan reads on an empty catalog: every frame up to its last answer.
    const needed = exact.stats.labelsFromStore + exact.stats.referenceCalls;
    expect(needed).toBeGreaterThan(framesOf(exact).at(-1)!);
    expect(cold.stats.referenceCalls).toBeLessThan(needed);
  });

  it('a scan that stops at its k-th frame closes its ffmpeg (not left blocked on the pipe, keeping the process alive)', async () => {
    const other = await openEngine({ catalog: join(tmp, 'early-stop.duckdb'), dataDir });
    try {
      const first = await other.query("SELECT frame FROM campus WHERE class = 'person' LIMIT 1", { videos, planner: { search: false } });
      expect(first.rows).toHaveLength(1);
      expect(first.stats.referenceCalls).toBeLessThan(first.stats.framesInRange / 2);
      if (process.platform === 'linux') expect(await ffmpegChildren()).toEqual([]);
    } finally {
      await other.close();
    }
  });
});
