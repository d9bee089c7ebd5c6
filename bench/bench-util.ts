/**
 * Shared helpers for Sieve's benchmarks: what machine a figure was taken on, timing with repeats,
 * and writing results (a JSON file, and one named `## ` section of BENCHMARKS.md).
 *
 * ```ts
 * const machine = describeMachine();
 * const run = await repeat(3, async () => detectAll(frames));
 * console.log(formatStat(rate(60, run.ms)));                // "15.2 (14.9–15.4)" frames/s
 * writeJson(resolveFromRoot('bench/results/x.json'), { machine, date: isoDate(), rows });
 * updateMarkdownSection(resolveFromRoot('BENCHMARKS.md'), 'X', `${machineLine(machine)}\n\n${table}`);
 * ```
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, freemem, loadavg, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateFfmpeg } from '../src/video/index.js';

/** The directory holding Sieve's package.json (works from `bench/` and from `dist/bench/`). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/** A path relative to the repository root. */
export function resolveFromRoot(...parts: string[]): string {
  return resolve(repoRoot(), ...parts);
}

/** Benchmark data (videos, models): `SIEVE_DATA_DIR`, else `<repo>/../shared/data`. */
export function dataDir(): string {
  return resolve(process.env.SIEVE_DATA_DIR ?? join(repoRoot(), '..', 'shared', 'data'));
}

export interface MachineInfo {
  readonly cpu: string;
  readonly cores: number;
  readonly cpuMHz: number | null;
  /** SIMD extensions the CPU reports (ONNX Runtime's kernels depend on them). */
  readonly simd: readonly string[];
  readonly ramGiB: number;
  readonly freeRamGiB: number;
  readonly os: string;
  readonly node: string;
  readonly onnxruntimeNode: string | null;
  readonly ffmpeg: { readonly path: string; readonly version: string } | null;
  /** 1/5/15-minute load averages when described: other work on the machine skews timings. */
  readonly loadavg: readonly number[];
}

/** Describes this machine for a result file. Never throws: what cannot be read is `null`. */
export function describeMachine(): MachineInfo {
  const info = cpuInfo();
  return {
    cpu: info.model ?? cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    cpuMHz: info.mhz,
    simd: info.simd,
    ramGiB: round(totalmem() / 2 ** 30, 1),
    freeRamGiB: round(freemem() / 2 ** 30, 1),
    os: `${process.platform} ${release()} ${process.arch}`,
    node: process.version,
    onnxruntimeNode: packageVersion('onnxruntime-node'),
    ffmpeg: ffmpegInfo(),
    loadavg: loadavg().map((x) => round(x, 2)),
  };
}

/** One line of markdown naming the machine, for a results section. */
export function machineLine(m: MachineInfo): string {
  const ffmpeg = m.ffmpeg ? `ffmpeg ${m.ffmpeg.version}` : 'ffmpeg unknown';
  const mhz = m.cpuMHz ? ` @ ${Math.round(m.cpuMHz)} MHz` : '';
  const simd = m.simd.length ? ` (${m.simd.join(', ')})` : '';
  return `${m.cpu}${mhz}${simd}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.os}; Node ${m.node}, onnxruntime-node ${m.onnxruntimeNode ?? 'unknown'}, ${ffmpeg}; load average at start ${m.loadavg.join(' / ')}`;
}

/** The installed version of an npm package, or `null`. */
export function packageVersion(name: string): string | null {
  try {
    const require = createRequire(join(repoRoot(), 'package.json'));
    const path = require.resolve(`${name}/package.json`);
    return String((JSON.parse(readFileSync(path, 'utf8')) as { version?: unknown }).version ?? '') || null;
  } catch {
    return null;
  }
}

/** Today's date, `YYYY-MM-DD` (UTC). */
export function isoDate(date = new Date()): string {
  return date.toISOString().slice(0, 10);
}

/** median, min and max of some samples (the raw samples kept too). */
export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: readonly number[];
}

export function stat(samples: readonly number[]): Stat {
  if (samples.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, samples: [] };
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples: [...samples] };
}

/** Per-repeat rates: `count` items in each of `ms` milliseconds -> items per second. */
export function rate(count: number, ms: readonly number[]): Stat {
  return stat(ms.map((t) => (t > 0 ? (count * 1000) / t : Number.NaN)));
}

/** Rounds every number in a Stat (for JSON that stays readable). */
export function roundStat(s: Stat, digits = 2): Stat {
  return { median: round(s.median, digits), min: round(s.min, digits), max: round(s.max, digits), samples: s.samples.map((x) => round(x, digits)) };
}

export interface Repeated<T> {
  /** Wall-clock milliseconds of each timed repeat. */
  readonly ms: readonly number[];
  /** What each timed repeat returned. */
  readonly results: readonly T[];
}

/**
 * Runs `fn` `warmup` times untimed, then `repeats` times timed (wall clock, `performance.now()`).
 * `fn` gets the repeat's index (warm-ups count from `-warmup`).
 */
export async function repeat<T>(repeats: number, fn: (index: number) => T | Promise<T>, warmup = 0): Promise<Repeated<T>> {
  for (let i = -warmup; i < 0; i++) await fn(i);
  const ms: number[] = [];
  const results: T[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    results.push(await fn(i));
    ms.push(performance.now() - t0);
  }
  return { ms, results };
}

/** `median (min–max)`, with thousands separators; a single sample prints alone. */
export function formatStat(s: Stat, digits = 0): string {
  const f = (x: number) => formatNumber(x, digits);
  return s.samples.length > 1 && f(s.min) !== f(s.max) ? `${f(s.median)} (${f(s.min)}–${f(s.max)})` : f(s.median);
}

export function formatNumber(x: number, digits = 0): string {
  if (!Number.isFinite(x)) return '–';
  return x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** A GitHub markdown table; `align` per column, `l` (default) or `r`. */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[], align: readonly ('l' | 'r')[] = []): string {
  const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  const rule = header.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [line(header), `|${rule.join('|')}|`, ...rows.map(line)].join('\n');
}

/** CPU time used so far, machine-wide and by this process (with its reaped children, e.g. ffmpeg). */
export interface CpuSnapshot {
  readonly at: number;
  readonly busyMs: number;
  readonly ownMs: number;
}

const TICK_MS = 10; // USER_HZ is 100 on Linux

/** Reads /proc (Linux); elsewhere every figure is 0, so contention reads as none. */
export function cpuSnapshot(): CpuSnapshot {
  const at = performance.now();
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait
    const busy = cpu.slice(0, 8).reduce((s, x, i) => (i === 3 || i === 4 ? s : s + x), 0);
    const self = readFileSync('/proc/self/stat', 'utf8');
    const fields = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    const own = fields[11]! + fields[12]! + fields[13]! + fields[14]!; // utime stime cutime cstime
    return { at, busyMs: busy * TICK_MS, ownMs: own * TICK_MS };
  } catch {
    return { at, busyMs: 0, ownMs: 0 };
  }
}

/** Share of the whole machine (0..1, all cores) that other processes used since `since`. */
export function othersCpuShare(since: CpuSnapshot, now = cpuSnapshot()): number {
  const wall = now.at - since.at;
  if (wall <= 0) return 0;
  const others = now.busyMs - since.busyMs - (now.ownMs - since.ownMs);
  return Math.max(0, Math.min(1, others / (wall * cpus().length)));
}

/**
 * Waits until other processes use at most `maxShare` of the machine over a `probeMs` window, or
 * until `timeoutMs`; says how long it waited and the last share seen. Timings taken while
 * another job runs on the same cores are not this code's speed.
 */
export async function waitForQuiet({ maxShare = 0.1, probeMs = 1000, timeoutMs = 60_000 } = {}): Promise<{ waitedMs: number; share: number }> {
  const start = performance.now();
  for (;;) {
    const before = cpuSnapshot();
    await new Promise((r) => setTimeout(r, probeMs));
    const share = othersCpuShare(before);
    const waitedMs = performance.now() - start;
    if (share <= maxShare || waitedMs >= timeoutMs) return { waitedMs, share };
  }
}

export interface QuietOptions {
  /** Most of the machine other processes may use during a kept repeat (default 0.1). */
  readonly maxShare?: number;
  /** Quiet-probe window before each attempt (default 250 ms). */
  readonly probeMs?: number;
  /** Longest wait for quiet before an attempt runs anyway (default 30 s). */
  readonly timeoutMs?: number;
  /** Attempts per repeat; the least disturbed one is kept (default 4). */
  readonly attempts?: number;
  /**
   * Time (ms) that waiting and re-runs may take, shared by every call given the same object and
   * spent down by them; once it is gone, repeats run at once and are kept whatever the load.
   */
  readonly budget?: { remainingMs: number };
}

export interface QuietRepeated<T> extends Repeated<T> {
  /** Share of the machine other processes used during each kept repeat. */
  readonly othersShare: readonly number[];
  /** Attempts run again because other processes were busy during them. */
  readonly discarded: number;
}

/**
 * {@link repeat}, on a shared machine: each repeat first waits for other processes to go quiet,
 * and a repeat during which they used more than `maxShare` of the machine is run again (up to
 * `attempts` times, keeping the least disturbed). `fn` must tolerate being run again.
 */
export async function repeatQuiet<T>(repeats: number, fn: (index: number) => T | Promise<T>, options: QuietOptions = {}): Promise<QuietRepeated<T>> {
  const { maxShare = 0.1, probeMs = 250, timeoutMs = 30_000, attempts = 4, budget = { remainingMs: Infinity } } = options;
  const ms: number[] = [];
  const results: T[] = [];
  const othersShare: number[] = [];
  let discarded = 0;
  for (let i = 0; i < repeats; i++) {
    let best: { ms: number; result: T; share: number } | undefined;
    for (let attempt = 0; attempt < Math.max(1, attempts); attempt++) {
      if (attempt > 0) discarded++;
      if (budget.remainingMs > 0) {
        const { waitedMs } = await waitForQuiet({ maxShare, probeMs, timeoutMs: Math.min(timeoutMs, budget.remainingMs) });
        budget.remainingMs -= waitedMs;
      }
      const before = cpuSnapshot();
      const result = await fn(i);
      const after = cpuSnapshot();
      const share = othersCpuShare(before, after);
      if (attempt > 0) budget.remainingMs -= after.at - before.at;
      if (!best || share < best.share) best = { ms: after.at - before.at, result, share };
      if (share <= maxShare || budget.remainingMs <= 0) break;
    }
    ms.push(best!.ms);
    results.push(best!.result);
    othersShare.push(best!.share);
  }
  return { ms, results, othersShare, discarded };
}

/** Writes pretty JSON (creating the directory), replacing the file atomically. */
export function writeJson(path: string, value: unknown): void {
  writeAtomically(path, `${JSON.stringify(value, null, 2)}\n`);
}

/**
 * Replaces the body of the `## heading` section of a markdown file (everything up to the next
 * `## ` heading) with `body`, leaving every other section as it is. The section is appended when
 * missing; the file is created with `intro` as its first line when missing. The file is read just
 * before it is written, so sections other benchmarks wrote meanwhile survive.
 */
export function updateMarkdownSection(path: string, heading: string, body: string, intro = '# Benchmarks\n'): void {
  const text = existsSync(path) ? readFileSync(path, 'utf8') : intro.endsWith('\n') ? intro : `${intro}\n`;
  const lines = text.split('\n');
  const title = `## ${heading}`;
  const start = lines.findIndex((l) => l.trimEnd() === title);
  const section = [title, '', ...body.trim().split('\n'), ''];
  if (start < 0) {
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
    lines.push('', ...section);
  } else {
    let end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
    if (end < 0) end = lines.length;
    lines.splice(start, end - start, ...section);
    while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  }
  writeAtomically(path, `${lines.join('\n').replace(/\n+$/, '')}\n`);
}

function writeAtomically(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Number.isFinite(x) ? Math.round(x * f) / f : x;
}

function cpuInfo(): { model: string | null; mhz: number | null; simd: string[] } {
  try {
    const text = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string) => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? null;
    const flags = new Set((field('flags') ?? '').split(/\s+/));
    const simd = ['sse4_2', 'avx', 'avx2', 'fma', 'avx512f', 'avx512_vnni', 'avx_vnni', 'amx_int8'].filter((f) => flags.has(f));
    const mhz = Number(field('cpu MHz'));
    return { model: field('model name'), mhz: Number.isFinite(mhz) && mhz > 0 ? mhz : null, simd };
  } catch {
    return { model: null, mhz: null, simd: [] };
  }
}

function ffmpegInfo(): MachineInfo['ffmpeg'] {
  try {
    const path = locateFfmpeg().ffmpeg;
    const first = execFileSync(path, ['-hide_banner', '-version'], { encoding: 'utf8', timeout: 10_000 }).split('\n')[0] ?? '';
    return { path, version: /version\s+(\S+)/.exec(first)?.[1] ?? first.trim() };
  } catch {
    return null;
  }
}
