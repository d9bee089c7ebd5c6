import { describe, expect, it } from 'vitest';
import { intervalEmitter, limitEmitter, windowEmitter, type DecidedFrame, type IntervalEvent, type WindowEvent } from '../../src/live/watch-emitters.js';
import { parseDuration } from '../../src/cli/format-watch.js';
import { inputArgs, parseHeader } from '../../src/live/stream-reader.js';
import { heldOutNeeded, referenceShareWith, StreamCascade } from '../../src/live/stream-cascade.js';

const frame = (n: number, match: boolean, value = match ? 1 : 0, skippedBefore = 0): DecidedFrame => ({ frame: n, time: n / 10, arrivedAt: Date.UTC(2026, 11, 4) + n * 100, match, value, skippedBefore, decidedBy: 'reference' });

describe('interval emitter', () => {
  it('emits each run of matching frames once it closes, with its frames and skips', () => {
    const e = intervalEmitter();
    const pattern = [0, 1, 1, 1, 0, 0, 1, 1];
    const out = pattern.flatMap((m, n) => e.push(frame(n, m === 1, m, n === 3 ? 2 : 0)));
    expect(out).toHaveLength(1);
    const first = out[0] as IntervalEvent;
    expect(first).toMatchObject({ type: 'interval', startFrame: 1, endFrame: 3, start: 0.1, end: 0.3, frames: 3, processed: 3, skipped: 2, closedBy: 'no-match' });
    expect(first.startedAt).toBe('2026-12-04T00:00:00.100Z');
    const rest = e.finish() as IntervalEvent[];
    expect(rest).toMatchObject([{ startFrame: 6, endFrame: 7, closedBy: 'end' }]);
    expect(e.finish()).toEqual([]);
  });

  it('a dropped stream closes the open interval', () => {
    const e = intervalEmitter();
    e.push(frame(5, true));
    expect(e.cut()).toMatchObject([{ startFrame: 5, endFrame: 5, closedBy: 'dropped' }]);
    expect(e.push(frame(9, false))).toEqual([]);
  });
});

describe('window emitter', () => {
  it('FCOUNT per window is the mean of its frames, exact when none was skipped', () => {
    const e = windowEmitter('fcount', 1, 0.95);
    const counts = [2, 2, 3, 1, 0, 0, 4, 4, 4, 4, /* next window */ 1, 1];
    const out = counts.flatMap((c, n) => e.push(frame(n, c > 0, c)));
    expect(out).toHaveLength(1);
    const w = out[0] as WindowEvent;
    expect(w).toMatchObject({ start: 0, end: 1, frames: 10, processed: 10, skipped: 0, interval: undefined });
    expect(w.value).toBeCloseTo(2.4, 10);
    expect((e.finish()[0] as WindowEvent).value).toBe(1);
  });

  it('with skipped frames the processed ones are a sample: an estimate with an interval', () => {
    const e = windowEmitter('count', 10, 0.95);
    [0, 2, 4, 6, 8].forEach((n, i) => e.push(frame(n, true, [1, 3, 2, 4, 0][i]!, n === 0 ? 0 : 1)));
    const w = e.finish()[0] as WindowEvent;
    expect(w).toMatchObject({ frames: 9, processed: 5, skipped: 4 });
    expect(w.value).toBeCloseTo(2 * 9, 10); // mean 2 objects per frame over 9 frames
    expect(w.interval!.low).toBeLessThan(w.value);
    expect(w.interval!.high).toBeGreaterThan(w.value);
    expect(w.interval!.confidence).toBe(0.95);
  });

  it('with a count model: the model on every frame plus the sample\'s mean residual, exact where every frame was sampled', () => {
    const e = windowEmitter('fcount', 1, 0.95);
    const truth = [2, 2, 3, 1, 0, 0, 4, 4, 4, 4];
    const model = [2.2, 1.7, 3.1, 1.4, 0.2, 0, 3.6, 4.1, 3.9, 4.4];
    truth.forEach((y, n) => e.push({ ...frame(n, y > 0, y), model: model[n]!, residualSd: 0.3 }));
    const all = e.finish()[0] as WindowEvent;
    expect(all).toMatchObject({ frames: 10, byModel: 10, byReference: 10, interval: undefined });
    expect(all.value).toBeCloseTo(2.4, 10);
    // Three frames sampled: the estimate is the model's mean plus their mean residual.
    const s = windowEmitter('fcount', 1, 0.95);
    truth.forEach((y, n) => s.push({ ...frame(n, y > 0, [1, 4, 8].includes(n) ? y : model[n]!), model: model[n]!, residualSd: 0.3, decidedBy: [1, 4, 8].includes(n) ? 'reference' : 'cascade' }));
    const w = s.finish()[0] as WindowEvent;
    const residual = (2 - 1.7 + (0 - 0.2) + (4 - 3.9)) / 3;
    expect(w.value).toBeCloseTo(model.reduce((a, b) => a + b, 0) / 10 + residual, 10);
    expect(w).toMatchObject({ byModel: 10, byReference: 3 });
    expect(w.interval!.high - w.interval!.low).toBeGreaterThan(0);
  });

  it('the count model\'s window intervals hold at least as often as their confidence, replayed on random samples', () => {
    // A fixed population of 400 frames (counts in runs, as a camera's are) and a model that errs
    // on some frames; each replay samples frames at random as the stream's reference does.
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const truth = Array.from({ length: 400 }, (_, i) => Math.max(0, Math.round(3 + 2 * Math.sin(i / 25) + (rand() < 0.1 ? 3 : 0))));
    const model = truth.map((y) => Math.max(0, y + (rand() < 0.2 ? (rand() - 0.5) * 4 : (rand() - 0.5) * 0.4)));
    const mean = truth.reduce((a, b) => a + b, 0) / truth.length;
    let covered = 0;
    const replays = 1000;
    for (let r = 0; r < replays; r++) {
      const e = windowEmitter('fcount', 1000, 0.95);
      truth.forEach((y, n) => {
        const sampled = rand() < 0.1;
        e.push({ ...frame(n, y > 0, sampled ? y : model[n]!), model: model[n]!, residualSd: 0.3, decidedBy: sampled ? 'reference' : 'cascade' });
      });
      const w = e.finish()[0] as WindowEvent;
      if (w.interval && w.interval.low <= mean && mean <= w.interval.high) covered++;
    }
    expect(covered / replays).toBeGreaterThanOrEqual(0.94);
  });
});

describe('limit emitter', () => {
  it('returns matching frames GAP apart and is done after k', () => {
    const e = limitEmitter(2, 3);
    const out = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((n) => e.push(frame(n, n !== 3)));
    expect(out.map((f) => (f.type === 'frame' ? f.frame : -1))).toEqual([1, 4]);
    expect(e.done).toBe(true);
  });
});

describe('stream input', () => {
  it('reads the output size and the input rate from ffmpeg’s header', () => {
    const header = [
      "Input #0, mpegts, from 'udp://127.0.0.1:5000':",
      '    Stream #0:0[0x100]: Video: h264 (High) ([27][0][0][0] / 0x001B), yuv420p(progressive), 768x432, 10 fps, 10 tbr, 90k tbn',
      "Output #0, rawvideo, to 'pipe:1':",
      '    Stream #0:0: Video: rawvideo (RGB[24] / 0x18424752), rgb24(pc, gbr/bt709/bt709, progressive), 768x432, q=2-31, 79626 kb/s, 10 fps, 10 tbn',
    ];
    expect(parseHeader(header.slice(0, 2))).toBeUndefined();
    expect(parseHeader(header)).toEqual({ width: 768, height: 432, fps: 10 });
  });

  it('gives each protocol a stall timeout', () => {
    expect(inputArgs('udp://0.0.0.0:5000', { stallSeconds: 2 })).toContain('udp://0.0.0.0:5000?timeout=2000000&overrun_nonfatal=1&fifo_size=1000000');
    expect(inputArgs('rtsp://cam/1', { stallSeconds: 2 })).toEqual(expect.arrayContaining(['-timeout', '2000000', '-i', 'rtsp://cam/1']));
    expect(inputArgs('http://cam/live.ts', {})).toEqual(expect.arrayContaining(['-rw_timeout', '5000000']));
    expect(inputArgs('clip.mp4', { follow: true })).toEqual(expect.arrayContaining(['-follow', '1', 'file:clip.mp4']));
    expect(inputArgs('-', {})).toEqual(expect.arrayContaining(['-i', 'pipe:0']));
    // RTSP's socket timeout is -stimeout before ffmpeg 5 (there -timeout would mean "listen").
    expect(inputArgs('rtsp://cam/1', { stallSeconds: 2, bins: { fpsMode: false } })).toEqual(expect.arrayContaining(['-stimeout', '2000000', '-i', 'rtsp://cam/1']));
    expect(inputArgs('rtsp://cam/1', { stallSeconds: 2, bins: { fpsMode: false } })).not.toContain('-timeout');
    expect(inputArgs('rtsp://0.0.0.0:8554/live', { listen: true, bins: { fpsMode: true } })).toEqual(expect.arrayContaining(['-rtsp_flags', 'listen', '-timeout', '5000000']));
    expect(inputArgs('http://0.0.0.0:8080/live.ts', { listen: true })).toEqual(expect.arrayContaining(['-listen', '1', '-i', 'http://0.0.0.0:8080/live.ts']));
    expect(inputArgs('tcp://0.0.0.0:9000', { listen: true })).toContain('tcp://0.0.0.0:9000?listen=1');
  });

  it('parses durations', () => {
    expect(parseDuration('60s')).toBe(60);
    expect(parseDuration('5m')).toBe(300);
    expect(parseDuration('1.5')).toBe(1.5);
    expect(parseDuration('250ms')).toBe(0.25);
    expect(parseDuration('soon')).toBeUndefined();
    expect(parseDuration('0s')).toBeUndefined();
  });
});

describe('stream cascade verification', () => {
  const running = (negative: number, positive: number) => ({ model: { dispose: async () => undefined, score: async () => Float32Array.of(0.5) }, thresholds: { cLow: 0.2, cHigh: 0.8 }, allowed: { negative, positive } });

  it('needs held-out frames enough for a zero-error bound to meet the target', () => {
    expect(heldOutNeeded(0.2, 0.95)).toBe(17); // 1 - 0.025^(1/17) = 0.195
    expect(heldOutNeeded(0.1, 0.95)).toBe(36);
    expect(1 - 0.025 ** (1 / 16)).toBeGreaterThan(0.2);
  });

  it('the share a cascade leaves the reference: its uncertain frames plus the verification sample of the rest', () => {
    // The run of 2026-12-04 17:53: held-out uncertain 98.75% on a machine sustaining 68% of frames.
    const slow = { sustainedShare: () => 0.68, verifyRate: () => 0.05 };
    expect(referenceShareWith(0.9875, slow).expected).toBeCloseTo(0.9881, 4);
    expect(referenceShareWith(0.9875, slow).expected).toBeGreaterThan(0.68); // it would leave the reference saturated
    expect(referenceShareWith(0.15, slow).expected).toBeCloseTo(0.1925, 9);
    // A machine that keeps up with every frame: the reference is never saturated.
    expect(referenceShareWith(0.95, undefined)).toEqual({ expected: 0.95, sustained: 1 });
  });

  it('a window whose errors are well above the held-out rate is drift, and switches the cascade off', () => {
    const c = new StreamCascade({ fnr: 0.2, fpr: 0.2, confidence: 0.95 }, 5);
    (c as unknown as { running: unknown }).running = running(0.27, 0.1);
    expect(c.active).toBe(true);
    for (let i = 0; i < 20; i++) c.verified(30 + i * 0.2, 0, i < 18);
    c.verified(36, 0, false);
    const [window, ...rest] = c.drain();
    expect(window).toMatchObject({ type: 'verification', start: 30, drift: true });
    expect(rest).toEqual([]);
    // It ended early, at the checked frame whose errors were already far beyond 27%.
    const { end, decidedNegative } = window as { end: number; decidedNegative: { sampled: number; errors: number } };
    expect(end).toBeLessThan(35);
    expect(decidedNegative.errors).toBe(decidedNegative.sampled);
    expect(decidedNegative.sampled).toBeLessThan(10);
    expect(c.active).toBe(false);
  });

  it('errors far beyond the allowed rate end the window at once, a few checked frames after the change', () => {
    // The run of 2026-12-04 18:28: certified on the first bus (0 misses in 43 decided negatives), then 17 of 17 checked negatives wrong.
    const c = new StreamCascade({ fnr: 0.2, fpr: 0.2, confidence: 0.95 }, 10);
    (c as unknown as { running: unknown }).running = running(0.082, 0.2);
    c.verified(20.1, 0, true);
    c.verified(20.5, 0, true);
    expect(c.drain()).toEqual([]); // two errors in two could still be chance at a tenth of the risk
    c.verified(20.9, 0, true);
    const [window] = c.drain();
    expect(window).toMatchObject({ type: 'verification', start: 20, end: 20.9, decidedNegative: { sampled: 3, errors: 3 }, drift: true });
    expect(c.active).toBe(false);
  });

  it('a running cascade keeps labelling only while it leaves the reference saturated', () => {
    let sustained = 0.5;
    const c = new StreamCascade({ fnr: 0.2, fpr: 0.2, confidence: 0.95 }, 10, undefined, undefined, { sustainedShare: () => sustained, verifyRate: () => 0.05 });
    (c as unknown as { running: unknown }).running = { ...running(0.1, 0.1), expectedShare: 0.6 };
    const labelled = () => (c as unknown as { labels: { length: number } }).labels.length;
    const thumb = new Uint8Array(50 * 50 * 3);
    c.addLabel(thumb, 1, true);
    expect(labelled()).toBe(1); // 0.6 of frames left to a reference that sustains 0.5
    sustained = 0.8;
    c.addLabel(thumb, 2, false);
    expect(labelled()).toBe(1); // it keeps up now: no more labels
  });

  it('errors at the held-out rate are not drift', () => {
    const c = new StreamCascade({ fnr: 0.2, fpr: 0.2, confidence: 0.95 }, 5);
    (c as unknown as { running: unknown }).running = running(0.27, 0.1);
    for (let i = 0; i < 20; i++) c.verified(30 + i * 0.2, i % 2 === 0 ? 0 : 1, i % 2 === 1 && i !== 3);
    c.verified(36, 0, false);
    const [window] = c.drain();
    expect(window).toMatchObject({ drift: false, decidedNegative: { sampled: 10, errors: 0 }, decidedPositive: { sampled: 10, errors: 1 } });
    expect(c.active).toBe(true);
  });
});
