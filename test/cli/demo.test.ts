/** `sieve demo` with no arguments: a real query on a real clip, with a progress bar. */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { video } from '../helpers.js';
import { browserMissing, renderInBrowser } from '../report/browser.js';
import { ensureBuilt, runSieve } from './run-sieve.js';

let tmp: string;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-demo-'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

// The whole 139 s clip (1394 frames): about 45 s here, most of it the cascade's sample labelling and
// training; then the exact answer on the same catalog (the rest of the frames labelled) to check it.
it('prints an FCOUNT answer from a fresh catalog, accelerated and within its error of the exact answer', { timeout: 420_000 }, async () => {
  const cache = join(tmp, 'cache');
  const run = await runSieve(['demo'], { env: { SIEVE_CACHE_DIR: cache } });
  expect(run.code, run.stderr).toBe(0);
  const answer = /^FCOUNT\(\*\) = ([0-9.]+) {2}\(95% CI ([0-9.]+) \.\. ([0-9.]+)\)/m.exec(run.stdout);
  expect(answer, run.stdout).not.toBeNull();
  const [value, low, high] = [Number(answer![1]), Number(answer![2]), Number(answer![3])];
  // The cascade ran: an interval, and the reference detector saw only part of the clip.
  const calls = /video 'lobby': 1394 frames in range; reference detector ran on (\d+)/.exec(run.stdout);
  expect(calls, run.stdout).not.toBeNull();
  expect(Number(calls![1])).toBeLessThan(1394 * 0.75);
  // The default target: +-0.075 objects per frame at 95%.
  expect(Math.max(high - value, value - low)).toBeLessThanOrEqual(0.075 + 1e-3);
  expect(run.stderr).toMatch(/sieve demo: .*intel_one_by_one_person\.mp4/);
  expect(run.stderr).toMatch(/\d+\/\d+ frames \| [0-9.]+ frames\/s \| ETA/);
  const catalog = join(cache, 'demo.duckdb');
  expect(existsSync(catalog), 'the demo catalog lives in SIEVE_CACHE_DIR').toBe(true);
  // It ends by writing the run's HTML report and saying where; a browser shows frames with boxes, the timeline and the plan.
  const report = join(cache, 'sieve-demo-report.html');
  expect(run.stderr).toContain(`report of run 1 written to ${report}`);
  const missing = browserMissing();
  if (!missing) {
    const shown = await renderInBrowser(report, 'demo-report.png');
    expect(shown).toMatchObject({ images: 24, decoded: 24, problems: [] });
    expect(shown.labelTicks).toBeGreaterThan(0);
    expect(shown.planItems).toBeGreaterThanOrEqual(3);
    expect(Number(/= ([0-9.]+)/.exec(shown.answer)?.[1])).toBeCloseTo(value, 3);
  }

  const clip = video('intel_one_by_one_person.mp4');
  const exact = await runSieve(['query', "SELECT FCOUNT(*) FROM lobby WHERE class = 'person' AND score >= 0.5", '--video', `lobby=${clip}`, '--exact', '--json', '--catalog', catalog], { env: { SIEVE_CACHE_DIR: cache } });
  expect(exact.code, exact.stderr).toBe(0);
  const truth = (JSON.parse(exact.stdout) as { value: number }).value;
  // One person at a time walks through the clip.
  expect(truth).toBeGreaterThan(0.3);
  expect(truth).toBeLessThan(1);
  expect(Math.abs(value - truth)).toBeLessThanOrEqual(0.1);
});
