/**
 * The other live inputs the watch reads, each fed by a real ffmpeg in real time from the shared
 * clip (see `live-fixture.ts`), for each ffmpeg build: MJPEG over HTTP (`multipart/x-mixed-replace`,
 * as IP cameras serve it), HLS (a playlist and segments written as they come, served over HTTP by
 * a small static server), and a file still being written (`follow`). Each must deliver the clip's
 * frames in order, on the stream's clock, at about its rate. A pipe (`--video cam=-`) is tested
 * through the command: ffmpeg's MPEG-TS on the watch's stdin, FCOUNT per window equal to the
 * offline exact answer (the reference decides every frame).
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, normalize } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readStream, type StreamEvent, type StreamFrame } from '../../src/live/stream-reader.js';
import type { WatchEvent, WindowEvent } from '../../src/live/watch.js';
import { locateFfmpeg } from '../../src/video/ffmpeg-locator.js';
import type { FfmpegBackend } from '../helpers.js';
import { SIEVE } from '../cli/run-sieve.js';
import { backends, bundled, clip, exited, FPS, freePort, offline, servers, setUpLive, tearDownLive, tmp } from './live-fixture.js';

/** Seconds of the clip each input sends. */
const SEND = 5;

beforeAll(setUpLive, 120_000);
afterAll(tearDownLive);

/** ffmpeg sending the first SEND s of the clip in real time with `output` arguments. */
function send(backend: FfmpegBackend, output: string[]) {
  const child = spawn(backend.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-re', '-t', String(SEND), '-i', clip, ...output], { stdio: 'ignore' });
  servers.push(child);
  return child;
}

/** Reads `input` until `stop` says so (or 60 s pass); frames and events in order. */
async function read(backend: FfmpegBackend, input: string, options: { follow?: boolean }, stop: (frames: StreamFrame[], e: StreamFrame | StreamEvent) => boolean) {
  const bins = locateFfmpeg({ ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath });
  const ac = new AbortController();
  const guard = setTimeout(() => ac.abort(), 60_000);
  const frames: StreamFrame[] = [];
  const events: StreamEvent[] = [];
  try {
    for await (const e of readStream(input, { bins, backlog: 10_000, stallSeconds: 3, signal: ac.signal, ...options })) {
      if (e.type === 'frame') frames.push(e);
      else events.push(e);
      if (stop(frames, e)) break;
    }
  } catch (error) {
    if (!ac.signal.aborted) throw error;
  } finally {
    clearTimeout(guard);
  }
  return { frames, events };
}

/** The clip's frames, in order, on its clock, arriving at about real time. */
function expectTheClip(frames: readonly StreamFrame[], realTime = true) {
  expect(frames.length).toBeGreaterThanOrEqual(SEND * FPS - 2);
  expect(frames.length).toBeLessThanOrEqual(SEND * FPS);
  for (let i = 1; i < frames.length; i++) {
    expect(frames[i]!.time).toBeGreaterThan(frames[i - 1]!.time);
    expect(frames[i]!.frame - frames[i - 1]!.frame).toBe(1);
  }
  expect(frames[0]).toMatchObject({ width: 768, height: 432 });
  expect(frames[0]!.rgb.length).toBe(768 * 432 * 3);
  if (!realTime) return;
  // Real time: the frames took about as long to arrive as they last (not all at once).
  const spread = (frames[frames.length - 1]!.arrivedAt - frames[0]!.arrivedAt) / 1000;
  expect(spread).toBeGreaterThan((frames.length / FPS) * 0.5);
}

/** A static file server for a directory (HLS over HTTP). */
async function serveDirectory(dir: string): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = normalize(join(dir, decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    if (!path.startsWith(dir) || !existsSync(path)) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': path.endsWith('.m3u8') ? 'application/vnd.apple.mpegurl' : 'video/mp2t', 'cache-control': 'no-cache' });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

describe.each(backends)('live inputs with the $name ffmpeg', (backend) => {
  it('MJPEG over HTTP (multipart/x-mixed-replace, as IP cameras serve it)', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/cam.mjpg`;
    const server = send(backend, ['-c:v', 'mjpeg', '-q:v', '5', '-f', 'mpjpeg', '-listen', '1', url]);
    await new Promise((r) => setTimeout(r, 300));
    const { frames, events } = await read(backend, url, {}, (_, e) => e.type === 'dropped');
    expect(events[0]).toMatchObject({ type: 'connected', width: 768, height: 432 });
    // MJPEG carries no timestamps: frames are numbered in arrival order, on a clock at the rate ffmpeg assumes.
    expectTheClip(frames);
    await exited(server);
  }, 120_000);

  it('HLS over HTTP: a playlist whose segments are written as they come', async () => {
    const dir = join(tmp, `hls-${backend.name}`);
    mkdirSync(dir, { recursive: true });
    const writer = send(backend, ['-c', 'copy', '-f', 'hls', '-hls_time', '1', '-hls_list_size', '0', '-hls_flags', 'independent_segments', join(dir, 'live.m3u8')]);
    const { server, port } = await serveDirectory(dir);
    try {
      // A player joins once the first segment is listed.
      const deadline = Date.now() + 20_000;
      while (!existsSync(join(dir, 'live.m3u8')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      const { frames, events } = await read(backend, `http://127.0.0.1:${port}/live.m3u8`, {}, (f, e) => e.type === 'dropped' || f.length >= SEND * FPS);
      expect(events[0]).toMatchObject({ type: 'connected', width: 768, height: 432, fps: FPS });
      // The live playlist is read from its start (list size 0 keeps every segment); the segments
      // already listed when the reader joins come at once (as a player catches up), so no pace check.
      expectTheClip(frames, false);
      expect(frames[0]!.time).toBeLessThan(0.5);
    } finally {
      server.close();
      await exited(writer);
    }
  }, 120_000);

  it('a file still being written (follow), read on as it grows', async () => {
    const file = join(tmp, `growing-${backend.name}.ts`);
    const writer = send(backend, ['-c', 'copy', '-f', 'mpegts', '-flush_packets', '1', file]);
    const deadline = Date.now() + 10_000;
    while (!existsSync(file) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const { frames } = await read(backend, file, { follow: true }, (f, e) => e.type === 'dropped' || f.length >= SEND * FPS);
    expectTheClip(frames);
    // It waited for the writer: the last frame came about SEND s after the start, not at once.
    expect((frames[frames.length - 1]!.arrivedAt - started) / 1000).toBeGreaterThan(SEND * 0.6);
    await exited(writer);
  }, 120_000);
});

describe('sieve watch on a pipe (--video cam=-)', () => {
  it('reads MPEG-TS from stdin to its end; FCOUNT per window is the offline exact answer', async () => {
    const truth = await offline(bundled);
    // ffmpeg writes the whole clip as fast as it can; the watch offers every frame to the reference (--backlog).
    const feeder = spawn(bundled.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-i', clip, '-c', 'copy', '-f', 'mpegts', 'pipe:1'], { stdio: ['ignore', 'pipe', 'ignore'] });
    const watcher = spawn(process.execPath, [SIEVE, 'watch', "SELECT FCOUNT(*) FROM cam WHERE class = 'person'", '--video', 'cam=-', '--window', '4s', '--backlog', '100000', '--no-cascade', '--catalog', join(tmp, 'pipe.duckdb')], { stdio: ['pipe', 'pipe', 'pipe'] });
    feeder.stdout.pipe(watcher.stdin);
    let stdout = '';
    let stderr = '';
    watcher.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    watcher.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await new Promise<number | null>((resolve) => watcher.once('exit', resolve));
    expect(code, stderr).toBe(0);
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as WatchEvent);
    const windows = events.filter((e): e is WindowEvent => e.type === 'window');
    expect(windows.length).toBeGreaterThanOrEqual(3);
    // The clip is 12 s at 10 fps, so every 4-s window is whole: its value is the exact mean count per frame.
    for (const w of windows) {
      const frames = Array.from({ length: 4 * FPS }, (_, k) => Math.round(w.start * FPS) + k);
      expect(w).toMatchObject({ frames: frames.length, processed: frames.length, skipped: 0 });
      expect(w.interval).toBeUndefined();
      const mean = frames.reduce((a, f) => a + (truth.counts.get(f) ?? 0), 0) / frames.length;
      expect(w.value).toBeCloseTo(mean, 9);
    }
    expect(windows.map((w) => w.start)).toEqual([0, 4, 8]);
    expect(events[events.length - 1]).toMatchObject({ type: 'end', processed: 3 * 4 * FPS, skipped: 0 });
  }, 180_000);
});
