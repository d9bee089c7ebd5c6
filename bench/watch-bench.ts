/**
 * `npm run bench:watch`: a continuous query on a real clip served live over loopback HTTP by ffmpeg
 * in real time (`-re`, listen mode), watched with the stream cascade and with the reference alone,
 * one after the other on an otherwise idle machine. Per run: input and decided frames per second,
 * lag (decision time minus arrival) before and after the cascade switched on, frames skipped,
 * reference calls, and the answer's FNR / FPR against the offline exact answer on the same file.
 *
 * Flags: `--video file` in the shared videos (default road_polecam.mp4, 25 fps: more than the
 * reference keeps up with here), `--class name` (default bus), `--seconds n` of the clip (default
 * the whole clip), `--target t` (FNR and FPR targets, default 0.2: the held-out check needs
 * ln(40)/t positives and negatives, which a short clip must hold), `--no-write`.
 *
 * Then the aggregate `SELECT FCOUNT(*) FROM cam WHERE class = '--count-class' (default car)
 * ERROR WITHIN --error (default 0.5)` per 5-s window, with the stream's count model and with the
 * reference alone: reference calls, windows whose estimate is within the target of the exact
 * per-window mean, and windows whose interval holds it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { openEngine } from '../src/engine.js';
import type { IntervalEvent, StatusEvent, WatchEvent, WindowEvent } from '../src/live/watch.js';
import { dataDir, describeMachine, isoDate, machineLine, markdownTable, resolveFromRoot, updateMarkdownSection, writeJson } from './bench-util.js';

const { values } = parseArgs({ options: { video: { type: 'string' }, class: { type: 'string' }, seconds: { type: 'string' }, target: { type: 'string' }, 'count-class': { type: 'string' }, error: { type: 'string' }, 'no-write': { type: 'boolean' } } });
const countError = Number(values.error ?? 0.5);
const COUNT_SQL = `SELECT FCOUNT(*) FROM cam WHERE class = '${values['count-class'] ?? 'car'}' ERROR WITHIN ${countError}`;
const COUNT_WINDOW = 5;
const target = Number(values.target ?? 0.2);
const videoFile = values.video ?? 'road_polecam.mp4';
const SQL = `SELECT timestamp FROM cam WHERE class = '${values.class ?? 'bus'}' FNR WITHIN ${target} FPR WITHIN ${target}`;
const ffmpeg = (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
const work = mkdtempSync(join(tmpdir(), 'sieve-watch-bench-'));
const clip = join(work, 'cam.mp4');
const machine = describeMachine();

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface RunRow {
  readonly mode: 'cascade' | 'reference alone';
  readonly frames: number;
  readonly skipped: number;
  /** Of those, skipped after the cascade switched on. */
  readonly skippedAfter: number | undefined;
  /** How far arrival fell behind the stream's clock by the end (a throttled source). */
  readonly behindSeconds: number;
  readonly referenceCalls: number;
  readonly byCascade: number;
  /** Of those, uncertain frames the model decided alone (the reference busy): the wider bound. */
  readonly byModelAlone: number;
  readonly switchedAt: number | undefined;
  readonly lagBefore: { median: number; max: number };
  readonly lagAfter: { median: number; max: number } | undefined;
  readonly inputFps: number;
  readonly processedFps: number;
  readonly fnr: number;
  readonly fpr: number;
  readonly seconds: number;
  /** The stream cascade's training, certification and verification events. */
  readonly cascadeEvents: readonly WatchEvent[];
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Serves the clip live over loopback HTTP and watches `sql` on a fresh catalog until the stream ends; every event. */
async function serveAndWatch(sql: string, cascade: boolean, window: number): Promise<{ events: WatchEvent[]; seconds: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/live.ts`;
  const server = spawn(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-re', '-i', clip, '-c', 'copy', '-muxdelay', '0', '-muxpreload', '0', '-f', 'mpegts', '-listen', '1', url], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const engine = await openEngine({ catalog: join(work, `watch-${port}.duckdb`) });
  const events: WatchEvent[] = [];
  const ac = new AbortController();
  const started = performance.now();
  try {
    for await (const e of engine.watch(sql, { streams: { cam: url }, signal: ac.signal, cascade, statusEvery: 2, window, stallSeconds: 3 })) {
      events.push(e);
      if (e.type === 'dropped') ac.abort();
    }
  } finally {
    await engine.close();
    server.kill('SIGKILL');
  }
  return { events, seconds: (performance.now() - started) / 1000 };
}

async function watchOnce(cascade: boolean, truth: Set<number>, frames: number): Promise<RunRow> {
  const { events, seconds: elapsed } = await serveAndWatch(SQL, cascade, 10);
  const status = events.filter((e): e is StatusEvent => e.type === 'status');
  const switchIndex = events.findIndex((e) => e.type === 'cascade' && e.certified);
  const statusIndex = (s: StatusEvent) => events.indexOf(s);
  const before = status.filter((s) => switchIndex < 0 || statusIndex(s) < switchIndex);
  const after = switchIndex < 0 ? [] : status.filter((s) => statusIndex(s) > switchIndex && s.cascade);
  const end = events[events.length - 1] as { processed: number; skipped: number };
  const last = status[status.length - 1];
  const watched = new Set<number>();
  for (const i of events.filter((e): e is IntervalEvent => e.type === 'interval')) for (let f = i.startFrame; f <= i.endFrame; f++) watched.add(f);
  const fn = [...truth].filter((f) => !watched.has(f)).length;
  const fp = [...watched].filter((f) => !truth.has(f)).length;
  const lag = (xs: StatusEvent[]) => ({ median: median(xs.map((s) => s.lagSeconds.median)), max: Math.max(0, ...xs.map((s) => s.lagSeconds.max)) });
  const switched = switchIndex < 0 ? undefined : events.slice(0, switchIndex).filter((e) => e.type === 'interval' || e.type === 'status').length;
  return {
    mode: cascade ? 'cascade' : 'reference alone',
    frames: end.processed + end.skipped,
    skipped: end.skipped,
    skippedAfter: switchIndex < 0 ? undefined : end.skipped - (before[before.length - 1]?.skipped ?? 0),
    behindSeconds: last?.behindSeconds ?? 0,
    referenceCalls: end.processed - (last?.byCascade ?? 0),
    byCascade: last?.byCascade ?? 0,
    byModelAlone: last?.byModelAlone ?? 0,
    switchedAt: switched,
    lagBefore: lag(before),
    lagAfter: after.length ? lag(after) : undefined,
    inputFps: median(status.map((s) => s.inputFps)),
    processedFps: median(status.map((s) => s.processedFps)),
    fnr: truth.size ? fn / truth.size : 0,
    fpr: fp / Math.max(1, frames - truth.size),
    seconds: elapsed,
    cascadeEvents: events.filter((e) => e.type === 'training' || e.type === 'cascade' || e.type === 'verification'),
  };
}

// A camera's stream: a GOP of about a second, no B-frames.
const made = spawnSync(ffmpeg, ['-hide_banner', '-loglevel', 'error', '-i', join(dataDir(), 'videos', videoFile), ...(values.seconds ? ['-t', values.seconds] : []), '-an', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '25', '-bf', '0', '-pix_fmt', 'yuv420p', clip]);
if (made.status !== 0) throw new Error(String(made.stderr));
const truthEngine = await openEngine({ catalog: join(work, 'truth.duckdb') });
const exact = await truthEngine.query(SQL.replace(/ FNR WITHIN.*/, '').replace('SELECT timestamp', 'SELECT frame'), { videos: { cam: clip }, exact: true });
await truthEngine.close();
const frames = exact.stats.framesInRange;
const truth = new Set(exact.rows.map((r) => Number(r['frame'])));
console.log(`truth: ${truth.size} of ${frames} frames positive`);
const rows: RunRow[] = [];
for (const cascade of [true, false]) {
  const row = await watchOnce(cascade, truth, frames);
  rows.push(row);
  console.log(JSON.stringify(row));
}

interface CountRow {
  readonly mode: 'count model' | 'reference alone';
  readonly windows: number;
  readonly referenceCalls: number;
  readonly byModel: number;
  readonly skipped: number;
  /** Windows whose estimate is within the error target of the exact per-window mean, and whose interval holds it. */
  readonly withinTarget: number;
  readonly intervalHolds: number;
  readonly meanAbsError: number;
  readonly lagMedian: number;
  readonly countEvents: readonly WatchEvent[];
}

async function countOnce(cascade: boolean, perFrame: Map<number, number>, fps: number): Promise<CountRow> {
  const { events } = await serveAndWatch(COUNT_SQL, cascade, COUNT_WINDOW);
  const windows = events.filter((e): e is WindowEvent => e.type === 'window' && e.frames >= COUNT_WINDOW * fps * 0.9);
  const errors = windows.map((w) => {
    const first = Math.round(w.start * fps);
    let sum = 0;
    for (let f = first; f < first + w.frames; f++) sum += perFrame.get(f) ?? 0;
    const exact = sum / w.frames;
    return { error: Math.abs(w.value - exact), holds: w.interval ? w.interval.low <= exact && exact <= w.interval.high : w.value === exact };
  });
  const end = events[events.length - 1] as { processed: number; skipped: number };
  const status = events.filter((e): e is StatusEvent => e.type === 'status');
  const byModel = status[status.length - 1]?.byCascade ?? 0;
  return {
    mode: cascade ? 'count model' : 'reference alone',
    windows: windows.length,
    referenceCalls: end.processed - byModel,
    byModel,
    skipped: end.skipped,
    withinTarget: errors.filter((e) => e.error <= countError).length,
    intervalHolds: errors.filter((e) => e.holds).length,
    meanAbsError: errors.reduce((a, e) => a + e.error, 0) / Math.max(1, errors.length),
    lagMedian: median(status.map((s) => s.lagSeconds.median)),
    countEvents: events.filter((e) => e.type === 'training' || e.type === 'count-model' || e.type === 'count-verification'),
  };
}

const countEngine = await openEngine({ catalog: join(work, 'count-truth.duckdb') });
const countClass = values['count-class'] ?? 'car';
const objects = await countEngine.query(`SELECT * FROM cam WHERE class = '${countClass}'`, { videos: { cam: clip }, exact: true });
const fps = (await countEngine.listVideos())[0]?.fps ?? 25;
await countEngine.close();
const perFrame = new Map<number, number>();
for (const r of objects.rows) perFrame.set(Number(r['frame']), (perFrame.get(Number(r['frame'])) ?? 0) + 1);
const countRows: CountRow[] = [];
for (const cascade of [true, false]) {
  const row = await countOnce(cascade, perFrame, fps);
  countRows.push(row);
  console.log(JSON.stringify(row));
}
rmSync(work, { recursive: true, force: true });

if (!values['no-write']) {
  const date = isoDate();
  writeJson(resolveFromRoot('bench', 'results', 'watch.json'), { date, machine, video: videoFile, sql: SQL, frames, rows, count: { sql: COUNT_SQL, window: COUNT_WINDOW, rows: countRows } });
  const f = (x: number, d = 2) => x.toFixed(d);
  const table = markdownTable(
    ['mode', 'frames', 'skipped (after the switch)', 'behind the source clock s', 'reference calls', 'by the cascade (alone)', 'fps in / decided', 'lag before the switch: median / max s', 'lag after: median / max s', 'FNR', 'FPR'],
    rows.map((r) => [r.mode, String(r.frames), `${r.skipped}${r.skippedAfter !== undefined ? ` (${r.skippedAfter})` : ''}`, f(r.behindSeconds, 1), String(r.referenceCalls), `${r.byCascade} (${r.byModelAlone})`, `${f(r.inputFps, 1)} / ${f(r.processedFps, 1)}`, `${f(r.lagBefore.median)} / ${f(r.lagBefore.max)}`, r.lagAfter ? `${f(r.lagAfter.median)} / ${f(r.lagAfter.max)}` : '-', f(r.fnr, 3), f(r.fpr, 3)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  updateMarkdownSection(
    resolveFromRoot('BENCHMARKS.md'),
    'Live stream: lag and accuracy',
    `\`npm run bench:watch${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}\`, ${date}, ${machineLine(machine)}. ${videoFile}${values.seconds ? ` (first ${values.seconds} s)` : ''} re-encoded as a camera sends it (GOP 25 frames, no B-frames) and served over loopback HTTP by ffmpeg in real time; \`${SQL}\`; the two runs one after the other, nothing else running. FNR / FPR of the emitted intervals against the offline exact answer on the same file (${truth.size} of ${frames} frames positive). Lag: decision time minus arrival, per 2-s status event (median of medians, largest max).\n\n${table}`,
  );
  const countTable = markdownTable(
    ['mode', 'windows', 'reference calls', 'frames by the model', 'skipped', `windows within ${countError}`, 'intervals holding the exact mean', 'mean abs error', 'lag median s'],
    countRows.map((r) => [r.mode, String(r.windows), String(r.referenceCalls), String(r.byModel), String(r.skipped), `${r.withinTarget} / ${r.windows}`, `${r.intervalHolds} / ${r.windows}`, f(r.meanAbsError, 3), f(r.lagMedian)]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
  );
  updateMarkdownSection(
    resolveFromRoot('BENCHMARKS.md'),
    'Live stream: aggregates',
    `Same run, same clip and server: \`${COUNT_SQL}\` per ${COUNT_WINDOW}-s window, with the stream's count model (control variates) and with the reference alone; windows of at least 90% of ${COUNT_WINDOW} s compared with the exact per-window mean.\n\n${countTable}`,
  );
}
