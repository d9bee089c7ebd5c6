/**
 * The web service example (`examples/service/server.mjs`) over real HTTP on a real clip: a
 * query's progress (server-sent events) and result, equal to the library's answer; two queries
 * submitted at once; the report; a malformed query and a missing video get 4xx with their codes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/engine.js';
import { startService, type Service } from '../../examples/service/server.mjs';
import { ensureBuilt } from '../cli/run-sieve.js';
import { video } from '../helpers.js';

const clip = video('campus_pedestrians_vtest.mp4');
const PERSONS = "SELECT FCOUNT(*) FROM campus WHERE class = 'person' AND timestamp < 2";
const CARS = "SELECT frame FROM campus WHERE class = 'car' AND timestamp < 2";
let tmp: string;
let service: Service;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-service-'));
  service = await startService({ catalog: join(tmp, 'service.duckdb') });
}, 120_000);

afterAll(async () => {
  await service?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${service.url}${path}`, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

/** Reads a job's event stream to its `end` event. */
async function events(id: string): Promise<{ event: string; data: any }[]> {
  const res = await fetch(`${service.url}/queries/${id}/events`);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const text = await res.text();
  return text.split('\n\n').filter(Boolean).map((block) => {
    const event = /^event: (.*)$/m.exec(block)![1]!;
    return { event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) };
  });
}

describe('the web service example', { timeout: 300_000 }, () => {
  it('registers a video; a query answers at once with an id, streams progress, and its result is the library\'s', async () => {
    const added = await call('POST', '/videos', { path: clip, name: 'campus' });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ name: 'campus', frameCount: 795 });
    expect((await call('GET', '/videos')).json.map((v: { name: string }) => v.name)).toEqual(['campus']);

    const submitted = await call('POST', '/queries', { sql: PERSONS });
    expect(submitted.status).toBe(202);
    expect(submitted.json).toMatchObject({ id: expect.any(String), links: { events: `/queries/${submitted.json.id}/events` } });
    const stream = await events(submitted.json.id);
    const kinds = stream.map((e) => e.event);
    expect(kinds[0]).toBe('status');
    expect(kinds).toContain('progress');
    expect(kinds.slice(-2)).toEqual(['result', 'end']);
    const result = stream.find((e) => e.event === 'result')!.data;
    const done = await call('GET', `/queries/${submitted.json.id}`);
    expect(done.json).toMatchObject({ status: 'done', runId: result.runId });
    expect(done.json.result.value).toBe(result.value);

    // The same query from the library, on its own catalog: the same answer.
    const direct = await openEngine({ catalog: join(tmp, 'direct.duckdb') });
    try {
      const answer = await direct.query(PERSONS, { videos: { campus: clip } });
      expect(result.value).toBe(answer.value);
      expect(result.stats.framesInRange).toBe(answer.stats.framesInRange);
    } finally {
      await direct.close();
    }

    const report = await fetch(`${service.url}/queries/${submitted.json.id}/report`);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await report.text()).toMatch(/^<!doctype html>[\s\S]*<svg class="timeline"[\s\S]*<img src="data:image\/jpeg/);
  });

  it('runs two queries submitted at once, one after the other, both right', async () => {
    const [a, b] = await Promise.all([call('POST', '/queries', { sql: CARS }), call('POST', '/queries', { sql: PERSONS })]);
    expect([a.status, b.status]).toEqual([202, 202]);
    const queued = await call('GET', `/queries/${b.json.id}`);
    expect(['queued', 'running', 'done']).toContain(queued.json.status);
    const early = await fetch(`${service.url}/queries/${b.json.id}/report`);
    if (queued.json.status !== 'done') expect(early.status).toBe(409);
    const [ea, eb] = await Promise.all([events(a.json.id), events(b.json.id)]);
    expect(ea.at(-2)!.event).toBe('result');
    expect(eb.at(-2)!.event).toBe('result');
    const cars = ea.at(-2)!.data;
    const persons = eb.at(-2)!.data;
    expect(persons.stats.referenceCalls).toBe(0); // the first test labelled these frames
    const first = await call('GET', '/queries/1');
    expect(persons.value).toBe(first.json.result.value);
    const direct = await openEngine({ catalog: join(tmp, 'direct.duckdb') });
    try {
      expect(cars.rows).toEqual((await direct.query(CARS, { videos: { campus: clip } })).rows);
    } finally {
      await direct.close();
    }
    const runs = new Set([first.json.runId, cars.runId, persons.runId]);
    expect(runs.size).toBe(3);
  });

  it('answers bad requests with a 4xx and the error\'s code', async () => {
    const malformed = await call('POST', '/queries', { sql: 'SELEC FCOUNT(*) FROM campus' });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toMatchObject({ code: expect.any(String), line: 1, column: 1 });
    const missing = await call('POST', '/videos', { path: join(tmp, 'no-such.mp4') });
    expect(missing.status).toBeGreaterThanOrEqual(400);
    expect(missing.status).toBeLessThan(500);
    expect(missing.json.error.code).toMatch(/^[A-Z_]+$/);
    expect(missing.json.error.message).toContain('no-such.mp4');
    const unknownVideo = await call('POST', '/queries', { sql: "SELECT frame FROM nowhere WHERE class = 'car'" });
    expect(unknownVideo.status).toBe(202); // parses; the binder rejects it when it runs
    const stream = await events(unknownVideo.json.id);
    expect(stream.at(-2)).toMatchObject({ event: 'error', data: { code: expect.any(String), message: expect.stringContaining('nowhere') } });
    expect((await call('GET', `/queries/${unknownVideo.json.id}`)).json.status).toBe('error');
    expect((await call('POST', '/queries', '{not json')).json.error.code).toBe('BAD_JSON');
    expect((await call('GET', '/queries/999')).status).toBe(404);
  });
});
