import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { findOpencvPython } from '../bench/canonical-preprocess.js';

/** Repository root (the folder holding package.json). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Shared test data: `SIEVE_DATA_DIR`, else `../shared/data` beside the repository. */
export const dataDir = resolve(process.env.SIEVE_DATA_DIR ?? join(repoRoot, '..', 'shared', 'data'));

export function video(name: string): string {
  const path = join(dataDir, 'videos', name);
  if (!existsSync(path)) throw new Error(`test video missing: ${path} (set SIEVE_DATA_DIR)`);
  return path;
}

export function model(name: string): string {
  return join(dataDir, 'models', name);
}

/** An ffmpeg build the tests run against: the one bundled in the npm packages, and the one on PATH. */
export interface FfmpegBackend {
  readonly name: 'bundled' | 'path';
  readonly ffmpegPath: string;
  readonly ffprobePath: string;
  readonly version: string;
}

/**
 * The ffmpeg builds present: always the bundled 2018 static build; also the one on PATH when
 * there is one that runs (CI installs Debian's). With `SIEVE_REQUIRE_PATH_FFMPEG=1` (set by CI)
 * a missing PATH ffmpeg is an error, so that CI never skips the second decoder silently.
 */
export function ffmpegBackends(): FfmpegBackend[] {
  const require = createRequire(import.meta.url);
  const bundled = {
    ffmpegPath: (require('@ffmpeg-installer/ffmpeg') as { path: string }).path,
    ffprobePath: (require('@ffprobe-installer/ffprobe') as { path: string }).path,
  };
  const out: FfmpegBackend[] = [{ name: 'bundled', ...bundled, version: versionOf(bundled.ffmpegPath) ?? 'unknown' }];
  const onPath = (tool: string) => (process.env.PATH ?? '').split(delimiter).map((d) => join(d, tool)).find((p) => existsSync(p) && versionOf(p) !== undefined);
  const ffmpegPath = onPath('ffmpeg');
  const ffprobePath = onPath('ffprobe');
  if (ffmpegPath && ffprobePath && ffmpegPath !== bundled.ffmpegPath) out.push({ name: 'path', ffmpegPath, ffprobePath, version: versionOf(ffmpegPath)! });
  else if (process.env.SIEVE_REQUIRE_PATH_FFMPEG === '1') throw new Error('SIEVE_REQUIRE_PATH_FFMPEG=1 but no working ffmpeg and ffprobe on PATH');
  return out;
}

function versionOf(path: string): string | undefined {
  const r = spawnSync(path, ['-version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n')[0]!.trim() : undefined;
}

/**
 * A Python 3 with OpenCV (`import cv2`), for the tests that compare Sieve's pre-processing with the
 * canonical one. `undefined` when there is none; with `SIEVE_REQUIRE_OPENCV=1` (set by CI, which
 * installs Debian's python3-opencv) a missing one is an error, so CI never skips them silently.
 */
export function opencvPython(): string | undefined {
  const python = findOpencvPython();
  if (!python && process.env.SIEVE_REQUIRE_OPENCV === '1') throw new Error('SIEVE_REQUIRE_OPENCV=1 but no python3 with cv2 and numpy (apt-get install python3-opencv)');
  return python;
}
