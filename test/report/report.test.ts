/**
 * Run history and the HTML report, on a real clip: two runs on one catalog (an exact selection,
 * then a count that reads the first run's labels back), `sieve runs` / `sieve runs show` /
 * `sieve report` through the real binary, and the report opened in a real headless Chromium
 * (Debian's, driven by playwright-core; no browser download), which must render the timeline and
 * the thumbnails without a console error. The screenshot is kept in `test-artifacts/`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine, type Engine } from '../../src/engine.js';
import type { QueryResult } from '../../src/engine-types.js';
import { SieveError } from '../../src/errors.js';
import type { RunDetail, RunListing } from '../../src/runs/run-view.js';
import { esc } from '../../src/report/report-html.js';
import { video } from '../helpers.js';
import { browserMissing, renderInBrowser } from './browser.js';
import { ensureBuilt, jsonOf, runSieve } from '../cli/run-sieve.js';

const clip = video('campus_pedestrians_vtest.mp4');
const SELECT = "SELECT frame FROM campus WHERE class = 'person' AND timestamp < 3";
const COUNT = "SELECT FCOUNT(*) FROM campus WHERE class = 'person' AND timestamp < 3";

let tmp: string;
let engine: Engine;
let selection: QueryResult;
let count: QueryResult;

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-report-'));
  engine = await openEngine({ catalog: join(tmp, 'c.duckdb') });
  await engine.addVideo(clip, 'campus');
  selection = await engine.query(SELECT);
  count = await engine.query(COUNT);
  await engine.close();
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const cli = (args: string[]) => runSieve([...args, '--catalog', join(tmp, 'c.duckdb')], { env: { SIEVE_CACHE_DIR: join(tmp, 'cache') } });

describe('run history', () => {
  it('every query is a stored run; the second names the first, whose labels it read', async () => {
    expect(selection.runId).toBeGreaterThan(0);
    expect(count.runId).toBeGreaterThan(selection.runId!);
    expect(selection.stats.referenceCalls).toBe(30);
    expect(count.stats.referenceCalls).toBe(0);
    const list = await cli(['runs', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const runs = jsonOf<RunListing[]>(list);
    expect(runs.map((r) => r.id)).toEqual([count.runId, selection.runId]);
    expect(runs[1]).toMatchObject({ status: 'ok', video: 'campus', referenceCalls: 30, reusedRuns: [] });
    expect(runs[0]).toMatchObject({ referenceCalls: 0, labelsFromStore: 30, reusedRuns: [selection.runId] });

    const show = await cli(['runs', 'show', String(count.runId), '--json']);
    expect(show.code, show.stderr).toBe(0);
    const detail = jsonOf<RunDetail>(show);
    expect(detail.provenance!.labels).toEqual([{ run: selection.runId, frames: 30 }]);
    expect(detail.sources).toEqual([{ run: selection.runId, query: SELECT }]);
    expect(detail.referenceModel!.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(detail.answer!.value).toBe(count.value);
    expect(detail.answer!.plan).toMatch(/Actual: 30 frames in range, 30 labels from the store, 0 reference calls/);

    const text = await cli(['runs', 'show', String(count.runId)]);
    expect(text.stdout).toMatch(new RegExp(`30 reference labels from run ${selection.runId} \\(SELECT frame FROM campus`));
    expect(text.stdout).toMatch(/model: +yolo11n_int8dyn_640, sha256 [0-9a-f]{64}/);
    const table = await cli(['runs']);
    expect(table.stdout).toMatch(new RegExp(`^${count.runId}\\s.*\\bcampus\\s+0\\s+30\\s.*#${selection.runId}\\s`, 'm'));
  });

  it('an unknown run is a clear error, from the library and the command line', async () => {
    const e = await openEngine({ catalog: join(tmp, 'c.duckdb') });
    try {
      await expect(e.run(999)).rejects.toSatisfy((err: unknown) => err instanceof SieveError && err.code === 'RUN_NOT_FOUND');
    } finally {
      await e.close();
    }
    const run = await cli(['runs', 'show', '999']);
    expect(run.code).toBe(3);
    expect(run.stderr).toMatch(/no stored run 999 in this catalog; 'sieve runs' lists them \[RUN_NOT_FOUND\]/);
    const bad = await cli(['report', 'abc']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/'abc' is not a run id/);
  });
});

describe('HTML report', () => {
  it('sieve report writes one self-contained page with the answer, plan, timeline and boxed thumbnails', async () => {
    const out = join(tmp, 'select.html');
    const run = await cli(['report', String(selection.runId), '-o', out]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toContain(`report of run ${selection.runId} written to ${out}`);
    const html = readFileSync(out, 'utf8');
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//); // nothing fetched at view time
    expect(html).toContain(`<pre class="query">${esc(SELECT)}</pre>`);
    expect(html).toMatch(/<b>30<\/b> rows, 30 matched frames in 1 interval/);
    expect(html).toMatch(/24 of 30 matched frames, sampled evenly over time/);
    expect(html.match(/<img src="data:image\/jpeg;base64,/g)).toHaveLength(24);
    expect(html).toMatch(/ReferenceScan yolo11n_int8dyn_640/);
    expect(html).toMatch(/<td>reference detector<\/td><td>30<\/td><td>30<\/td>/);
    expect(html.length).toBeLessThan(2_000_000);
  });

  it('opens in headless Chromium: timeline and thumbnails render, no console errors', async (ctx) => {
    const missing = browserMissing();
    if (missing) ctx.skip(missing);
    const e = await openEngine({ catalog: join(tmp, 'c.duckdb') });
    const file = join(tmp, 'count.html');
    try {
      writeFileSync(file, await e.report(count.runId!));
    } finally {
      await e.close();
    }
    const shown = await renderInBrowser(file, 'report-count.png');
    // The count's answer has no frames: it shows frames the reference labelled, with their boxes.
    expect(shown).toMatchObject({ images: 24, decoded: 24, matchedMarks: 0, problems: [] });
    expect(shown.timelineWidth).toBeGreaterThan(500);
    expect(shown.labelTicks).toBeGreaterThan(0);
    expect(shown.planItems).toBeGreaterThanOrEqual(2);
    expect(shown.answer).toMatch(/^FCOUNT\(\*\) = \d/);
    const select = await renderInBrowser(join(tmp, 'select.html'), 'report-select.png');
    expect(select).toMatchObject({ images: 24, decoded: 24, matchedMarks: 1, problems: [] });
  });
});
