/**
 * The web service example (`examples/service/server.mjs`) over real HTTP on a real clip: a
 * query's progress (server-sent events) and result, equal to the library's answer; two queries
 * submitted at once; the report; cancelling a queued and a running query; a malformed query, a
 * missing video and other bad requests get 4xx with their codes; after the service closes, its
 * catalog holds every finished run and answers the same.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/engine.js';
import type { Service } from '../../examples/service/server.mjs';
import { ensureBuilt } from '../cli/run-sieve.js';
import { video } from '../helpers.js';

const clip = video('campus_pedestrians_vtest.mp4');
const PERSONS = "SELECT FCOUNT(*) FROM campus WHERE class = 'person' AND timestamp < 2";
/** Reaches 1 s past what PERSONS labels: the reference runs while the other query waits. */
const CARS = "SELECT frame FROM campus WHERE class = 'car' AND timestamp < 3";
/** Long enough to be stopped while it runs: the reference on every frame of the 79 s clip. */
const LONG = "SELECT COUNT(*) FROM campus WHERE class = 'person'";
let tmp: string;
let service: Service | undefined;
let url: string;

beforeAll(async () => {
  await ensureBuilt(); // the service imports the built package (dist/)
  const { startService } = await import('../../examples/service/server.mjs');
  tmp = mkdtempSync(join(tmpdir(), 'sieve-service-'));
  service = await startService({ catalog: join(tmp, 'service.duckdb') });
  url = service.url;
}, 120_000);

afterAll(async () => {
  await service?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function call(method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(`${url}${path}`, { method, ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } } : {}) });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
}

interface Sse {
  readonly event: string;
  readonly data: any;
}

/** Follows a job's event stream as it comes, to its `end` event; `onEvent` sees each one. */
async function events(id: string, onEvent?: (e: Sse) => void | Promise<void>): Promise<Sse[]> {
  const res = await fetch(`${url}/queries/${id}/events`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/event-stream');
  const out: Sse[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of res.body!) {
    buffer += decoder.decode(chunk as Uint8Array, { stream: true });
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const e = { event: /^event: (.*)$/m.exec(block)![1]!, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) };
      out.push(e);
      await onEvent?.(e);
    }
  }
  expect(buffer).toBe('');
  expect(out.at(-1)?.event).toBe('end');
  return out;
}

describe('the web service example', { timeout: 300_000 }, () => {
  it("registers a video; a query answers at once with an id, streams progress, and its result is the library's", async () => {
    const added = await call('POST', '/videos', { path: clip, name: 'campus' });
    expect(added.status).toBe(201);
    expect(added.json).toMatchObject({ name: 'campus', frameCount: 795, width: 480, height: 360 });
    expect((await call('GET', '/videos')).json.map((v: { name: string }) => v.name)).toEqual(['campus']);

    const submitted = await call('POST', '/queries', { sql: PERSONS });
    expect(submitted.status).toBe(202);
    const id = submitted.json.id;
    expect(submitted.json).toMatchObject({ id: expect.any(String), status: 'queued', links: { self: `/queries/${id}`, events: `/queries/${id}/events`, report: `/queries/${id}/report` } });
    const stream = await events(id);
    const kinds = stream.map((e) => e.event);
    expect(stream.slice(0, 2).map((e) => e.data.status)).toEqual(['queued', 'running']);
    expect(kinds).toContain('progress');
    const progress = stream.filter((e) => e.event === 'progress').map((e) => e.data);
    for (const p of progress) expect(p).toMatchObject({ phase: expect.any(String), done: expect.any(Number), total: expect.any(Number) });
    expect(kinds.slice(-2)).toEqual(['result', 'end']);
    expect(stream.at(-1)!.data).toMatchObject({ status: 'done' });
    const result = stream.find((e) => e.event === 'result')!.data;
    expect(result.stats.referenceCalls).toBeGreaterThan(0);
    const done = await call('GET', `/queries/${id}`);
    expect(done.json).toMatchObject({ id, status: 'done', sql: PERSONS, runId: result.runId });
    expect(done.json.result.value).toBe(result.value);

    // A follower that connects after the end gets every event at once, the same ones.
    expect((await events(id)).map((e) => e.event)).toEqual(kinds);

    // The same query from the library, on its own catalog: the same answer.
    const direct = await openEngine({ catalog: join(tmp, 'direct.duckdb') });
    try {
      const answer = await direct.query(PERSONS, { videos: { campus: clip } });
      expect(result.value).toBe(answer.value);
      expect(result.stats.framesInRange).toBe(answer.stats.framesInRange);
    } finally {
      await direct.close();
    }
  });

  it("serves the run's HTML report once the query is done", async () => {
    const report = await fetch(`${url}/queries/1/report`);
    expect(report.status).toBe(200);
    expect(report.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await report.text()).toMatch(/<html/i);
  });

  it('runs two queries submitted at once, one after the other, both right', async () => {
    const [a, b] = await Promise.all([call('POST', '/queries', { sql: CARS }), call('POST', '/queries', { sql: PERSONS, exact: true })]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(new Set([a.json.position, b.json.position])).toEqual(new Set([0, 1])); // jobs ahead of each
    const later = a.json.position === 1 ? a : b;
    const queued = await call('GET', `/queries/${later.json.id}`);
    expect(['queued', 'running', 'done']).toContain(queued.json.status);
    if (queued.json.status === 'queued') expect(queued.json.position).toBe(1);
    const early = await fetch(`${url}/queries/${later.json.id}/report`);
    if (queued.json.status !== 'done') expect(early.status).toBe(409);
    else expect(early.status).toBe(200);
    await early.arrayBuffer();
    const [ea, eb] = await Promise.all([events(a.json.id), events(b.json.id)]);
    expect(ea.at(-2)!.event).toBe('result');
    expect(eb.at(-2)!.event).toBe('result');
    // One at a time, in submission order: the later one started only after the earlier had ended.
    const [before, after] = a.json.position === 0 ? [ea, eb] : [eb, ea];
    const started = after.find((e) => e.event === 'status' && e.data.status === 'running')!.data.at;
    expect(started).toBeGreaterThanOrEqual(before.at(-1)!.data.at);
    expect(ea.at(-2)!.data.stats.referenceCalls).toBeGreaterThan(0); // CARS labelled frames of 2..3 s
    const cars = ea.at(-2)!.data;
    const persons = eb.at(-2)!.data;
    expect(persons.accuracy.mode).toBe('exact');
    const first = await call('GET', '/queries/1');
    expect(persons.value).toBe(first.json.result.value);
    const direct = await openEngine({ catalog: join(tmp, 'direct.duckdb') });
    try {
      expect(cars.rows).toEqual((await direct.query(CARS, { videos: { campus: clip } })).rows);
      expect(persons.value).toBe((await direct.query(PERSONS, { videos: { campus: clip }, exact: true })).value);
    } finally {
      await direct.close();
    }
    expect(new Set([first.json.runId, cars.runId, persons.runId]).size).toBe(3);
  });

  it('cancels a queued query at once and stops a running one', async () => {
    const long = await call('POST', '/queries', { sql: LONG, exact: true });
    const short = await call('POST', '/queries', { sql: CARS });
    expect([long.status, short.status]).toEqual([202, 202]);
    const cancelled = await call('DELETE', `/queries/${short.json.id}`);
    expect(cancelled.status).toBe(202);
    expect(cancelled.json.status).toBe('cancelled');
    const shortEvents = await events(short.json.id);
    expect(shortEvents.map((e) => e.event)).not.toContain('result');
    expect(shortEvents.at(-1)!.data).toMatchObject({ status: 'cancelled' });

    let stopped = false;
    const stream = await events(long.json.id, async (e) => {
      if (!stopped && e.event === 'progress' && e.data.done > 0) {
        stopped = true;
        const stop = await call('DELETE', `/queries/${long.json.id}`);
        expect(stop.status).toBe(202);
      }
    });
    expect(stopped).toBe(true);
    expect(stream.at(-2)).toMatchObject({ event: 'error', data: { code: 'INTERRUPTED' } });
    expect(stream.at(-1)!.data).toMatchObject({ status: 'cancelled' });
    const view = await call('GET', `/queries/${long.json.id}`);
    expect(view.json.status).toBe('cancelled');
    expect((await call('DELETE', `/queries/${long.json.id}`)).status).toBe(409);
    expect((await fetch(`${url}/queries/${long.json.id}/report`)).status).toBe(409);

    // The service goes on: the next query runs and answers as before.
    const again = await call('POST', '/queries', { sql: PERSONS });
    const after = await events(again.json.id);
    expect(after.at(-2)!.event).toBe('result');
    expect(after.at(-2)!.data.value).toBe((await call('GET', '/queries/1')).json.result.value);
  });

  it("answers bad requests with a 4xx and the error's code", async () => {
    const malformed = await call('POST', '/queries', { sql: 'SELEC FCOUNT(*) FROM campus' });
    expect(malformed.status).toBe(400);
    expect(malformed.json.error).toMatchObject({ code: expect.stringMatching(/^[A-Z_]+$/), category: 'query', message: expect.any(String), line: 1, column: 1 });
    const later = await call('POST', '/queries', { sql: "SELECT frame FROM campus\nWHERE class = = 'car'" });
    expect(later.status).toBe(400);
    expect(later.json.error).toMatchObject({ line: 2 });

    const missing = await call('POST', '/videos', { path: join(tmp, 'no-such.mp4') });
    expect(missing.status).toBe(404);
    expect(missing.json.error).toMatchObject({ code: 'VIDEO_NOT_FOUND', message: expect.stringContaining('no-such.mp4') });
    const notVideo = await call('POST', '/videos', { path: join(tmp, 'service.duckdb') });
    expect(notVideo.status).toBe(422);
    expect(notVideo.json.error.code).toMatch(/^VIDEO_/);
    const missingBound = await call('POST', '/queries', { sql: CARS, videos: { campus: join(tmp, 'no-such.mp4') } });
    expect(missingBound.status).toBe(404);
    expect(missingBound.json.error).toMatchObject({ code: 'VIDEO_NOT_FOUND', message: expect.stringContaining('no-such.mp4') });

    const unknownVideo = await call('POST', '/queries', { sql: "SELECT frame FROM nowhere WHERE class = 'car'" });
    expect(unknownVideo.status).toBe(202); // parses; the binder rejects it when it runs
    const stream = await events(unknownVideo.json.id);
    expect(stream.at(-2)).toMatchObject({ event: 'error', data: { code: expect.stringMatching(/^[A-Z_]+$/), message: expect.stringContaining('nowhere') } });
    expect((await call('GET', `/queries/${unknownVideo.json.id}`)).json.status).toBe('error');

    expect(await call('POST', '/queries', '{not json')).toMatchObject({ status: 400, json: { error: { code: 'BAD_JSON' } } });
    expect(await call('POST', '/queries', { videos: {} })).toMatchObject({ status: 400, json: { error: { code: 'BAD_REQUEST' } } });
    const huge = await call('POST', '/queries', { sql: `SELECT frame FROM campus -- ${'x'.repeat(1_100_000)}` });
    expect(huge).toMatchObject({ status: 413, json: { error: { code: 'BODY_TOO_LARGE' } } });
    expect(await call('GET', '/queries/999')).toMatchObject({ status: 404, json: { error: { code: 'QUERY_NOT_FOUND' } } });
    expect((await call('GET', '/queries/999/events')).status).toBe(404);
    expect((await call('PUT', '/videos')).status).toBe(405);
    expect((await call('GET', '/nothing')).status).toBe(404);
  });

  it('leaves a catalog that holds every finished run and answers the same after the service closes', async () => {
    const finished = [];
    for (let id = 1; ; id++) {
      const job = await call('GET', `/queries/${id}`);
      if (job.status === 404) break;
      if (job.json.status === 'done') finished.push(job.json);
    }
    expect(finished.length).toBe(4); // queries 1, 2, 3 and 6 (4 and 5 were cancelled, 7 failed)
    await service!.close();
    service = undefined;
    const engine = await openEngine({ catalog: join(tmp, 'service.duckdb') });
    try {
      expect((await engine.listVideos()).map((v) => v.name)).toEqual(['campus']);
      const runs = await engine.runs(50);
      for (const job of finished) expect(runs.find((r) => r.id === job.runId)).toMatchObject({ status: 'ok', query: job.sql });
      const again = await engine.query(PERSONS);
      expect(again.value).toBe(finished[0].result.value);
      expect(again.stats.referenceCalls).toBe(0); // its labels were stored by the service's runs
    } finally {
      await engine.close();
    }
  });
});
