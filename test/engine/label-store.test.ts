/** Labels are computed once: a repeated or different query over labelled frames needs no reference call. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, sessionOf, type Engine } from '../../src/engine.js';
import { dataDir, video } from '../helpers.js';

const RANGE = 'frame < 40';
let tmp: string;
let engine: Engine;
const videos = { traffic: video('road_polecam.mp4') };

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'sieve-labels-'));
  engine = await openEngine({ catalog: join(tmp, 'catalog.duckdb'), dataDir });
});

afterAll(async () => {
  await engine?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the label store', () => {
  const sql = `SELECT FCOUNT(*) FROM traffic WHERE class = 'car' AND score >= 0.5 AND ${RANGE}`;
  let first: Awaited<ReturnType<Engine['query']>>;

  it('labels every frame in range on the first run, once', async () => {
    first = await engine.query(sql, { videos, exact: true });
    expect(first.stats.framesInRange).toBe(40);
    expect(first.stats.referenceCalls).toBe(40);
    expect(first.stats.labelsFromStore).toBe(0);
    const [v] = await engine.catalog.listVideos();
    const model = await sessionOf(engine).referenceModelRow();
    expect(await engine.catalog.countLabelled(v!.id, model.id)).toBe(40);
    expect([...(await engine.catalog.labelledFrames(v!.id, model.id))]).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('answers the same query again from the store with zero reference calls', async () => {
    const again = await engine.query(sql, { videos, exact: true });
    expect(again.stats.referenceCalls).toBe(0);
    expect(again.stats.framesDecoded).toBe(0);
    expect(again.stats.labelsFromStore).toBe(again.stats.framesInRange);
    expect(again.value).toBe(first.value);
  });

  it('answers a different query over the same frames (another class) from the store', async () => {
    const buses = await engine.query(`SELECT COUNT(DISTINCT frame) FROM traffic WHERE class = 'bus' AND ${RANGE}`, { videos, exact: true });
    expect(buses.stats.referenceCalls).toBe(0);
    expect(buses.stats.labelsFromStore).toBe(40);
    const rows = await engine.query(`SELECT * FROM traffic WHERE ${RANGE} AND frame >= 10 ORDER BY score DESC LIMIT 5`, { videos, exact: true });
    expect(rows.stats.referenceCalls).toBe(0);
    expect(rows.stats.labelsFromStore).toBe(30);
  });

  it('answers without --exact too (the planner may pick the cascade, which then reuses the labels)', async () => {
    const planned = await engine.query(sql, { videos });
    expect(planned.stats.referenceCalls).toBe(0);
    expect(planned.value).toBe(first.value);
  });

  it('labels only the frames that are missing when a range grows, and records every run', async () => {
    const wider = await engine.query(`SELECT FCOUNT(*) FROM traffic WHERE class = 'car' AND frame < 50`, { videos, exact: true });
    expect(wider.stats.framesInRange).toBe(50);
    expect(wider.stats.referenceCalls).toBe(10);
    expect(wider.stats.labelsFromStore).toBe(40);
    const runs = await engine.catalog.listQueryRuns(100);
    expect(runs.map((r) => r.referenceCalls).reverse()).toEqual([40, 0, 0, 0, 0, 10]);
  });
});
