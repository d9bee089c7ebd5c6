/**
 * `sieve label` interrupted half-way (SIGINT, and SIGKILL) and run again ends with exactly the
 * labels of a clean run: nothing lost, nothing twice.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LabelSummary } from '../../src/engine.js';
import { Catalog } from '../../src/storage/index.js';
import { video } from '../helpers.js';
import { probeWithFfprobe } from '../engine/independent-labels.js';
import { ensureBuilt, jsonOf, runSieve, type SieveRun } from './run-sieve.js';

// Ten seconds of a 10 fps clip with people in it, every second frame: 51 frames.
const CLIP = video('intel_one_by_one_person.mp4');
const RANGE = ['--from', '8', '--to', '18', '--step', '2'];

let tmp: string;
let expectedFrames: number[];

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-interrupt-'));
  const { timestamps } = await probeWithFfprobe(CLIP);
  expectedFrames = [];
  for (let f = 0; f < timestamps.length; f += 2) if (timestamps[f]! >= 8 && timestamps[f]! <= 18) expectedFrames.push(f);
  expect(expectedFrames).toHaveLength(51);
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function label(catalog: string, extra: readonly string[] = [], onStderr?: (chunk: string, child: ChildProcess) => void): Promise<SieveRun> {
  return runSieve(['label', CLIP, ...RANGE, '--catalog', catalog, '--json', ...extra], { env: { SIEVE_CACHE_DIR: join(tmp, 'cache') }, ...(onStderr ? { onStderr } : {}) });
}

/** Labels a run, sending `signal` once its progress bar shows at least one committed batch. */
function labelAndInterrupt(catalog: string, signal: NodeJS.Signals): Promise<SieveRun & { doneAtSignal: number }> {
  let doneAtSignal = -1;
  let seen = '';
  return label(catalog, ['--progress'], (chunk, child) => {
    seen += chunk;
    if (doneAtSignal >= 0) return;
    for (const m of seen.matchAll(/(\d+)\/(\d+) frames/g)) {
      const done = Number(m[1]);
      if (done >= 8 && done < Number(m[2])) {
        doneAtSignal = done;
        child.kill(signal);
        return;
      }
    }
  }).then((run) => ({ ...run, doneAtSignal }));
}

/** Every label of the only video in a catalog: its labelled frames and detections in order. */
async function labelsIn(path: string) {
  const catalog = await Catalog.open(path);
  try {
    const [v] = await catalog.listVideos();
    const [m] = await catalog.listModels();
    if (!v || !m) return { frames: [] as number[], detections: [] as unknown[] };
    return { frames: [...(await catalog.labelledFrames(v.id, m.id))], detections: await catalog.readDetections(v.id, m.id) };
  } finally {
    await catalog.close();
  }
}

describe('an interrupted label run', () => {
  let clean: Awaited<ReturnType<typeof labelsIn>>;

  it('a clean run labels the 51 frames', async () => {
    const catalog = join(tmp, 'clean.duckdb');
    const run = await label(catalog);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonOf<LabelSummary>(run)).toMatchObject({ frames: 51, referenceCalls: 51, alreadyLabelled: 0 });
    clean = await labelsIn(catalog);
    expect(clean.frames).toEqual(expectedFrames);
    expect(clean.detections.length).toBeGreaterThan(0);
  });

  it('SIGINT: exits 130 saying the labels are kept; the rerun labels only the rest', async () => {
    const catalog = join(tmp, 'sigint.duckdb');
    const stopped = await labelAndInterrupt(catalog, 'SIGINT');
    expect(stopped.doneAtSignal, 'progress was printed before the signal').toBeGreaterThanOrEqual(8);
    expect(stopped.code, stopped.stderr).toBe(130);
    expect(stopped.stderr).toMatch(/interrupted.*labels .*kept/);
    expect(jsonOf<{ error: { code: string } }>(stopped).error.code).toBe('INTERRUPTED');
    const kept = await labelsIn(catalog);
    expect(kept.frames.length).toBeGreaterThanOrEqual(stopped.doneAtSignal);
    expect(kept.frames.length).toBeLessThan(51);
    expect(kept.frames).toEqual(expectedFrames.slice(0, kept.frames.length));

    const rerun = await label(catalog);
    expect(rerun.code, rerun.stderr).toBe(0);
    expect(jsonOf<LabelSummary>(rerun)).toMatchObject({ frames: 51, alreadyLabelled: kept.frames.length, referenceCalls: 51 - kept.frames.length });
    expect(await labelsIn(catalog)).toEqual(clean);
  });

  it('SIGKILL: the rerun completes, and the labels equal a clean run exactly', async () => {
    const catalog = join(tmp, 'sigkill.duckdb');
    const killed = await labelAndInterrupt(catalog, 'SIGKILL');
    expect(killed.doneAtSignal).toBeGreaterThanOrEqual(8);
    expect(killed.signal).toBe('SIGKILL');
    const rerun = await label(catalog);
    expect(rerun.code, rerun.stderr).toBe(0);
    const summary = jsonOf<LabelSummary>(rerun);
    expect(summary.frames).toBe(51);
    expect(summary.alreadyLabelled).toBeGreaterThanOrEqual(killed.doneAtSignal);
    expect(summary.alreadyLabelled + summary.referenceCalls).toBe(51);
    expect(await labelsIn(catalog)).toEqual(clean);
  });
});
