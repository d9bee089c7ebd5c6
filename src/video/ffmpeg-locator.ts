import { accessSync, chmodSync, constants, existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { VideoError } from '../errors.js';

/** Where to find the ffmpeg and ffprobe binaries; each falls back as DESIGN.md says. */
export interface FfmpegOptions {
  readonly ffmpegPath?: string;
  readonly ffprobePath?: string;
}

export interface FfmpegBinaries {
  readonly ffmpeg: string;
  readonly ffprobe: string;
}

const require = createRequire(import.meta.url);
const cache = new Map<string, FfmpegBinaries>();

/**
 * Finds ffmpeg and ffprobe: an explicit option, then `SIEVE_FFMPEG` / `SIEVE_FFPROBE`
 * (or `FFMPEG_PATH` / `FFPROBE_PATH`), then the binaries on PATH, then the ones shipped in
 * `@ffmpeg-installer/ffmpeg` and `@ffprobe-installer/ffprobe`.
 */
export function locateFfmpeg(options: FfmpegOptions = {}): FfmpegBinaries {
  const key = `${options.ffmpegPath ?? ''}|${options.ffprobePath ?? ''}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const found = {
    ffmpeg: locate('ffmpeg', options.ffmpegPath, ['SIEVE_FFMPEG', 'FFMPEG_PATH'], '@ffmpeg-installer/ffmpeg'),
    ffprobe: locate('ffprobe', options.ffprobePath, ['SIEVE_FFPROBE', 'FFPROBE_PATH'], '@ffprobe-installer/ffprobe'),
  };
  cache.set(key, found);
  return found;
}

function locate(tool: string, explicit: string | undefined, envNames: readonly string[], installer: string): string {
  if (explicit) return mustBeExecutable(tool, explicit, 'the option');
  for (const name of envNames) {
    const value = process.env[name];
    if (value) return mustBeExecutable(tool, value, `$${name}`);
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutable(join(dir, tool))) return join(dir, tool);
  }
  try {
    const shipped = (require(installer) as { path: string }).path;
    if (existsSync(shipped)) {
      if (!isExecutable(shipped)) makeExecutable(shipped);
      if (isExecutable(shipped)) return shipped;
    }
  } catch {
    // not installed for this platform: fall through to the error below
  }
  throw new VideoError(
    'FFMPEG_NOT_FOUND',
    `${tool} was not found: set ${envNames[0]} to its path, put it on PATH, or reinstall with 'npm ci' so that ${installer} provides it`,
  );
}

function mustBeExecutable(tool: string, path: string, from: string): string {
  if (!isExecutable(path)) {
    throw new VideoError('FFMPEG_NOT_FOUND', `${tool} given by ${from} (${path}) is not an executable file`);
  }
  return path;
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
