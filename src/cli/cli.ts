import { Command, CommanderError, Option } from 'commander';
import { SieveError } from '../errors.js';
import { exitCodeFor } from './exit-codes.js';
import { openEngine, type Engine, type EngineOptions } from '../engine.js';
import type { QueryResult } from '../engine-types.js';
import { prepareDemo } from './demo.js';
import { formatIndex, formatResult, formatVideos } from './format.js';
import { formatRunDetail, formatRuns } from './format-runs.js';
import { describeWatchEvent, parseDuration } from './format-watch.js';
import { writeReport } from './report-file.js';
import { progressRenderer } from './progress.js';

/** A command-line flag for one engine option. */
interface EngineFlag {
  readonly flag: string;
  readonly description: string;
  readonly env?: string;
}

/**
 * Every engine option, and the flag that sets it or why none does: the table is total over
 * `EngineOptions`, so a new option fails to compile until it is decided here.
 */
const ENGINE_FLAGS: { readonly [K in keyof Required<EngineOptions>]: EngineFlag | { readonly none: string } } = {
  catalog: { flag: '--catalog <file>', description: 'DuckDB catalog file (videos, labels, models, runs)', env: 'SIEVE_CATALOG' },
  referenceModel: { flag: '--model <name|file>', description: 'reference detector: a built-in name or an ONNX file', env: 'SIEVE_MODEL' },
  modelDir: { flag: '--model-dir <dir>', description: 'directory holding model files', env: 'SIEVE_MODEL_DIR' },
  dataDir: { flag: '--data-dir <dir>', description: 'test and demo data (videos/, models/)', env: 'SIEVE_DATA_DIR' },
  executionProvider: { flag: '--provider <ep>', description: 'execution provider: cpu, cuda, webgpu or auto', env: 'SIEVE_PROVIDER' },
  cacheDir: { none: 'SIEVE_CACHE_DIR, read by the model store' },
  ffmpegPath: { none: 'SIEVE_FFMPEG, read by the ffmpeg locator' },
  ffprobePath: { none: 'SIEVE_FFPROBE, read by the ffmpeg locator' },
  onNotice: { none: 'the CLI prints notices on stderr' },
  replayLabels: { none: 'a library option for accuracy checks' },
};

const FLAGGED = (Object.entries(ENGINE_FLAGS) as [keyof EngineOptions, EngineFlag | { none: string }][]).filter((e): e is [keyof EngineOptions, EngineFlag] => 'flag' in e[1]);

interface CommonFlags {
  json?: boolean;
  progress?: boolean;
  [key: string]: unknown;
}

/** What every command shares: the interrupt signal, and whether errors print as JSON. */
interface CliSession {
  readonly signal: AbortSignal;
  json: boolean;
}

/**
 * Runs the `sieve` command line and returns the exit code. Errors are printed here and nowhere
 * else; a `SieveError`'s category picks the exit code.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const program = new Command('sieve')
    .description('Ask SQL (FrameQL) questions of video; answers match the reference object detector while it sees few frames.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError('(run sieve --help for usage)');
  const controller = new AbortController();
  const onSignal = () => controller.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const session: CliSession = { signal: controller.signal, json: false };
  for (const add of COMMANDS) add(program, session);
  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return 0;
  } catch (error) {
    return reportError(error, session.json);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Prints an error (and as JSON on stdout with `--json`) and returns its exit code. */
function reportError(error: unknown, json: boolean): number {
  if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
  if (json && error instanceof SieveError) process.stdout.write(`${JSON.stringify({ error: error.toJSON() }, null, 2)}\n`);
  process.stderr.write(`sieve: ${error instanceof SieveError ? `${error.message} [${error.code}]` : `internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`}\n`);
  return exitCodeFor(error);
}

type Progress = ReturnType<typeof progressRenderer>;

/** Opens an engine with the command's flags, runs `fn`, and closes it whatever happens. */
async function withEngine<T>(session: CliSession, flags: CommonFlags, fn: (engine: Engine, progress: Progress) => Promise<T>): Promise<T> {
  session.json = Boolean(flags.json);
  const progress = progressRenderer({ force: flags.progress === true });
  const options: Record<string, unknown> = { onNotice: (m: string) => process.stderr.write(`sieve: ${m}\n`) };
  for (const [key, f] of FLAGGED) {
    const value = flags[optionName(f.flag)];
    if (value !== undefined) options[key] = value;
  }
  const engine = await openEngine(options as EngineOptions);
  try {
    return await fn(engine, progress);
  } finally {
    progress.stop();
    await engine.close();
  }
}

function printResult(result: QueryResult, flags: CommonFlags): void {
  process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatResult(result)}\n`);
}

/** The options every command takes. */
function common(command: Command): Command {
  for (const [, f] of FLAGGED) {
    const option = new Option(f.flag, f.description);
    command.addOption(f.env ? option.env(f.env) : option);
  }
  return command.option('--json', 'print machine-readable JSON on stdout').option('--progress', 'show progress bars even when stderr is not a terminal');
}

const COMMANDS: readonly ((program: Command, session: CliSession) => void)[] = [queryCommand, watchCommand, addCommand, videosCommand, labelCommand, indexCommand, runsCommand, reportCommand, demoCommand];

function queryCommand(program: Command, session: CliSession): void {
  common(
    program
      .command('query')
      .description('answer a FrameQL query (EXPLAIN and EXPLAIN ANALYZE print the plan)')
      .argument('<sql>', `the query, e.g. "SELECT FCOUNT(*) FROM video WHERE class='car'"`)
      .option('--video <[name=]path>', 'bind a video file to a name for this query (repeatable; a bare path binds the name "video")', collect, [])
      .option('--exact', 'run the reference detector on every frame in range (ground truth)')
      .option('--report <file>', 'also write an HTML report of the run (answer, plan, timeline, frames with boxes)')
      .addHelpText('after', `\nExamples:\n  sieve query "SELECT FCOUNT(*) FROM video WHERE class='car' AND score >= 0.5" --video clip.mp4\n  sieve query "SELECT timestamp FROM traffic WHERE class='bus' LIMIT 5" --video traffic=clip.mp4 --json\n  sieve query "EXPLAIN SELECT COUNT(DISTINCT frame) FROM traffic WHERE class='car'"`),
  ).action(async (sql: string, flags: CommonFlags & { video: string[]; exact?: boolean; report?: string }) => {
    await withEngine(session, flags, async (engine, progress) => {
      const result = await engine.query(sql, { videos: parseVideoBindings(flags.video), exact: flags.exact, signal: session.signal, onProgress: progress.onProgress });
      progress.stop();
      printResult(result, flags);
      if (flags.report && result.runId !== undefined) await writeReport(engine, result.runId, flags.report);
    });
  });
}

interface WatchFlags extends CommonFlags {
  video: string[];
  window: string;
  statusEvery: string;
  backlog?: number;
  maxLag: string;
  retries?: number;
  follow?: boolean;
  realtime?: boolean;
  listen?: boolean;
  cascade: boolean;
  verifyWindow?: string;
}

function watchCommand(program: Command, session: CliSession): void {
  common(
    program
      .command('watch')
      .description('run a continuous query over a live stream until stopped (Ctrl-C); events as JSON lines on stdout')
      .argument('<sql>', `the query, e.g. "SELECT timestamp FROM cam WHERE class='bus'"`)
      .option('--video <[name=]url>', 'bind a live input to a name: rtsp://, http(s)://, udp://, rtp://, a file (--follow while it grows) or - for stdin (repeatable)', collect, [])
      .option('--window <duration>', 'window of FCOUNT/COUNT answers (60s, 5m, ...)', '60s')
      .option('--status-every <duration>', 'how often to report fps, lag and skipped frames', '10s')
      .option('--max-lag <duration>', 'frames may wait this long for a decision; older ones are skipped (and counted)', '1s')
      .option('--backlog <frames>', 'frames waiting for the detector before the oldest are skipped (overrides --max-lag)', Number)
      .option('--retries <n>', 'failed reconnects in a row before giving up (default: retry forever)', Number)
      .option('--follow', 'a local file that is still being written: read on as it grows')
      .option('--realtime', 'read a local file at its native frame rate, as a camera delivers it')
      .option('--listen', 'wait for the camera to connect and push (RTSP ANNOUNCE/RECORD, RTMP, HTTP POST, TCP) on the URL\'s address')
      .option('--no-cascade', 'decide every frame with the reference detector (no specialized model)')
      .option('--verify-window <duration>', 'window over which the running cascade is checked against the reference (default: --window)')
      .addHelpText('after', `\nExamples:\n  sieve watch "SELECT timestamp FROM cam WHERE class='bus'" --video cam=rtsp://10.0.0.5/stream1\n  sieve watch "SELECT FCOUNT(*) FROM cam WHERE class='car'" --video cam=udp://0.0.0.0:5000 --window 60s`),
  ).action(async (sql: string, flags: WatchFlags) => {
    const window = parseDuration(flags.window);
    const statusEvery = parseDuration(flags.statusEvery);
    const verifyWindow = flags.verifyWindow === undefined ? window : parseDuration(flags.verifyWindow);
    const maxLag = parseDuration(flags.maxLag);
    if (window === undefined || statusEvery === undefined || verifyWindow === undefined || maxLag === undefined) {
      process.stderr.write(`sieve: --window, --status-every, --verify-window and --max-lag take a duration such as 60s or 5m (got '${[flags.window, flags.statusEvery, flags.verifyWindow, flags.maxLag].find((d) => d !== undefined && parseDuration(d) === undefined)}')\n`);
      throw new CommanderError(2, 'sieve.duration', 'bad duration');
    }
    await withEngine(session, flags, async (engine) => {
      const options = { streams: parseVideoBindings(flags.video), window, statusEvery, verifyWindow, cascade: flags.cascade, signal: session.signal, backlog: flags.backlog, maxLag, retries: flags.retries, follow: flags.follow, realtime: flags.realtime, listen: flags.listen };
      for await (const event of engine.watch(sql, options)) {
        process.stdout.write(`${JSON.stringify(event)}\n`);
        const line = describeWatchEvent(event);
        if (line) process.stderr.write(`${line}\n`);
      }
    });
  });
}

function addCommand(program: Command, session: CliSession): void {
  common(
    program
      .command('add')
      .description('register a video in the catalog under a name')
      .argument('<path>', 'video file (MP4, AVI, ...)')
      .option('--name <name>', 'name to query it by (default: the file name without extension)'),
  ).action(async (path: string, flags: CommonFlags & { name?: string }) => {
    await withEngine(session, flags, async (engine) => {
      const video = await engine.addVideo(path, flags.name);
      process.stdout.write(flags.json ? `${JSON.stringify(video, null, 2)}\n` : `added '${video.name}': ${video.frameCount} frames, ${video.width}x${video.height}, ${video.fps.toFixed(2)} fps (${video.path})\n`);
    });
  });
}

function videosCommand(program: Command, session: CliSession): void {
  common(program.command('videos').description('list the videos in the catalog and how much of each is labelled')).action(async (flags: CommonFlags) => {
    await withEngine(session, flags, async (engine) => {
      const videos = await engine.listVideos();
      process.stdout.write(flags.json ? `${JSON.stringify(videos, null, 2)}\n` : `${formatVideos(videos)}\n`);
    });
  });
}

function labelCommand(program: Command, session: CliSession): void {
  common(
    program
      .command('label')
      .description('run the reference detector over a video (or a part) and store its labels; resumes where it stopped')
      .argument('<video>', 'a catalog name or a file path')
      .option('--from <seconds>', 'start time', Number)
      .option('--to <seconds>', 'end time', Number)
      .option('--step <n>', 'label every n-th frame', Number),
  ).action(async (video: string, flags: CommonFlags & { from?: number; to?: number; step?: number }) => {
    await withEngine(session, flags, async (engine, progress) => {
      const summary = await engine.label(video, { from: flags.from, to: flags.to, step: flags.step, signal: session.signal, onProgress: progress.onProgress });
      progress.stop();
      process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : `labelled ${summary.referenceCalls} frames (${summary.alreadyLabelled} were already in the label store) of '${summary.video}' in ${summary.seconds.toFixed(1)} s\n`);
    });
  });
}

function indexCommand(program: Command, session: CliSession): void {
  common(
    program
      .command('index')
      .description("build a video's index once (reference labels on a sample, a count model per class, its count on every frame) for later queries to start from")
      .argument('<video>', 'a catalog name or a file path')
      .option('--classes <names>', 'comma-separated classes to index (default: every class the sample shows on at least 1% of its frames)', (v: string) => v.split(',').map((c) => c.trim()).filter(Boolean)),
  ).action(async (video: string, flags: CommonFlags & { classes?: string[] }) => {
    await withEngine(session, flags, async (engine, progress) => {
      const summary = await engine.index(video, { ...(flags.classes ? { classes: flags.classes } : {}), signal: session.signal, onProgress: progress.onProgress });
      progress.stop();
      process.stdout.write(flags.json ? `${JSON.stringify(summary, null, 2)}\n` : `${formatIndex(summary)}\n`);
    });
  });
}

function runsCommand(program: Command, session: CliSession): void {
  const runs = program.command('runs').description('the stored runs: what each query, label and index run asked, cost and reused');
  common(runs.command('list', { isDefault: true }).description('list stored runs, newest first').option('--limit <n>', 'how many', Number, 20)).action(async (flags: CommonFlags & { limit: number }) => {
    await withEngine(session, flags, async (engine) => {
      const list = await engine.runs(flags.limit);
      process.stdout.write(flags.json ? `${JSON.stringify(list, null, 2)}\n` : `${formatRuns(list)}\n`);
    });
  });
  common(runs.command('show').description("one run: query, plan, reference model and sha256, specialized models and their training, what it reused from which runs, costs, accuracy").argument('<id>', 'run id (sieve runs lists them)', runId)).action(async (id: number, flags: CommonFlags) => {
    await withEngine(session, flags, async (engine) => {
      const detail = await engine.run(id);
      process.stdout.write(flags.json ? `${JSON.stringify(detail, null, 2)}\n` : `${formatRunDetail(detail)}\n`);
    });
  });
}

function reportCommand(program: Command, session: CliSession): void {
  common(
    program
      .command('report')
      .description('write a self-contained HTML report of a stored run: answer and bounds, plan with stage costs, timeline, matched frames with boxes')
      .argument('<run>', 'run id (sieve runs lists them)', runId)
      .option('-o, --output <file>', 'where to write it', 'sieve-report.html'),
  ).action(async (id: number, flags: CommonFlags & { output: string }) => {
    await withEngine(session, flags, async (engine) => {
      await writeReport(engine, id, flags.output);
    });
  });
}

function runId(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new SieveError('BAD_RUN_ID', 'input', `'${value}' is not a run id: give the number 'sieve runs' lists`, { value });
  return n;
}

function demoCommand(program: Command, session: CliSession): void {
  common(
    program
      .command('demo')
      .description('run a real query on a sample clip (uses SIEVE_DATA_DIR or ../shared/data; elsewhere downloads a sample clip and model, checksummed)')
      .option('--exact', 'answer with the reference detector on every frame')
      .option('--report <file>', 'where to write the HTML report (default: sieve-demo-report.html in the cache directory)'),
  ).action(async (flags: CommonFlags & { exact?: boolean; report?: string }) => {
    const demo = await prepareDemo({ dataDir: flags['dataDir'] as string | undefined, onNotice: (m) => process.stderr.write(`sieve: ${m}\n`) });
    if (!flags['catalog']) flags['catalog'] = demo.catalog;
    if (!flags['modelDir'] && demo.modelDir) flags['modelDir'] = demo.modelDir;
    await withEngine(session, { ...flags, progress: flags.progress ?? true }, async (engine, progress) => {
      process.stderr.write(`sieve demo: ${demo.description}\n  ${demo.sql}\n`);
      const result = await engine.query(demo.sql, { videos: { [demo.name]: demo.video }, exact: flags.exact, signal: session.signal, onProgress: progress.onProgress });
      progress.stop();
      printResult(result, flags);
      if (result.runId !== undefined) await writeReport(engine, result.runId, flags.report ?? demo.report);
    });
  });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `name=path` binds a name; a bare path binds `video`. */
export function parseVideoBindings(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.+)$/.exec(spec);
    if (m) out[m[1]!] = m[2]!;
    else out['video'] = spec;
  }
  return out;
}

function optionName(flag: string): string {
  return flag
    .replace(/^--/, '')
    .split(' ')[0]!
    .replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
