#!/usr/bin/env node
/**
 * Sieve inside a web service: register videos, submit FrameQL queries (a job id comes back at
 * once), follow a query's progress as server-sent events, fetch its result and its HTML report.
 * `node:http` only. One engine and one catalog; jobs run one at a time in submission order
 * (DuckDB takes one writer per file, and the engine runs one query at a time on its catalog), so
 * any number of clients can submit at once without corrupting the catalog.
 *
 *   node examples/service/server.mjs --catalog service.duckdb --port 8080
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { openEngine, parseQuery, SieveError } from '../../dist/src/index.js';

/** Largest request body accepted. */
const MAX_BODY = 1 << 20;
/** Least time between two progress events of one phase, per job. */
const PROGRESS_EVERY_MS = 200;

/** HTTP status for a library error: bad requests 400, unknown things 404, broken files 422, stops 409. */
export function statusFor(error) {
  if (!(error instanceof SieveError)) return 500;
  if (/NOT_FOUND|MISSING|UNKNOWN_VIDEO/.test(error.code)) return 404;
  switch (error.category) {
    case 'query':
      return 400;
    case 'input':
    case 'model':
      return 422;
    case 'interrupted':
      return 409;
    default:
      return 500;
  }
}

function errorBody(error) {
  if (error instanceof SieveError) return { error: error.toJSON() };
  return { error: { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) } };
}

function send(res, status, body) {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

async function readJson(req) {
  let size = 0;
  const chunks = [];
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY) throw Object.assign(new Error(`request body over ${MAX_BODY} bytes`), { status: 413, code: 'BODY_TOO_LARGE' });
    chunks.push(chunk);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch (e) {
    throw Object.assign(new Error(`the body is not JSON: ${e.message}`), { status: 400, code: 'BAD_JSON' });
  }
}

/** One submitted query and everything its followers need. */
class Job {
  constructor(id, sql, videos) {
    this.id = id;
    this.sql = sql;
    this.videos = videos;
    this.status = 'queued';
    this.events = []; // every event so far: a late follower replays them
    this.followers = new Set();
    this.controller = new AbortController();
    this.lastProgress = new Map();
  }

  emit(event, data) {
    const item = { event, data };
    this.events.push(item);
    for (const res of this.followers) writeEvent(res, item);
    if (event === 'end') for (const res of this.followers) res.end();
  }

  progress(p) {
    const now = Date.now();
    if (p.done < p.total && now - (this.lastProgress.get(p.phase) ?? 0) < PROGRESS_EVERY_MS) return;
    this.lastProgress.set(p.phase, now);
    this.emit('progress', p);
  }

  view() {
    return { id: this.id, status: this.status, sql: this.sql, ...(this.runId !== undefined ? { runId: this.runId } : {}), ...(this.result ? { result: this.result } : {}), ...(this.error ? { error: this.error } : {}) };
  }
}

function writeEvent(res, { event, data }) {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

/** Starts the service; resolves to its URL and a `close()` that stops it and the engine. */
export async function startService({ port = 0, host = '127.0.0.1', catalog, engineOptions = {} } = {}) {
  const engine = await openEngine({ ...engineOptions, ...(catalog ? { catalog } : {}) });
  const jobs = new Map();
  const queue = [];
  let nextId = 1;
  let running = null;
  // The catalog's one writer: queries and video registrations go through this chain in order.
  let chain = Promise.resolve();
  const serialized = (fn) => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };

  async function runJob(job) {
    if (job.status === 'cancelled') return;
    running = job;
    job.status = 'running';
    job.emit('status', { status: 'running' });
    try {
      const result = await engine.query(job.sql, { videos: job.videos, signal: job.controller.signal, onProgress: (p) => job.progress(p) });
      job.status = 'done';
      job.result = result;
      job.runId = result.runId;
      job.emit('result', result);
    } catch (error) {
      job.status = error instanceof SieveError && error.category === 'interrupted' ? 'cancelled' : 'error';
      job.error = errorBody(error).error;
      job.emit('error', job.error);
    } finally {
      running = null;
      queue.splice(queue.indexOf(job), 1);
      job.emit('end', { status: job.status });
    }
  }

  const routes = [
    ['POST', /^\/videos$/, async (req, res) => {
      const body = await readJson(req);
      if (typeof body.path !== 'string') return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'give {"path": "<video file>", "name": "<optional name>"}' } });
      const video = await serialized(() => engine.addVideo(body.path, typeof body.name === 'string' ? body.name : undefined));
      send(res, 201, video);
    }],
    ['GET', /^\/videos$/, async (_req, res) => send(res, 200, await serialized(() => engine.listVideos()))],
    ['POST', /^\/queries$/, async (req, res) => {
      const body = await readJson(req);
      if (typeof body.sql !== 'string') return send(res, 400, { error: { code: 'BAD_REQUEST', message: 'give {"sql": "<FrameQL query>", "videos": {"name": "<path>"}}' } });
      parseQuery(body.sql); // a malformed query is answered now, with its line and column
      const job = new Job(String(nextId++), body.sql, body.videos ?? {});
      jobs.set(job.id, job);
      queue.push(job);
      job.emit('status', { status: 'queued', position: queue.length - 1 });
      void serialized(() => runJob(job));
      send(res, 202, { id: job.id, status: job.status, position: queue.indexOf(job), links: { self: `/queries/${job.id}`, events: `/queries/${job.id}/events`, report: `/queries/${job.id}/report` } });
    }],
    ['GET', /^\/queries\/([^/]+)$/, async (_req, res, job) => send(res, 200, { ...job.view(), ...(job.status === 'queued' ? { position: queue.indexOf(job) } : {}) })],
    ['GET', /^\/queries\/([^/]+)\/events$/, async (_req, res, job) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
      for (const item of job.events) writeEvent(res, item);
      if (job.events.some((e) => e.event === 'end')) return res.end();
      job.followers.add(res);
      res.on('close', () => job.followers.delete(res));
    }],
    ['GET', /^\/queries\/([^/]+)\/report$/, async (_req, res, job) => {
      if (job.status !== 'done') return send(res, 409, { error: { code: 'NOT_FINISHED', message: `query ${job.id} is ${job.status}; its report exists once it is done` } });
      const html = await serialized(() => engine.report(job.runId));
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) });
      res.end(html);
    }],
    ['DELETE', /^\/queries\/([^/]+)$/, async (_req, res, job) => {
      if (job.status === 'queued') {
        job.status = 'cancelled';
        queue.splice(queue.indexOf(job), 1);
        job.emit('end', { status: 'cancelled' });
      } else if (job === running) {
        job.controller.abort();
      }
      send(res, 202, job.view());
    }],
  ];

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://service');
      for (const [method, pattern, handler] of routes) {
        const m = pattern.exec(url.pathname);
        if (!m || req.method !== method) continue;
        if (m[1] !== undefined) {
          const job = jobs.get(m[1]);
          if (!job) return send(res, 404, { error: { code: 'QUERY_NOT_FOUND', message: `no query ${m[1]}` } });
          return await handler(req, res, job);
        }
        return await handler(req, res);
      }
      send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` } });
    } catch (error) {
      if (res.headersSent) return res.end();
      if (error && error.status) return send(res, error.status, { error: { code: error.code, message: error.message } });
      send(res, statusFor(error), errorBody(error));
    }
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const address = server.address();
  return {
    url: `http://${host}:${address.port}`,
    async close() {
      for (const job of jobs.values()) job.controller.abort();
      await chain;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await engine.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { catalog: { type: 'string', default: 'service.duckdb' }, port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' } } });
  const service = await startService({ catalog: values.catalog, port: Number(values.port), host: values.host });
  process.stdout.write(`sieve service on ${service.url} (catalog ${values.catalog})\n`);
  const stop = () => void service.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
