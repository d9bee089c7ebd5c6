import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VideoError } from '../../src/errors.js';
import { decodeFrames, frameView, locateFfmpeg, probeVideo } from '../../src/video/index.js';
import { video } from '../helpers.js';

const bins = locateFfmpeg();

/** Timestamps as ffprobe's packet list reports them, sorted into presentation order. */
function packetTimes(path: string): number[] {
  const out = execFileSync(bins.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', path]).toString();
  return out.split('\n').filter(Boolean).map(Number).sort((a, b) => a - b);
}

/** One frame through a separate ffmpeg command line, the way a person would extract it. */
function ffmpegFrame(path: string, n: number, w: number, h: number): Buffer {
  return execFileSync(bins.ffmpeg, ['-v', 'error', '-i', path, '-vsync', '0', '-vf', `select=eq(n\\,${n}),scale=${w}:${h}:flags=area,format=rgb24`, '-frames:v', '1', '-f', 'rawvideo', '-']);
}

describe('probeVideo', () => {
  it.each([
    ['road_polecam.mp4', 640, 360, false],
    ['interstate_overpass.avi', 600, 360, false],
    ['street_window_cvtrafficcam.mp4', 640, 360, true],
  ])('%s: size, frame count, frame-rate kind', async (name, width, height, vfr) => {
    const info = await probeVideo(video(name));
    expect([info.width, info.height]).toEqual([width, height]);
    expect(info.variableFrameRate).toBe(vfr);
    expect(info.timestamps.length).toBe(info.frameCount);
    for (let i = 1; i < info.frameCount; i++) expect(info.timestamps[i]).toBeGreaterThan(info.timestamps[i - 1]!);
    // Every decoded frame's time is one of the container's packet times (AVI packets carry none).
    if (name.endsWith('.avi')) return;
    const packets = new Set(packetTimes(video(name)).map((t) => t.toFixed(3)));
    const start = Number(execFileSync(bins.ffprobe, ['-v', 'error', '-show_entries', 'format=start_time', '-of', 'csv=p=0', video(name)]).toString());
    const missing = [...info.timestamps].filter((t) => !packets.has((t + start).toFixed(3)));
    expect(missing).toEqual([]);
  });

  it('finds the real, variable frame rate of street_window (the header claims 25.25)', async () => {
    const info = await probeVideo(video('street_window_cvtrafficcam.mp4'));
    expect(info.headerFps).toBeCloseTo(25.25, 1);
    expect(info.fps).toBeGreaterThan(8);
    expect(info.fps).toBeLessThan(12);
  });

  it('rejects a missing file, a text file, an empty file and a truncated video with coded errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-video-'));
    writeFileSync(join(dir, 'notes.mp4'), 'this is not a video\n'.repeat(100));
    writeFileSync(join(dir, 'empty.mp4'), '');
    writeFileSync(join(dir, 'cut.mp4'), readFileSync(video('road_polecam.mp4')).subarray(0, 20_000));
    await expect(probeVideo(join(dir, 'nope.mp4'))).rejects.toMatchObject({ code: 'VIDEO_NOT_FOUND' });
    for (const f of ['notes.mp4', 'empty.mp4', 'cut.mp4']) {
      const error = await probeVideo(join(dir, f)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VideoError);
      expect((error as VideoError).code).toMatch(/^VIDEO_(INVALID|EMPTY)$/);
      expect((error as VideoError).message).toContain(f);
    }
  });
});

describe('decodeFrames', () => {
  it('decodes every frame of an AVI, with the probe timestamps, in bounded batches', async () => {
    const path = video('interstate_overpass.avi');
    const info = await probeVideo(path);
    let n = 0;
    for await (const batch of decodeFrames(path, { width: 32, height: 32, batchSize: 50 })) {
      expect(batch.count).toBeLessThanOrEqual(50);
      expect(batch.data.length).toBe(batch.count * 32 * 32 * 3);
      for (let i = 0; i < batch.count; i++) {
        expect(batch.frames[i]).toBe(n + i);
        expect(batch.timestamps[i]).toBeCloseTo(info.timestamps[n + i]!, 3);
      }
      n += batch.count;
    }
    expect(n).toBe(info.frameCount);
  });

  it('pushes range and step down and returns the same pixels as a separate ffmpeg call', async () => {
    const path = video('road_polecam.mp4');
    const got: { frame: number; pixels: Uint8Array }[] = [];
    for await (const b of decodeFrames(path, { width: 64, height: 36, range: { start: 300, end: 340, step: 13 } })) {
      for (let i = 0; i < b.count; i++) got.push({ frame: b.frames[i]!, pixels: frameView(b, i).slice() });
    }
    expect(got.map((g) => g.frame)).toEqual([300, 313, 326, 339]);
    for (const g of got) expect(Buffer.from(g.pixels).equals(ffmpegFrame(path, g.frame, 64, 36))).toBe(true);
  });

  it('decodes an explicit frame list on the variable-frame-rate clip, at its real timestamps', async () => {
    const path = video('street_window_cvtrafficcam.mp4');
    const info = await probeVideo(path);
    const wanted = [0, 1, 2, 3, 77, 500, info.frameCount - 1];
    const frames: number[] = [];
    for await (const b of decodeFrames(path, { width: 16, height: 16, frames: wanted })) {
      for (let i = 0; i < b.count; i++) {
        frames.push(b.frames[i]!);
        expect(b.timestamps[i]).toBeCloseTo(info.timestamps[b.frames[i]!]!, 3);
      }
    }
    expect(frames).toEqual(wanted);
    // A long list goes through a filter script file instead of the command line.
    const many = Array.from({ length: 360 }, (_, i) => i * 2 + 1);
    let count = 0;
    for await (const b of decodeFrames(path, { width: 8, height: 8, frames: many })) count += b.count;
    expect(count).toBe(many.length);
  });

  it('stops ffmpeg when the consumer stops early', async () => {
    let batches = 0;
    for await (const _ of decodeFrames(video('shopfront_cctv.mp4'), { width: 32, height: 32, batchSize: 8 })) {
      if (++batches === 2) break;
    }
    expect(batches).toBe(2);
  });

  it('reports a truncated video mid-stream as a decode error or a short read, never silently fewer frames', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sieve-video-'));
    const cut = join(dir, 'cut.avi');
    writeFileSync(cut, readFileSync(video('interstate_overpass.avi')).subarray(0, 1_000_000));
    let n = 0;
    // The caller knows the video has 1801 frames (the catalog does): fewer is an error, not an answer.
    const read = (async () => {
      for await (const b of decodeFrames(cut, { width: 16, height: 16, range: { end: 1801 } })) n += b.count;
    })();
    const error = await read.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(VideoError);
    expect((error as VideoError).code).toMatch(/^VIDEO_DECODE_(SHORT|FAILED)$/);
    expect(n).toBeLessThan(1801);
  });
});
