/**
 * Frame selection on real video, against every ffmpeg build present (the bundled 2018 static
 * build, and the one on PATH: Debian's 5.1 in CI). Long frame lists once built `select`
 * expressions that 5.1 rejects (a flat sum of about a hundred terms); here a list of any length
 * must come back pixel for pixel as the same frames of a plain sequential decode by the same build,
 * with bounded command lines.
 */
import { describe, expect, it } from 'vitest';
import { decodeFrames, decodeFrameSet, emptyDecodeStats, type DecodeStats } from '../../src/video/decoder.js';
import { probeVideo, type VideoInfo } from '../../src/video/probe.js';
import { MAX_TERMS } from '../../src/video/read-plan.js';
import { decodeReduced } from '../../src/video/reduced-decode.js';
import { Prng } from '../language/prng.js';
import { ffmpegBackends, video } from '../helpers.js';

const SIZE = 32;
const BYTES = SIZE * SIZE * 3;

function randomFrames(n: number, max: number, seed: number): Int32Array {
  const prng = new Prng(seed);
  const set = new Set<number>();
  while (set.size < Math.min(n, max)) set.add(prng.int(max));
  return Int32Array.from([...set].sort((a, b) => a - b));
}

describe.each(ffmpegBackends())('ffmpeg $name ($version)', (backend) => {
  const bins = { ffmpegPath: backend.ffmpegPath, ffprobePath: backend.ffprobePath };

  /** Every frame of the video at 32x32, by one plain sequential decode. */
  async function everyFrame(path: string): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for await (const b of decodeFrames(path, { ...bins, width: SIZE, height: SIZE, batchSize: 128 })) {
      for (let i = 0; i < b.count; i++) out.push(b.data.slice(i * BYTES, (i + 1) * BYTES));
    }
    return out;
  }

  async function decodeList(path: string, frames: Int32Array, info: VideoInfo | undefined, seekGap?: number) {
    const stats: DecodeStats = emptyDecodeStats();
    const got: { frame: number; timestamp: number; data: Uint8Array }[] = [];
    const options = { ...bins, width: SIZE, height: SIZE, frames, batchSize: 64, stats, ...(info ? { timestamps: info.timestamps } : {}), ...(seekGap ? { seekGap } : {}) };
    for await (const b of decodeFrames(path, options)) {
      for (let i = 0; i < b.count; i++) got.push({ frame: b.frames[i]!, timestamp: b.timestamps[i]!, data: b.data.slice(i * BYTES, (i + 1) * BYTES) });
    }
    return { got, stats };
  }

  it.each([
    ['road_polecam.mp4', true],
    ['interstate_overpass.avi', false],
    ['street_window_cvtrafficcam.mp4', true],
  ])('%s: a 199-frame sample, 1,500 random frames and runs far apart, with and without keyframe seeks, equal the sequential decode', async (name, seekable) => {
    const path = video(name);
    const info = await probeVideo(path, bins);
    const all = await everyFrame(path);
    expect(all).toHaveLength(info.frameCount);
    const N = info.frameCount;
    const regular = Int32Array.from({ length: 199 }, (_, i) => Math.floor((i * N) / 199));
    // Five runs of 12 frames, far apart: worth a keyframe seek each when seeks are allowed.
    const clustered = Int32Array.from({ length: 60 }, (_, i) => Math.floor(((Math.floor(i / 12) + 0.5) * N) / 5) + (i % 12));
    // A quarter of the frames at random: hundreds of terms, summed as a balanced tree (a flat sum of
    // about a hundred is what 5.1 rejects), read exactly, nothing covered and dropped.
    const quarter = randomFrames(Math.floor(N / 4), N, 12);
    const lists = [regular, randomFrames(1_500, N, 11), clustered, quarter];
    const lengths: number[] = [];
    for (const frames of lists) {
      for (const seekGap of [undefined, 25]) {
        const { got, stats } = await decodeList(path, frames, seekGap ? info : undefined, seekGap);
        expect(got.map((g) => g.frame)).toEqual([...frames]);
        for (const g of got) {
          expect(Buffer.compare(Buffer.from(g.data), Buffer.from(all[g.frame]!)), `frame ${g.frame}`).toBe(0);
          if (seekGap) expect(g.timestamp).toBe(info.timestamps[g.frame]);
          else expect(g.timestamp).toBeCloseTo(info.timestamps[g.frame]!, 3);
        }
        lengths.push(stats.longestCommand);
        if (frames === quarter) expect(stats.framesDropped).toBe(0);
        if (seekGap && frames === clustered) {
          // The runs are hundreds of frames apart: MP4s seek; AVI (no timestamps to check a seek
          // against) is always read in one sequential pass.
          expect(stats.seeks > 0).toBe(seekable);
          if (!seekable) expect(stats.processes).toBe(1);
        }
      }
    }
    // No command line grows past MAX_TERMS terms, whatever the frames asked for.
    expect(Math.max(...lengths)).toBeLessThan(MAX_TERMS * 60);
  });

  it('gives several sizes of the same frames from one ffmpeg process (split)', async () => {
    const path = video('road_polecam.mp4');
    const frames = randomFrames(300, 1190, 5);
    const outputs = [{ width: 64, height: 36, scaler: 'bilinear' as const }, { width: SIZE, height: SIZE }];
    const stats = emptyDecodeStats();
    const split: Uint8Array[][] = [[], []];
    for await (const batches of decodeFrameSet(path, { ...bins, outputs, frames: { kind: 'list', frames }, batchSize: 16, stats })) {
      expect(batches[0]!.frames).toEqual(batches[1]!.frames);
      batches.forEach((b, k) => {
        const bytes = b.width * b.height * 3;
        for (let i = 0; i < b.count; i++) split[k]!.push(b.data.slice(i * bytes, (i + 1) * bytes));
      });
    }
    expect(stats.processes).toBe(1);
    for (const [k, o] of outputs.entries()) {
      const alone: Uint8Array[] = [];
      for await (const b of decodeFrames(path, { ...bins, ...o, frames, batchSize: 64 })) {
        const bytes = b.width * b.height * 3;
        for (let i = 0; i < b.count; i++) alone.push(b.data.slice(i * bytes, (i + 1) * bytes));
      }
      expect(split[k]!.length).toBe(frames.length);
      split[k]!.forEach((d, i) => expect(Buffer.compare(Buffer.from(d), Buffer.from(alone[i]!))).toBe(0));
    }
  });

  it.each(['road_polecam.mp4', 'shopfront_cctv.mp4'])('%s: -skip_frame noref gives a subset of the frames, each equal to the sequential decode, identified by timestamp', async (name) => {
    const path = video(name);
    const info = await probeVideo(path, bins);
    const all = await everyFrame(path);
    for (const [start, end, seekGap] of [[0, info.frameCount, undefined], [300, 900, 50]] as const) {
      const stats = emptyDecodeStats();
      const got: number[] = [];
      for await (const [b] of decodeReduced(path, { ...bins, mode: 'noref', outputs: [{ width: SIZE, height: SIZE }], start, end, timestamps: info.timestamps, ...(seekGap ? { seekGap } : {}), stats, exclude: (f) => f % 100 === 0 })) {
        for (let i = 0; i < b!.count; i++) {
          const f = b!.frames[i]!;
          got.push(f);
          expect(Buffer.compare(Buffer.from(b!.data.subarray(i * BYTES, (i + 1) * BYTES)), Buffer.from(all[f]!)), `frame ${f}`).toBe(0);
          expect(b!.timestamps[i]).toBe(info.timestamps[f]);
        }
      }
      expect(got.length).toBeGreaterThan((end - start) * 0.2);
      expect(got.length).toBeLessThan((end - start) * 0.8);
      expect(got.every((f, i) => f >= start && f < end && f % 100 !== 0 && (i === 0 || f > got[i - 1]!))).toBe(true);
      expect(stats.seeks).toBe(seekGap ? 1 : 0);
    }
  });

  it('refuses reduced decoding of an AVI (no timestamps to tell the kept frames by)', async () => {
    const path = video('interstate_overpass.avi');
    const info = await probeVideo(path, bins);
    const run = async () => {
      for await (const _ of decodeReduced(path, { ...bins, mode: 'noref', outputs: [{ width: SIZE, height: SIZE }], start: 0, end: 100, timestamps: info.timestamps })) void _;
    };
    await expect(run()).rejects.toMatchObject({ code: 'DECODE_MODE_UNSUPPORTED' });
  });

  it('reports a frame list beyond the end of the file as a short read, not a silent truncation', async () => {
    const path = video('road_polecam.mp4');
    const frames = Int32Array.from([10, 500, 1189, 1300]);
    await expect(decodeList(path, frames, undefined)).rejects.toMatchObject({ code: 'VIDEO_DECODE_SHORT' });
  });
});
