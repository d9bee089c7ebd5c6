/**
 * A broken ffmpeg or ffprobe on PATH (here: an executable that fails the way a binary with a
 * missing shared library does, exit 127) must not break Sieve: it is skipped with one notice and
 * the bundled build is used. One named explicitly that does not run is an error that says so.
 */
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { VideoError } from '../../src/errors.js';
import { locateFfmpeg } from '../../src/video/ffmpeg-locator.js';
import { ensureBuilt, jsonOf, runSieve } from '../cli/run-sieve.js';
import { video } from '../helpers.js';

function brokenBinDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sieve-broken-ffmpeg-'));
  for (const tool of ['ffmpeg', 'ffprobe']) {
    const path = join(dir, tool);
    writeFileSync(path, `#!/bin/sh\necho "${tool}: error while loading shared libraries: libavdevice.so.59: cannot open shared object file: No such file or directory" >&2\nexit 127\n`);
    chmodSync(path, 0o755);
  }
  return dir;
}

const savedPath = process.env.PATH;
afterEach(() => {
  process.env.PATH = savedPath;
});

describe('locateFfmpeg', () => {
  it('skips a PATH ffmpeg and ffprobe that do not run, uses the bundled ones, and says so once', () => {
    const dir = brokenBinDir();
    // Nothing else on PATH, so that a working ffmpeg there (CI has one) does not stand in.
    process.env.PATH = dir;
    const notices: string[] = [];
    const found = locateFfmpeg({ onNotice: (m) => notices.push(m) });
    expect(found.source).toEqual({ ffmpeg: 'bundled', ffprobe: 'bundled' });
    expect(found.version).toMatch(/^ffmpeg version/);
    expect(notices).toHaveLength(2);
    expect(notices[0]).toContain(`${join(dir, 'ffmpeg')} (exit 127: ffmpeg: error while loading shared libraries`);
    expect(notices[1]).toContain('ffprobe on PATH does not run');
    // Asked again (every decode asks): the answer is remembered and nothing more is said.
    locateFfmpeg({ onNotice: (m) => notices.push(m) });
    expect(notices).toHaveLength(2);
  });

  it('refuses an explicitly named ffmpeg that does not run, saying what it printed', () => {
    const dir = brokenBinDir();
    let error: unknown;
    try {
      locateFfmpeg({ ffmpegPath: join(dir, 'ffmpeg') });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(VideoError);
    expect((error as VideoError).code).toBe('FFMPEG_NOT_FOUND');
    expect((error as VideoError).message).toMatch(/given by the option .* does not run: exit 127: ffmpeg: error while loading shared libraries/);
  });
});

describe('sieve with a broken ffmpeg on PATH', () => {
  beforeAll(ensureBuilt, 300_000);

  it('answers a cascade query with the bundled build and prints one notice per tool', async () => {
    const dir = brokenBinDir();
    const catalog = join(mkdtempSync(join(tmpdir(), 'sieve-broken-cli-')), 'c.duckdb');
    const run = await runSieve(
      ['query', "SELECT FCOUNT(*) FROM clip WHERE class = 'person' AND timestamp < 12", '--video', `clip=${video('intel_one_by_one_person.mp4')}`, '--catalog', catalog, '--json'],
      { env: { PATH: dir } },
    );
    expect(run.code, run.stderr).toBe(0);
    const notices = run.stderr.split('\n').filter((l) => l.includes('does not run'));
    expect(notices).toHaveLength(2);
    expect(notices.every((l) => l.startsWith('sieve: ') && l.includes('bundled'))).toBe(true);
    const result = jsonOf<{ value: number; stats: { framesInRange: number } }>(run);
    expect(result.stats.framesInRange).toBeGreaterThan(100);
    expect(result.value).toBeGreaterThan(0);
  });
});
