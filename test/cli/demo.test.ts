/** `sieve demo` with no arguments: a real query on a real clip, with a progress bar. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ensureBuilt, runSieve } from './run-sieve.js';

let tmp: string;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-demo-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The whole 139 s clip (1394 frames): about 45 s here, most of it the cascade's sample labelling and training.
it('prints an FCOUNT answer from a fresh catalog', { timeout: 240_000 }, async () => {
  const cache = join(tmp, 'cache');
  const run = await runSieve(['demo'], { env: { SIEVE_CACHE_DIR: cache } });
  expect(run.code, run.stderr).toBe(0);
  const answer = /^FCOUNT\(\*\) = ([0-9.]+)/m.exec(run.stdout);
  expect(answer, run.stdout).not.toBeNull();
  // One person at a time walks through the clip: between none and one per frame on average.
  expect(Number(answer![1])).toBeGreaterThan(0);
  expect(Number(answer![1])).toBeLessThan(1.5);
  expect(run.stdout).toMatch(/video 'lobby': 1394 frames in range; reference detector ran on \d+/);
  expect(run.stderr).toMatch(/sieve demo: .*intel_one_by_one_person\.mp4/);
  expect(run.stderr).toMatch(/\d+\/\d+ frames \| [0-9.]+ frames\/s \| ETA/);
  expect(existsSync(join(cache, 'demo.duckdb')), 'the demo catalog lives in SIEVE_CACHE_DIR').toBe(true);
});
