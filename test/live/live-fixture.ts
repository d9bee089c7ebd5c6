/**
 * What the live-video tests share: a 12-s clip of the one-person camera re-encoded once with a 1-s
 * GOP as a camera sends it (a receiver that joins late waits at most one GOP), ffmpeg serving it
 * over loopback in real time, the offline exact answer on it, and a watch that collects events.
 * Each test file calls {@link setUpLive} and {@link tearDownLive} (module state is per file).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { openEngine, type Engine } from '../../src/engine.js';
import type { WatchEvent } from '../../src/live/watch.js';
import { ffmpegBackends, video, type FfmpegBackend } from '../helpers.js';
import { ensureBuilt } from '../cli/run-sieve.js';

/** Seconds 15-27 of the source: a person walks in, out, back (three intervals). */
export const FROM = 15;
export const SECONDS = 12;
export const FPS = 10;
/** Seconds of the clip a camera pushes over RTSP. */
export const RTSP_SECONDS = 6;
export const backends = ffmpegBackends();
export const bundled = backends[0]!;
export let tmp: string;
export let clip: string;
export const servers: ChildProcess[] = [];

/** A free TCP/UDP port on loopback. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** ffmpeg sending `args`' input in real time to `url` as MPEG-TS (stream clock from 0). */
export function serve(input: string[], url: string, extra: string[] = []): ChildProcess {
  const child = spawn(bundled.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-re', ...input, '-c', 'copy', '-muxdelay', '0', '-muxpreload', '0', ...extra, '-f', 'mpegts', url], { stdio: 'ignore' });
  servers.push(child);
  return child;
}

/** The first 30 s of the camera at the clip's size and rate, encoded once. */
export function firstThirty(): string {
  const first = join(tmp, 'first.mp4');
  if (existsSync(first)) return first;
  const made = spawnSync(bundled.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-t', '30', '-i', video('intel_one_by_one_person.mp4'), '-vf', `fps=${FPS},scale=768:432,setsar=1`, '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(FPS), '-bf', '0', '-pix_fmt', 'yuv420p', first]);
  expect(made.status, String(made.stderr)).toBe(0);
  return first;
}

export const exited = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));

/** Runs of consecutive frames. */
export function runsOf(frames: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const f of frames) {
    const last = out[out.length - 1];
    if (last && f === last[1] + 1) last[1] = f;
    else out.push([f, f]);
  }
  return out;
}

const offlineAnswers = new Map<string, Promise<{ frames: number[]; counts: Map<number, number> }>>();

/** The offline answer on the same file with the same ffmpeg build: frames with a person, and objects per frame (once per build). */
export function offline(backend: FfmpegBackend): Promise<{ frames: number[]; counts: Map<number, number> }> {
  if (!offlineAnswers.has(backend.name)) offlineAnswers.set(backend.name, offlineNow(backend));
  return offlineAnswers.get(backend.name)!;
}

async function offlineNow(backend: FfmpegBackend): Promise<{ frames: number[]; counts: Map<number, number> }> {
  const engine = await openEngine({ catalog: join(tmp, `truth-${backend.name}.duckdb`), ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath });
  try {
    const rows = await engine.query("SELECT frame FROM cam WHERE class = 'person'", { videos: { cam: clip }, exact: true });
    const counts = new Map<number, number>();
    for (const r of (await engine.query("SELECT * FROM cam WHERE class = 'person'", { videos: { cam: clip }, exact: true })).rows) counts.set(Number(r['frame']), (counts.get(Number(r['frame'])) ?? 0) + 1);
    return { frames: rows.rows.map((r) => Number(r['frame'])), counts };
  } finally {
    await engine.close();
  }
}

/** Watches until `stop(event, events)` says so; returns every event. */
export async function watch(engine: Engine, sql: string, url: string, stop: (e: WatchEvent, all: WatchEvent[]) => boolean, extra: Record<string, unknown> = {}): Promise<WatchEvent[]> {
  const ac = new AbortController();
  const events: WatchEvent[] = [];
  const guard = setTimeout(() => ac.abort(), 240_000);
  try {
    for await (const e of engine.watch(sql, { streams: { cam: url }, signal: ac.signal, backlog: 10_000, stallSeconds: 3, statusEvery: 2, ...extra })) {
      events.push(e);
      if (stop(e, events)) ac.abort();
    }
  } finally {
    clearTimeout(guard);
  }
  return events;
}

/** Encodes the clip (and builds the CLI the tests run). */
export async function setUpLive(): Promise<void> {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-watch-'));
  clip = join(tmp, 'cam.mp4');
  const encoded = spawnSync(bundled.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-ss', String(FROM), '-i', video('intel_one_by_one_person.mp4'), '-t', String(SECONDS), '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(FPS), '-bf', '0', '-pix_fmt', 'yuv420p', clip]);
  expect(encoded.status, String(encoded.stderr)).toBe(0);
}

/** Stops every server and removes the files. */
export function tearDownLive(): void {
  for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
}
