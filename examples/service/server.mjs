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
import { realpathSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { openEngine, parseQuery, SieveError } from '../../dist/src/index.js';

/** Largest request body accepted. */
const MAX_BODY = 1 << 20;
/** Least time between two progress events of one phase, per job. */
const PROGRESS_EVERY_MS = 200;

/** Codes naming something the client asked for that does not exist. */
const NOT_FOUND_CODES = new Set(['VIDEO_NOT_FOUND', 'UNKNOWN_VIDEO', 'RUN_NOT_FOUND']);
/** Codes of the server's own set-up (its ffmpeg), which no request can fix. */
const SERVER_CODES = new Set(['FFMPEG_NOT_FOUND']);

/**
 * HTTP status for a library error: a video or run that does not exist 404; any other query error
 * 400; a file that is there but is no readable video 422; an interrupted run 409; the server's
 * model, ffmpeg or catalog failing, or anything unexpected, 500.
 */
export function statusFor(error) {
  if (!(error instanceof SieveError)) return 500;
  if (NOT_FOUND_CODES.has(error.code)) return 404;
  if (SERVER_CODES.has(error.code)) return 500;
  switch (error.category) {
    case 'query':
      return 400;
    case 'input':
      return 422;
    case 'interrupted':
      return 409;
    default: // 'model' (the server's reference model), 'storage', 'runtime'
      return 500;
  }
}

/** A request error made by the service itself (not the library): `{ error: { code, message } }`. */
function requestError(status, code, message, details = {}) {
  return Object.assign(new Error(message), { status, code, details });
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
    if (size > MAX_BODY) {
      // Stop reading; the answer goes out at once and the connection closes after it.
      req.pause();
      throw requestError(413, 'BODY_TOO_LARGE', `the request body is over ${MAX_BODY} bytes`, { limit: MAX_BODY });
    }
    chunks.push(chunk);
  }
  let body;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
  } catch (e) {
    throw requestError(400, 'BAD_JSON', `the body is not JSON: ${e.message}`);
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw requestError(400, 'BAD_JSON', 'the body must be a JSON object');
  return body;
}

/**
 * The `videos` of a query submission: an object of name -> file path, each file present (so that
 * a missing file is a 404 now rather than an `error` event later; the code is the library's).
 */
function checkVideos(videos) {
  if (videos === undefined) return {};
  if (videos === null || typeof videos !== 'object' || Array.isArray(videos) || !Object.values(videos).every((p) => typeof p === 'string')) {
    throw requestError(400, 'BAD_REQUEST', '"videos" must be an object of name -> video file path');
  }
  for (const path of Object.values(videos)) {
    let file = false;
    try {
      file = statSync(path).isFile();
    } catch {
      // reported below
    }
    if (!file) throw requestError(404, 'VIDEO_NOT_FOUND', `video file not found: ${resolve(path)}`, { path });
  }
  return videos;
}

/** One submitted query and everything its followers need. */
class Job {
  constructor(id, sql, options) {
    this.id = id;
    this.sql = sql;
    this.options = options;
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
  // The catalog's one writer: queries and video registrations go through this chain in order.
  let chain = Promise.resolve();
  const serialized = (fn) => {
    const p = chain.then(fn, fn);
    chain = p.catch(() => undefined);
    return p;
  };

  const position = (job) => queue.indexOf(job); // jobs ahead of it, the running one included
  const dequeue = (job) => {
    const i = queue.indexOf(job);
    if (i >= 0) queue.splice(i, 1);
  };

  /** Stops a job: a queued one never starts; a running one stops at its next batch. */
  function cancel(job) {
    if (job.status === 'queued') {
      job.status = 'cancelled';
      dequeue(job);
      job.controller.abort();
      job.emit('status', { status: 'cancelled', at: Date.now() });
      job.emit('end', { status: 'cancelled', at: Date.now() });
    } else if (job.status === 'running') {
      job.controller.abort();
    }
  }

  async function runJob(job) {
    if (job.status !== 'queued') return;
    job.status = 'running';
    job.emit('status', { status: 'running', at: Date.now() });
    try {
      const result = await engine.query(job.sql, { ...job.options, signal: job.controller.signal, onProgress: (p) => job.progress(p) });
      job.status = 'done';
      job.result = result;
      job.runId = result.runId;
      job.emit('result', result);
    } catch (error) {
      job.status = error instanceof SieveError && error.category === 'interrupted' ? 'cancelled' : 'error';
      job.error = errorBody(error).error;
      job.emit('error', job.error);
    } finally {
      dequeue(job);
      job.emit('end', { status: job.status, at: Date.now() });
    }
  }

  const routes = [
    ['POST', /^\/videos$/, async (req, res) => {
      const body = await readJson(req);
      if (typeof body.path !== 'string' || (body.name !== undefined && typeof body.name !== 'string')) throw requestError(400, 'BAD_REQUEST', 'give {"path": "<video file>", "name": "<optional name>"}');
      const video = await serialized(() => engine.addVideo(body.path, body.name));
      send(res, 201, video);
    }],
    ['GET', /^\/videos$/, async (_req, res) => send(res, 200, await serialized(() => engine.listVideos()))],
    ['POST', /^\/queries$/, async (req, res) => {
      const body = await readJson(req);
      if (typeof body.sql !== 'string') throw requestError(400, 'BAD_REQUEST', 'give {"sql": "<FrameQL query>", "videos": {"<name>": "<path>"}, "exact": false}');
      if (body.exact !== undefined && typeof body.exact !== 'boolean') throw requestError(400, 'BAD_REQUEST', '"exact" must be true or false');
      parseQuery(body.sql); // a malformed query is answered now (QueryError: 400 with its code, line and column)
      const videos = checkVideos(body.videos);
      const job = new Job(String(nextId++), body.sql, { videos, ...(body.exact ? { exact: true } : {}) });
      jobs.set(job.id, job);
      queue.push(job);
      job.emit('status', { status: 'queued', position: position(job), at: Date.now() });
      void serialized(() => runJob(job));
      send(res, 202, { id: job.id, status: job.status, position: position(job), links: { self: `/queries/${job.id}`, events: `/queries/${job.id}/events`, report: `/queries/${job.id}/report` } });
    }],
    ['GET', /^\/queries\/([^/]+)$/, async (_req, res, job) => send(res, 200, { ...job.view(), ...(job.status === 'queued' ? { position: position(job) } : {}) })],
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
      if (job.status !== 'queued' && job.status !== 'running') throw requestError(409, 'QUERY_FINISHED', `query ${job.id} is ${job.status} already`);
      cancel(job);
      // A queued job is cancelled now; a running one reports 'cancelled' when it has stopped.
      send(res, 202, job.view());
    }],
  ];

  const server = createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://service');
      const allowed = [];
      for (const [method, pattern, handler] of routes) {
        const m = pattern.exec(url.pathname);
        if (!m) continue;
        if (req.method !== method) {
          allowed.push(method);
          continue;
        }
        if (m[1] !== undefined) {
          const job = jobs.get(m[1]);
          if (!job) return send(res, 404, { error: { code: 'QUERY_NOT_FOUND', message: `no query ${m[1]}` } });
          return await handler(req, res, job);
        }
        return await handler(req, res);
      }
      if (allowed.length > 0) {
        res.setHeader('allow', allowed.join(', '));
        return send(res, 405, { error: { code: 'METHOD_NOT_ALLOWED', message: `${req.method} ${url.pathname}: use ${allowed.join(' or ')}` } });
      }
      send(res, 404, { error: { code: 'NOT_FOUND', message: `no route ${req.method} ${url.pathname}` } });
    } catch (error) {
      if (res.headersSent) return res.end();
      if (error && error.status) {
        if (error.status === 413) res.setHeader('connection', 'close');
        return send(res, error.status, { error: { code: error.code, message: error.message, ...error.details } });
      }
      send(res, statusFor(error), errorBody(error));
    }
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  const address = server.address();
  return {
    url: `http://${host}:${address.port}`,
    async close() {
      for (const job of jobs.values()) cancel(job);
      await chain;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await engine.close();
    },
  };
}

const runDirectly = (() => {
  try {
    return process.argv[1] !== undefined && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
  } catch {
    return false;
  }
})();

if (runDirectly) {
  const { values } = parseArgs({ options: { catalog: { type: 'string', default: 'service.duckdb' }, port: { type: 'string', default: '8080' }, host: { type: 'string', default: '127.0.0.1' } } });
  const service = await startService({ catalog: values.catalog, port: Number(values.port), host: values.host });
  process.stdout.write(`sieve service on ${service.url} (catalog ${values.catalog})\n`);
  const stop = () => void service.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
