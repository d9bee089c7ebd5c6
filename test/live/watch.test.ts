/**
 * Continuous queries on a real clip served live by a real ffmpeg over loopback, in real time
 * (`-re`; see `live-fixture.ts`): over HTTP (ffmpeg's listen mode) the watch must emit the
 * intervals the offline query finds on the same file, for each ffmpeg build; over RTSP, a camera
 * pushing to a listening watch (ffmpeg's RTSP listen mode, the only RTSP server here) must get
 * them too; over UDP MPEG-TS a stream that stops and comes back must be reported and reconnected,
 * with windows answered on both sides of the drop; `sieve watch` with LIMIT must stop by itself
 * after k verified frames. The cascade on a stream is tested in `watch-cascade.test.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/engine.js';
import type { IntervalEvent, WatchEvent, WindowEvent } from '../../src/live/watch.js';
import { runSieve } from '../cli/run-sieve.js';
import { backends, bundled, clip, exited, FPS, freePort, offline, RTSP_SECONDS, runsOf, SECONDS, serve, servers, setUpLive, tearDownLive, tmp, watch } from './live-fixture.js';

beforeAll(setUpLive, 120_000);
afterAll(tearDownLive);

describe.each(backends)('sieve watch over HTTP with the $name ffmpeg', (backend) => {
  it('emits the intervals the offline query finds on the same clip', async () => {
    const truth = await offline(backend);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/live.ts`;
    // ffmpeg's HTTP listen mode sends from the start of the file once a client connects.
    serve(['-i', clip], url, ['-listen', '1']);
    await new Promise((r) => setTimeout(r, 300));
    const engine = await openEngine({ catalog: join(tmp, `watch-${backend.name}.duckdb`), ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath });
    let events: WatchEvent[];
    try {
      // The reference decides every frame (no cascade), so the answer must be the offline one exactly.
      events = await watch(engine, "SELECT timestamp FROM cam WHERE class = 'person'", url, (e) => e.type === 'dropped', { cascade: false });
    } finally {
      await engine.close();
    }
    const intervals = events.filter((e): e is IntervalEvent => e.type === 'interval');
    const status = events.filter((e) => e.type === 'status');
    const end = events[events.length - 1]!;
    expect(end).toMatchObject({ type: 'end', reason: 'stopped', skipped: 0 });
    expect(events[0]).toMatchObject({ type: 'connected', width: 768, height: 432, fps: FPS });
    // Every frame of the clip was decided (a listen-mode server waits for its client).
    expect((end as { processed: number }).processed).toBe(SECONDS * FPS);
    expect(intervals.map((i) => [i.startFrame, i.endFrame])).toEqual(runsOf(truth.frames));
    for (const i of intervals) {
      expect(i.skipped).toBe(0);
      expect(i.byReference).toBe(i.processed);
      expect(i.start).toBeCloseTo(i.startFrame / FPS, 6);
      expect(Date.parse(i.endedAt)).toBeGreaterThanOrEqual(Date.parse(i.startedAt));
    }
    expect(status.length).toBeGreaterThan(0);
    // Real time: frames arrive at about the clip's rate.
    const rates = status.map((s) => (s as { inputFps: number }).inputFps);
    expect(Math.max(...rates)).toBeLessThan(FPS * 3);
  }, 300_000);

  it('over RTSP, a camera pushing to the listening watch (--listen) gets the offline intervals', async () => {
    const truth = await offline(backend);
    const port = await freePort();
    const url = `rtsp://127.0.0.1:${port}/live`;
    const engine = await openEngine({ catalog: join(tmp, `rtsp-${backend.name}.duckdb`), ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath });
    let pushing = true;
    // The camera: RTSP ANNOUNCE/RECORD over TCP, retried until the watch listens.
    const push = (async () => {
      while (pushing) {
        const camera = spawn(backend.ffmpegPath, ['-hide_banner', '-loglevel', 'error', '-re', '-t', String(RTSP_SECONDS), '-i', clip, '-c', 'copy', '-f', 'rtsp', '-rtsp_transport', 'tcp', url], { stdio: 'ignore' });
        servers.push(camera);
        await exited(camera);
        if (camera.exitCode === 0) return;
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    let events: WatchEvent[];
    try {
      events = await watch(engine, "SELECT timestamp FROM cam WHERE class = 'person'", url, (e) => e.type === 'dropped', { cascade: false, listen: true });
    } finally {
      pushing = false;
      await engine.close();
      await push;
    }
    expect(events[0]).toMatchObject({ type: 'connected', width: 768, height: 432, fps: FPS });
    const end = events[events.length - 1]!;
    expect(end).toMatchObject({ type: 'end', reason: 'stopped', skipped: 0, processed: RTSP_SECONDS * FPS });
    const intervals = events.filter((e): e is IntervalEvent => e.type === 'interval');
    expect(intervals.map((i) => [i.startFrame, i.endFrame])).toEqual(runsOf(truth.frames.filter((f) => f < RTSP_SECONDS * FPS)));
    for (const i of intervals) expect(i.processed).toBe(i.frames);
  }, 300_000);
});

describe('a UDP stream that drops and comes back', () => {
  it('is reported, reconnected, and answered per window on both sides of the drop', async () => {
    const truth = await offline(bundled);
    const port = await freePort();
    const url = `udp://127.0.0.1:${port}`;
    const engine = await openEngine({ catalog: join(tmp, 'udp.duckdb') });
    const window = 2;
    let second: ChildProcess | undefined;
    // The camera restarts: its second run sends the clip again with its clock from 0.
    const events = watch(engine, "SELECT FCOUNT(*) FROM cam WHERE class = 'person'", url, (e, all) => {
      if (e.type === 'dropped' && !second) second = serve(['-t', '6', '-i', clip], `${url}?pkt_size=1316`);
      return e.type === 'dropped' && all.filter((x) => x.type === 'dropped').length >= 2;
    }, { window, cascade: false });
    try {
      await new Promise((r) => setTimeout(r, 2500)); // the receiver binds the port first (UDP has no handshake)
      await exited(serve(['-t', '6', '-i', clip], `${url}?pkt_size=1316`));
      const all = await events;
      const dropAt = all.findIndex((e) => e.type === 'dropped');
      expect(dropAt).toBeGreaterThan(0);
      expect(all[dropAt + 1]).toMatchObject({ type: 'reconnecting', attempt: 1 });
      const reconnected = all.findIndex((e, i) => i > dropAt && e.type === 'connected');
      expect(reconnected).toBeGreaterThan(dropAt);
      expect(all[reconnected]).toMatchObject({ attempt: expect.any(Number) as number });
      const before = all.slice(0, dropAt).filter((e): e is WindowEvent => e.type === 'window');
      const after = all.slice(reconnected).filter((e): e is WindowEvent => e.type === 'window');
      // Windows whose every frame was decided equal the offline mean count per frame.
      let compared = 0;
      for (const w of before) {
        const frames = Array.from({ length: window * FPS }, (_, k) => w.start * FPS + k);
        if (w.processed !== frames.length || w.skipped !== 0) continue;
        const mean = frames.reduce((a, f) => a + (truth.counts.get(f) ?? 0), 0) / frames.length;
        expect(w.value).toBeCloseTo(mean, 9);
        expect(w.interval).toBeUndefined();
        compared++;
      }
      expect(compared).toBeGreaterThanOrEqual(2);
      // The restarted source's clock goes on after the last frame before the drop.
      expect(after.length).toBeGreaterThan(0);
      expect(after[0]!.start).toBeGreaterThanOrEqual(before[before.length - 1]!.start);
      for (const w of after) expect(Number.isFinite(w.value)).toBe(true);
      expect(all[all.length - 1]).toMatchObject({ type: 'end', reconnects: expect.any(Number) as number });
      expect((all[all.length - 1] as { reconnects: number }).reconnects).toBeGreaterThanOrEqual(1);
    } finally {
      await engine.close();
    }
  }, 300_000);
});

describe('sieve watch (the command)', () => {
  it('LIMIT 3 GAP 20 prints three verified frames as JSON lines and stops by itself', async () => {
    const truth = new Set((await offline(bundled)).frames);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/live.ts`;
    serve(['-i', clip], url, ['-listen', '1']);
    await new Promise((r) => setTimeout(r, 300));
    const out = await runSieve(['watch', "SELECT timestamp FROM cam WHERE class = 'person' LIMIT 3 GAP 20", '--video', `cam=${url}`, '--catalog', join(tmp, 'cli.duckdb'), '--status-every', '1s']);
    expect(out.code, out.stderr).toBe(0);
    const events = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as WatchEvent);
    const frames = events.filter((e) => e.type === 'frame').map((e) => (e as { frame: number }).frame);
    expect(frames).toHaveLength(3);
    for (const f of frames) expect(truth.has(f)).toBe(true);
    expect(frames[1]! - frames[0]!).toBeGreaterThanOrEqual(20);
    expect(frames[2]! - frames[1]!).toBeGreaterThanOrEqual(20);
    expect(events[events.length - 1]).toMatchObject({ type: 'end', reason: 'LIMIT 3 reached' });
    expect(out.stderr).toMatch(/sieve: connected \(768x432, 10 fps\)/);
    expect(out.stderr).toMatch(/watch ended: LIMIT 3 reached/);
  }, 300_000);

  it('refuses what a stream cannot answer, with a coded error', async () => {
    const out = await runSieve(['watch', "SELECT timestamp FROM cam WHERE class = 'person' ORDER BY timestamp", '--video', 'cam=udp://127.0.0.1:9', '--catalog', join(tmp, 'cli.duckdb')]);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/ORDER BY needs the whole video.*\[UNSUPPORTED\]/);
  });
});
