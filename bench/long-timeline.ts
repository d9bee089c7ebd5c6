/**
 * Long same-camera timelines for cost-at-scale measurements: the real 7.6-minute UCSD Ped2
 * timeline in `../shared/data/long/`, and longer ones made by concatenating it with ffmpeg's
 * concat demuxer (stream copy, no re-encode). Repeated content measures cost, never accuracy.
 * The copies are written outside the repository (`SIEVE_TIMELINE_DIR`, default the system temp
 * directory) and reused while they exist.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { locateFfmpeg } from '../src/video/ffmpeg-locator.js';

export const TIMELINE_FILE = 'ucsd_ped2_walkway_concat.mp4';

/** The real timeline (4,560 frames at 10 fps, 360x240). */
export function realTimeline(dataDir: string): string {
  const path = join(dataDir, 'long', TIMELINE_FILE);
  if (!existsSync(path)) throw new Error(`long timeline missing: ${path} (set SIEVE_DATA_DIR)`);
  return path;
}

/** The real timeline repeated `copies` times, built once (atomically: a half-written file never has the final name). */
export function repeatedTimeline(dataDir: string, copies: number, dir = process.env.SIEVE_TIMELINE_DIR ?? join(tmpdir(), 'sieve-timelines')): string {
  const source = realTimeline(dataDir);
  if (copies === 1) return source;
  mkdirSync(dir, { recursive: true });
  const out = resolve(dir, `ucsd_ped2_walkway_x${copies}.mp4`);
  if (existsSync(out) && statSync(out).size > statSync(source).size * copies * 0.9) return out;
  const list = join(dir, `list-x${copies}-${process.pid}.txt`);
  writeFileSync(list, Array.from({ length: copies }, () => `file '${source.replace(/'/g, "'\\''")}'`).join('\n') + '\n');
  const partial = `${out}.${process.pid}.partial.mp4`;
  try {
    execFileSync(locateFfmpeg().ffmpeg, ['-v', 'error', '-nostdin', '-y', '-f', 'concat', '-safe', '0', '-i', list, '-c', 'copy', '-an', partial]);
    renameSync(partial, out);
  } finally {
    rmSync(list, { force: true });
    rmSync(partial, { force: true });
  }
  return out;
}
