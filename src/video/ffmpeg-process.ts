import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import { VideoError } from '../errors.js';

/**
 * One ffmpeg child writing raw RGB frames to one pipe per output (fd 1, 3, 4, ...) and
 * `showinfo` lines to stderr. The pipes are read as data arrives; a pipe that runs ahead is
 * paused only while every output has a batch ready, so memory stays bounded and the reader can
 * always go on.
 */
export class FfmpegProcess {
  private readonly child: ChildProcess;
  private readonly streams: Readable[];
  private readonly queues: ByteQueue[];
  /** `pts_time` of every frame showinfo reported, in output order. */
  readonly showTimes: number[] = [];
  private readonly stderr = new FfmpegStderr((t) => {
    this.showTimes.push(t);
    this.notify();
  });
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private spawnError: Error | undefined;
  private endedStreams = 0;
  private wake: (() => void) | undefined;
  readonly started = performance.now();

  constructor(
    ffmpegPath: string,
    args: readonly string[],
    private readonly frameBytes: readonly number[],
    private readonly batchSize: number,
  ) {
    this.child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe', ...frameBytes.slice(1).map(() => 'pipe' as const)] });
    this.streams = frameBytes.map((_, i) => this.child.stdio[i === 0 ? 1 : i + 2] as Readable);
    this.queues = frameBytes.map(() => new ByteQueue());
    this.streams.forEach((s, i) => {
      s.on('data', (chunk: Buffer) => {
        this.queues[i]!.push(chunk);
        // Backpressure: let ffmpeg run ahead while the consumer works, by two batches or 32 MB per output.
        if (this.queues[i]!.bytes >= Math.max(2 * batchSize * frameBytes[i]!, AHEAD_BYTES) && this.available() >= batchSize) s.pause();
        this.notify();
      });
      s.on('end', () => {
        this.endedStreams++;
        this.notify();
      });
      s.on('error', () => this.notify());
    });
    this.child.stderr!.setEncoding('utf8');
    this.child.stderr!.on('data', (text: string) => this.stderr.push(text));
    this.child.on('error', (error) => {
      this.spawnError = error;
      this.notify();
    });
    this.child.on('close', (code, signal) => {
      this.exit = { code, signal };
      this.notify();
    });
  }

  /** Whole frames ready on every output. */
  available(): number {
    return Math.min(...this.queues.map((q, i) => Math.floor(q.bytes / this.frameBytes[i]!)));
  }

  /** Ended (all pipes closed and the process gone), or failed to start. */
  get done(): boolean {
    return (this.exit !== undefined && this.endedStreams === this.streams.length) || this.spawnError !== undefined;
  }

  /**
   * Waits until a full batch is ready on every output (and, with `times`, its showinfo lines,
   * which may lag the pixels), or the process has ended; returns the frames ready (at most a batch).
   */
  async ready(times: boolean, produced: number): Promise<number> {
    for (;;) {
      const n = Math.min(this.available(), this.batchSize);
      const lag = times && this.showTimes.length < produced + n;
      if ((n === this.batchSize && !lag) || this.done) return n;
      await new Promise<void>((r) => (this.wake = r));
    }
  }

  /** Moves one frame of output `i` into `into` at `at` (or drops it). */
  take(i: number, into: Uint8Array | undefined, at: number): void {
    this.queues[i]!.take(this.frameBytes[i]!, into, at);
  }

  resume(): void {
    for (const s of this.streams) if (s.isPaused()) s.resume();
  }

  kill(): void {
    if (!this.exit) this.child.kill('SIGKILL');
  }

  /** Throws what went wrong once the process has ended: it did not start, or exited non-zero. */
  check(path: string): void {
    if (this.spawnError) throw decodeError(path, this.spawnError, this.stderr.tail);
    if (this.exit?.code !== 0) throw decodeError(path, new Error(`ffmpeg exited with ${this.exit?.code ?? this.exit?.signal}`), this.stderr.tail);
  }

  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}

/** ffmpeg's stderr, cut into lines: each `showinfo` frame's `pts_time`, and the last other lines (for error messages). */
export class FfmpegStderr {
  readonly tail: string[] = [];
  private rest = '';

  constructor(
    private readonly onTime: (ptsTime: number) => void,
    private readonly onLine: (line: string) => void = () => undefined,
  ) {}

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.includes('Parsed_showinfo') && line.includes('pts_time:')) {
        const m = /pts_time:\s*(-?[0-9.e+-]+)/.exec(line);
        if (m) this.onTime(Number(m[1]));
      } else if (line.trim()) {
        this.onLine(line);
        this.tail.push(line);
        if (this.tail.length > 30) this.tail.shift();
      }
    }
  }
}

/** Bytes per output ffmpeg may decode ahead of the consumer (beyond two batches). */
const AHEAD_BYTES = 32 * 1024 * 1024;

/** Chunks of bytes, taken from the front in fixed-size pieces (O(1) per chunk, however many are queued). */
export class ByteQueue {
  private chunks: Buffer[] = [];
  private head = 0;
  private offset = 0;
  bytes = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  /** Moves `n` bytes into `into` at `at` (or discards them). */
  take(n: number, into: Uint8Array | undefined, at: number): void {
    let left = n;
    while (left > 0) {
      const chunk = this.chunks[this.head]!;
      const take = Math.min(left, chunk.length - this.offset);
      into?.set(chunk.subarray(this.offset, this.offset + take), at + (n - left));
      left -= take;
      this.offset += take;
      if (this.offset === chunk.length) {
        this.head++;
        this.offset = 0;
      }
    }
    this.bytes -= n;
    // Drop the consumed chunks now and then (Array#shift would copy the rest every time).
    if (this.head > 64 && this.head * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }
}

export function decodeError(path: string, error: Error, stderr: readonly string[]): VideoError {
  const reason = stderr.filter((l) => /error|invalid|corrupt|moov|No such file|does not contain/i.test(l)).slice(-2).join('; ') || error.message.split('\n')[0];
  return new VideoError('VIDEO_DECODE_FAILED', `ffmpeg could not decode ${path}: ${reason}`, { path }, { cause: error });
}
