import { accessSync, chmodSync, constants, existsSync, statSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { VideoError } from '../errors.js';

/** Where to find the ffmpeg and ffprobe binaries; each falls back as DESIGN.md says. */
export interface FfmpegOptions {
  readonly ffmpegPath?: string;
  readonly ffprobePath?: string;
  /** Told once when a binary on PATH does not run and the bundled one is used instead. */
  readonly onNotice?: (message: string) => void;
}

export interface FfmpegBinaries {
  readonly ffmpeg: string;
  readonly ffprobe: string;
  /** Where each came from: `option`, `env`, `path` or `bundled`. */
  readonly source: { readonly ffmpeg: BinarySource; readonly ffprobe: BinarySource };
  /** The first line `ffmpeg -version` printed. */
  readonly version: string;
  /** Whether ffmpeg has `-fps_mode` (5.1 and later; `-vsync` is deprecated there, and older builds have only it). */
  readonly fpsMode: boolean;
}

export type BinarySource = 'option' | 'env' | 'path' | 'bundled';

const require = createRequire(import.meta.url);
const cache = new Map<string, FfmpegBinaries>();

/**
 * Finds ffmpeg and ffprobe: an explicit option, then `SIEVE_FFMPEG` / `SIEVE_FFPROBE`
 * (or `FFMPEG_PATH` / `FFPROBE_PATH`), then the binaries on PATH, then the ones shipped in
 * `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`. A candidate must run
 * (`-version`): one named explicitly that does not is an error; one on PATH that does not is
 * skipped, and `onNotice` is told once.
 */
export function locateFfmpeg(options: FfmpegOptions = {}): FfmpegBinaries {
  const env = ['SIEVE_FFMPEG', 'FFMPEG_PATH', 'SIEVE_FFPROBE', 'FFPROBE_PATH', 'PATH'].map((k) => process.env[k] ?? '').join('|');
  const key = `${options.ffmpegPath ?? ''}|${options.ffprobePath ?? ''}|${env}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const notices: string[] = [];
  const ffmpeg = locate('ffmpeg', options.ffmpegPath, ['SIEVE_FFMPEG', 'FFMPEG_PATH'], '@ffmpeg-installer/ffmpeg', notices);
  const ffprobe = locate('ffprobe', options.ffprobePath, ['SIEVE_FFPROBE', 'FFPROBE_PATH'], '@ffprobe-installer/ffprobe', notices);
  const help = spawnSync(ffmpeg.path, ['-hide_banner', '-h', 'long'], { encoding: 'utf8', timeout: 20_000 });
  const fpsMode = /^-fps_mode\b/m.test(help.stdout ?? '');
  const found: FfmpegBinaries = { ffmpeg: ffmpeg.path, ffprobe: ffprobe.path, source: { ffmpeg: ffmpeg.source, ffprobe: ffprobe.source }, version: ffmpeg.version, fpsMode };
  cache.set(key, found);
  const notice = options.onNotice ?? ((m: string) => process.emitWarning(m, 'SieveNotice'));
  for (const n of notices) notice(n);
  return found;
}

interface Found {
  readonly path: string;
  readonly source: BinarySource;
  readonly version: string;
}

function locate(tool: string, explicit: string | undefined, envNames: readonly string[], installer: string, notices: string[]): Found {
  if (explicit) return mustRun(tool, explicit, 'the option', 'option');
  for (const name of envNames) {
    const value = process.env[name];
    if (value) return mustRun(tool, value, `$${name}`, 'env');
  }
  const broken: string[] = [];
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = dir ? join(dir, tool) : '';
    if (!candidate || !isExecutable(candidate)) continue;
    const run = tryRun(candidate);
    if (run.ok) {
      if (broken.length > 0) notices.push(`${tool} on PATH does not run: ${broken.join('; ')}; using ${candidate}, later on PATH, instead`);
      return { path: candidate, source: 'path', version: run.version };
    }
    broken.push(`${candidate} (${run.reason})`);
  }
  try {
    const shipped = (require(installer) as { path: string }).path;
    if (existsSync(shipped)) {
      if (!isExecutable(shipped)) makeExecutable(shipped);
      const run = isExecutable(shipped) ? tryRun(shipped) : { ok: false as const, reason: 'not executable' };
      if (run.ok) {
        if (broken.length > 0) notices.push(`${tool} on PATH does not run: ${broken.join('; ')}; using the ${tool} bundled with ${installer} instead (fix or remove the one on PATH, or set ${envNames[0]})`);
        return { path: shipped, source: 'bundled', version: run.version };
      }
      broken.push(`${shipped} (${run.reason})`);
    }
  } catch {
    // not installed for this platform: fall through to the error below
  }
  throw new VideoError(
    'FFMPEG_NOT_FOUND',
    `${tool} was not found${broken.length ? ` in a form that runs (${broken.join('; ')})` : ''}: set ${envNames[0]} to its path, put a working one on PATH, or reinstall with 'npm ci' so that ${installer} provides it`,
  );
}

function mustRun(tool: string, path: string, from: string, source: BinarySource): Found {
  if (!isExecutable(path)) {
    throw new VideoError('FFMPEG_NOT_FOUND', `${tool} given by ${from} (${path}) is not an executable file`);
  }
  const run = tryRun(path);
  if (!run.ok) throw new VideoError('FFMPEG_NOT_FOUND', `${tool} given by ${from} (${path}) does not run: ${run.reason}. Point ${from} at a working ${tool}, or unset it to use the one on PATH or the bundled one.`);
  return { path, source, version: run.version };
}

function tryRun(path: string): { ok: true; version: string } | { ok: false; reason: string } {
  const result = spawnSync(path, ['-version'], { encoding: 'utf8', timeout: 20_000 });
  if (result.error) return { ok: false, reason: result.error.message };
  if (result.status !== 0) {
    const said = `${result.stderr ?? ''}${result.stdout ?? ''}`.split('\n').map((l) => l.trim()).find(Boolean);
    return { ok: false, reason: `exit ${result.status ?? result.signal}${said ? `: ${said.slice(0, 200)}` : ''}` };
  }
  return { ok: true, version: (result.stdout ?? '').split('\n')[0]!.trim() };
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function makeExecutable(path: string): void {
  // npm may skip the installer's own `chmod u+x` postinstall when install scripts are blocked.
  try {
    chmodSync(path, statSync(path).mode | 0o111);
  } catch {
    // read-only install: the caller reports it as not found
  }
}

/** Options that pass every decoded frame through unchanged (no frame dropped or duplicated for timing), per output. */
export function passthroughTiming(bins: Pick<FfmpegBinaries, 'fpsMode'>): string[] {
  return bins.fpsMode ? ['-fps_mode', 'passthrough'] : ['-vsync', '0'];
}
