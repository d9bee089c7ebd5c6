/**
 * A live video input: one ffmpeg child reading what ffmpeg reads live (RTSP, HTTP(S) MPEG-TS,
 * MJPEG or HLS, UDP/RTP MPEG-TS, a pipe, a file still being written) and writing packed RGB frames
 * at the source size to a pipe, with `showinfo` lines giving each frame's stream time. The pipe is
 * drained as fast as it fills (a live source cannot be paused); frames wait in a bounded backlog,
 * and when the consumer falls behind the oldest are dropped and counted. A dropped connection
 * (ffmpeg exits, or no data for `stallSeconds`) is retried with exponential backoff and reported;
 * it never silently ends the stream.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as delay } from 'node:timers/promises';
import { InterruptedError, VideoError } from '../errors.js';
import { passthroughTiming, type FfmpegBinaries } from '../video/ffmpeg-locator.js';
import { ByteQueue, FfmpegStderr } from '../video/ffmpeg-process.js';

/** One decoded frame of a stream. */
export interface StreamFrame {
  readonly type: 'frame';
  /** 0-based index of the frame among those the stream delivered (dropped ones included). */
  readonly seq: number;
  /** The frame's number on the stream's clock: `round(time * fps)` (`seq` when the rate is unknown). */
  readonly frame: number;
  /** Seconds of stream time, continuous across reconnects (a restarted source's clock is shifted on). */
  readonly time: number;
  /** When its last byte arrived (ms since the epoch). */
  readonly arrivedAt: number;
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes, RGB. */
  readonly rgb: Uint8Array;
}

export type StreamEvent =
  | { readonly type: 'connected'; readonly attempt: number; readonly width: number; readonly height: number; readonly fps: number | undefined }
  | { readonly type: 'dropped'; readonly reason: string; readonly at: number }
  | { readonly type: 'reconnecting'; readonly attempt: number; readonly delaySeconds: number }
  | { readonly type: 'ended'; readonly reason: string };

export interface StreamReaderOptions {
  readonly bins: FfmpegBinaries;
  /** Frames kept waiting for the consumer; beyond it the oldest are dropped (default: `maxLagSeconds` of frames). */
  readonly backlog?: number;
  /** Without `backlog`: keep at most this many seconds of frames waiting (default 1), so lag stays near it. */
  readonly maxLagSeconds?: number;
  /** No data for this long counts as a dropped connection (default 5 s). */
  readonly stallSeconds?: number;
  /** Reconnect attempts in a row before giving up (default: forever). */
  readonly retries?: number;
  /** First backoff delay, doubled per failed attempt up to `maxDelaySeconds` (defaults 0.5 s, 10 s). */
  readonly initialDelaySeconds?: number;
  readonly maxDelaySeconds?: number;
  /** A local file (not a URL): follow it while it grows instead of ending at its current end. */
  readonly follow?: boolean;
  /** Read a local file at its native rate, as a camera would deliver it (`ffmpeg -re`). */
  readonly realtime?: boolean;
  /**
   * Wait for the source to connect and push (an RTSP ANNOUNCE/RECORD, an RTMP publish, an HTTP
   * POST or PUT, a TCP connection) on the URL's address instead of connecting to it; after the
   * source leaves, wait for it again.
   */
  readonly listen?: boolean;
  readonly signal?: AbortSignal;
}

/** Whether `input` names a live network source (as opposed to a local file or a pipe). */
export function isNetworkUrl(input: string): boolean {
  return /^(rtsps?|rtmps?|https?|udp|rtp|srt|tcp|hls|mmsh?):/i.test(input);
}

/**
 * ffmpeg's input arguments for a live source: stall timeouts per protocol, low buffering. RTSP's
 * socket timeout is `-timeout` from ffmpeg 5 on, `-stimeout` before (where `-timeout` meant
 * "listen for a connection this many seconds"); builds with `-fps_mode` (5.1+) get the new name.
 */
export function inputArgs(input: string, options: Pick<StreamReaderOptions, 'stallSeconds' | 'follow' | 'realtime' | 'listen'> & { readonly bins?: Pick<FfmpegBinaries, 'fpsMode'> }): string[] {
  const micro = String(Math.round((options.stallSeconds ?? 5) * 1e6));
  const args = ['-fflags', '+genpts+discardcorrupt', '-analyzeduration', '1000000', '-probesize', '1000000'];
  if (/^rtsps?:/i.test(input)) {
    const socketTimeout = options.bins?.fpsMode === false ? '-stimeout' : '-timeout';
    return [...args, ...(options.listen ? ['-rtsp_flags', 'listen'] : []), socketTimeout, micro, '-i', input];
  }
  if (/^(udp|rtp):/i.test(input)) {
    const sep = input.includes('?') ? '&' : '?';
    const extra = ['timeout', 'overrun_nonfatal', 'fifo_size'].filter((k) => !new RegExp(`[?&]${k}=`).test(input));
    const values: Record<string, string> = { timeout: micro, overrun_nonfatal: '1', fifo_size: '1000000' };
    return [...args, '-i', extra.length ? `${input}${sep}${extra.map((k) => `${k}=${values[k]}`).join('&')}` : input];
  }
  if (options.listen && /^tcp:/i.test(input)) return [...args, '-i', `${input}${input.includes('?') ? '&' : '?'}listen=1`];
  if (options.listen && /^(https?|rtmps?):/i.test(input)) return [...args, '-listen', '1', '-i', input];
  if (isNetworkUrl(input)) return [...args, '-rw_timeout', micro, '-i', input];
  if (input === '-' || /^pipe:/.test(input)) return [...args, '-i', input === '-' ? 'pipe:0' : input];
  return [...args, ...(options.realtime ? ['-re'] : []), ...(options.follow ? ['-follow', '1', '-rw_timeout', micro] : []), '-i', options.follow ? `file:${input}` : input];
}

/** The output stream's size and the input's frame rate, from ffmpeg's header lines. */
export function parseHeader(lines: readonly string[]): { width: number; height: number; fps: number | undefined } | undefined {
  const out = lines.findIndex((l) => /^Output #0/.test(l));
  if (out < 0) return undefined;
  const video = lines.slice(out).find((l) => /Stream #0:\d+.*: Video: rawvideo/.test(l));
  const size = video && /, (\d+)x(\d+)\b/.exec(video);
  if (!size) return undefined;
  const input = lines.slice(0, out).find((l) => /Stream #\d+:\d+.*: Video:/.test(l));
  const fps = input && /([\d.]+) fps\b/.exec(input);
  const tbr = input && /([\d.]+) tbr\b/.exec(input);
  const rate = Number(fps?.[1] ?? tbr?.[1]);
  return { width: Number(size[1]), height: Number(size[2]), fps: Number.isFinite(rate) && rate > 0 ? rate : undefined };
}

/**
 * The frames of a live input, in order, with connection events in between (as they happen, not
 * with the next frame), until `signal` aborts, the source ends for good (a local
 * file without `follow` at its end; a network source after `retries` failed reconnects), or the
 * consumer stops iterating. Frames the consumer was too slow for are dropped from the backlog and
 * show as gaps in `seq`.
 */
export async function* readStream(input: string, options: StreamReaderOptions): AsyncGenerator<StreamFrame | StreamEvent> {
  const backlog = (fps: number | undefined) => Math.max(1, options.backlog ?? Math.ceil((options.maxLagSeconds ?? 1) * (fps ?? 25)));
  const live = isNetworkUrl(input) || input === '-' || /^pipe:/.test(input) || options.follow === true;
  const reconnects = isNetworkUrl(input) || options.follow === true;
  let seq = 0;
  let timeOffset = 0;
  let lastTime = Number.NEGATIVE_INFINITY;
  let frameInterval = 0.04;
  let failures = 0;
  for (let attempt = 0; ; attempt++) {
    if (options.signal?.aborted) throw new InterruptedError();
    const connection = new Connection(input, options, backlog);
    // Stopping while ffmpeg waits (for a source to connect or to send) ends that wait at once.
    const stop = () => connection.close();
    options.signal?.addEventListener('abort', stop, { once: true });
    let delivered = 0;
    try {
      for (;;) {
        const raw = await connection.next();
        if (!raw) break;
        if (delivered === 0) {
          failures = 0;
          yield { type: 'connected', attempt, width: raw.width, height: raw.height, fps: connection.fps };
          if (connection.fps) frameInterval = 1 / connection.fps;
        }
        // Stream time never goes back: a source that restarted its clock (or a new connection to
        // one), or one whose first frames are stamped before RTP's clock is synchronised (RTSP
        // gives the first frame 0, the next ones their sender's times), goes on after the last frame seen.
        if (raw.pts + timeOffset <= lastTime) timeOffset = lastTime + frameInterval - raw.pts;
        delivered++;
        seq += raw.dropped;
        const time = raw.pts + timeOffset;
        lastTime = time;
        const frame = connection.fps ? Math.round(time * connection.fps) : seq;
        yield { type: 'frame', seq: seq++, frame, time, arrivedAt: raw.arrivedAt, width: raw.width, height: raw.height, rgb: raw.rgb };
      }
    } finally {
      options.signal?.removeEventListener('abort', stop);
      connection.close();
    }
    if (options.signal?.aborted) throw new InterruptedError();
    const reason = connection.failure();
    if (!live || !reconnects) {
      if (delivered === 0 && reason) throw new VideoError('VIDEO_DECODE_FAILED', `ffmpeg could not read ${input}: ${reason}`, { path: input });
      yield { type: 'ended', reason: reason ?? 'the input ended' };
      return;
    }
    yield { type: 'dropped', reason: reason ?? 'the stream ended', at: Date.now() };
    if (delivered === 0) failures++;
    if (options.retries !== undefined && failures > options.retries) {
      yield { type: 'ended', reason: `gave up after ${options.retries} failed reconnects: ${reason ?? 'the stream ended'}` };
      throw new VideoError('VIDEO_UNREADABLE', `the stream ${input} dropped and ${options.retries} reconnects failed (last: ${reason ?? 'no data'}); check that the source is up and the URL is right`, { path: input });
    }
    const delaySeconds = Math.min(options.maxDelaySeconds ?? 10, (options.initialDelaySeconds ?? 0.5) * 2 ** Math.max(0, failures - 1));
    yield { type: 'reconnecting', attempt: attempt + 1, delaySeconds };
    await sleep(delaySeconds * 1000, options.signal);
  }
}

/** Waits `ms`, or rejects with an `InterruptedError` when `signal` aborts. */
async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : {});
  } catch (error) {
    if (signal?.aborted) throw new InterruptedError();
    throw error;
  }
}

interface RawFrame {
  readonly pts: number;
  readonly arrivedAt: number;
  readonly width: number;
  readonly height: number;
  readonly rgb: Uint8Array;
  /** Frames dropped from the backlog just before this one. */
  readonly dropped: number;
}

/** One ffmpeg process on the input: frames cut from its pipe into a bounded backlog. */
class Connection {
  private readonly child: ChildProcess;
  private readonly header: string[] = [];
  private size: { width: number; height: number } | undefined;
  fps: number | undefined;
  private backlog = 1;
  /** The pipe's bytes not yet cut into frames. */
  private readonly pending = new ByteQueue();
  /** showinfo's `pts_time` of output frames `timesBase`, `timesBase + 1`, ... */
  private times: number[] = [];
  private timesBase = 0;
  private readonly frames: { rgb: Uint8Array; arrivedAt: number; index: number }[] = [];
  private produced = 0;
  private dropped = 0;
  private closed = false;
  private exited = false;
  private stdoutEnded = false;
  private readonly stderr = new FfmpegStderr(
    (t) => {
      this.times.push(t);
      this.notify();
    },
    (line) => this.onHeaderLine(line),
  );
  private wake: (() => void) | undefined;

  constructor(
    private readonly input: string,
    options: StreamReaderOptions,
    private readonly backlogFor: (fps: number | undefined) => number,
  ) {
    const filter = 'showinfo=checksum=0,scale=iw:ih:in_color_matrix=bt601:in_range=auto,format=rgb24';
    const args = ['-hide_banner', '-nostats', '-nostdin', '-loglevel', 'info', ...inputArgs(input, options), '-map', '0:v:0', '-vf', filter, ...passthroughTiming(options.bins), '-an', '-sn', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
    this.child = spawn(options.bins.ffmpeg, args, { stdio: [input === '-' ? 'inherit' : 'ignore', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => this.onData(chunk));
    this.child.stdout!.on('end', () => {
      this.stdoutEnded = true;
      this.notify();
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => this.stderr.push(text));
    this.child.on('error', (error) => {
      this.stderr.tail.push(error.message);
      this.exited = true;
      this.stdoutEnded = true;
      this.notify();
    });
    this.child.on('close', () => {
      this.exited = true;
      this.notify();
    });
  }

  /** The next frame, or undefined once the process has ended and every frame was taken. */
  async next(): Promise<RawFrame | undefined> {
    for (;;) {
      const frame = this.frames[0];
      if (frame && this.timesBase + this.times.length > frame.index) {
        this.frames.shift();
        const dropped = this.dropped;
        this.dropped = 0;
        const pts = this.times[frame.index - this.timesBase]!;
        if (frame.index - this.timesBase > 1024) {
          this.times = this.times.slice(frame.index - this.timesBase);
          this.timesBase = frame.index;
        }
        return { pts, arrivedAt: frame.arrivedAt, width: this.size!.width, height: this.size!.height, rgb: frame.rgb, dropped };
      }
      if (this.exited && this.stdoutEnded) {
        // showinfo lines of the last frames may never come once ffmpeg is gone: number them on.
        if (frame) this.times.push((this.times[this.times.length - 1] ?? 0) + 1 / (this.fps ?? 25));
        else return undefined;
        continue;
      }
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Why the process ended, when it did not end cleanly. */
  failure(): string | undefined {
    const code = this.child.exitCode;
    const why = this.stderr.tail.filter((l) => /error|invalid|refused|timed out|timeout|No such|not found|Connection|failed|End of file/i.test(l)).slice(-2).join('; ');
    if (code === 0 && this.size) return why ? `no data for a while (ffmpeg: ${why})` : undefined;
    return why || (code === null ? 'ffmpeg was stopped' : `ffmpeg exited with ${code}`);
  }

  close(): void {
    this.closed = true;
    if (!this.exited) this.child.kill('SIGKILL');
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    this.pending.push(chunk);
    this.cut();
  }

  /** Cuts whole frames off the pipe's bytes once the header has told the frame size. */
  private cut(): void {
    if (!this.size) return;
    const bytes = this.size.width * this.size.height * 3;
    while (this.pending.bytes >= bytes) {
      // One copy per frame, straight from the pipe's chunks.
      const rgb = new Uint8Array(bytes);
      this.pending.take(bytes, rgb, 0);
      this.frames.push({ rgb, arrivedAt: Date.now(), index: this.produced++ });
      if (this.frames.length > this.backlog) {
        this.frames.shift();
        this.dropped++;
      }
    }
    this.notify();
  }

  /** ffmpeg's header lines, until the output frame size is known. */
  private onHeaderLine(line: string): void {
    if (this.size) return;
    this.header.push(line);
    const header = parseHeader(this.header);
    if (!header) return;
    this.size = { width: header.width, height: header.height };
    this.fps = header.fps;
    this.backlog = this.backlogFor(header.fps);
    this.cut();
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
