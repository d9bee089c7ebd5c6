import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageError } from '../../src/errors.js';
import { Catalog } from '../../src/storage/index.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const writer = join(root, 'test/storage/fixtures/label-writer.mjs');
// The child runs on plain Node 20 (no TypeScript loader), so it imports the storage module
// compiled by beforeAll. It is compiled fresh on every run, from src/storage only, into an
// ignored folder inside the repository so that `@duckdb/node-api` resolves from there.
const compiledStorage = join(root, 'node_modules/.cache/sieve-storage-fixture/src/storage/index.js');

const BATCHES = 50;
const BATCH_SIZE = 20;
const FRAMES = BATCHES * BATCH_SIZE;

interface ChildResult {
  readonly lines: string[];
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs the label writer, handing each line it prints (and the child, to kill it) to `onLine`. */
function runWriter(
  dbPath: string,
  mode: 'label' | 'hold',
  onLine?: (line: string, child: ChildProcess) => void,
  stallBatch = -1,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const args = [writer, compiledStorage, dbPath, mode, String(BATCHES), String(BATCH_SIZE), '10', String(stallBatch)];
    const child = spawn(process.execPath, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines: string[] = [];
    let pending = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        lines.push(line);
        onLine?.(line, child);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ lines, code, signal, stderr }));
  });
}

/** Everything the label writer stores, read back through the catalog. */
async function snapshot(path: string) {
  const catalog = await Catalog.open(path);
  try {
    const videos = await catalog.listVideos();
    const models = await catalog.listModels();
    expect(videos).toHaveLength(1);
    expect(models).toHaveLength(1);
    const [video] = videos;
    const [model] = models;
    return {
      video: { ...video, addedAt: undefined },
      model: { ...model, registeredAt: undefined },
      labelled: [...(await catalog.labelledFrames(video.id, model.id))],
      count: await catalog.countLabelled(video.id, model.id),
      detections: await catalog.readDetections(video.id, model.id),
    };
  } finally {
    await catalog.close();
  }
}

/** Whole batches only, every marked frame with exactly its detections, and nothing unmarked. */
function expectConsistent(state: Awaited<ReturnType<typeof snapshot>>): void {
  expect(state.count % BATCH_SIZE).toBe(0);
  expect(state.labelled).toEqual(Array.from({ length: state.count }, (_, f) => f));
  const perFrame = new Map<number, number>();
  for (const d of state.detections) perFrame.set(d.frame, (perFrame.get(d.frame) ?? 0) + 1);
  for (const f of state.labelled) expect(perFrame.get(f) ?? 0, `detections of frame ${f}`).toBe(f % 4);
  for (const f of perFrame.keys()) expect(f).toBeLessThan(state.count);
}

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'sieve-resume-'));
  try {
    execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'test/storage/fixtures/tsconfig.fixture.json')], {
      cwd: root,
      stdio: 'pipe',
    });
  } catch (error) {
    const output = (error as { stdout?: Buffer }).stdout?.toString() ?? '';
    throw new Error(`compiling src/storage for the child process failed:\n${output}`, { cause: error });
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resumable labelling', () => {
  it('a labelling job killed with SIGKILL resumes without losing, recomputing or duplicating labels', async () => {
    const cleanPath = join(dir, 'clean.duckdb');
    const clean = await runWriter(cleanPath, 'label');
    expect(clean.stderr).toBe('');
    expect(clean.code).toBe(0);
    expect(clean.lines).toContain(`labelled ${FRAMES}`);
    const expected = await snapshot(cleanPath);
    expect(expected.count).toBe(FRAMES);
    expectConsistent(expected);

    const path = join(dir, 'resumed.duckdb');
    let committed = 0;
    let computed = 0;
    // Killed as a batch's write begins; killed inside a transaction holding written but
    // uncommitted labels; then run to the end. Each run resumes from what the last one committed.
    const runs = [
      { killOn: /^begin 10$/, stallBatch: -1, expectCommitted: [200, 220] },
      { killOn: /^stalled 30$/, stallBatch: 30, expectCommitted: [600, 600] },
      { killOn: undefined, stallBatch: -1, expectCommitted: [FRAMES, FRAMES] },
    ];
    for (const { killOn, stallBatch, expectCommitted } of runs) {
      const run = await runWriter(
        path,
        'label',
        (line, child) => {
          if (killOn?.test(line)) child.kill('SIGKILL');
        },
        stallBatch,
      );
      expect(run.lines[0]).toBe(`resume ${committed}`);
      if (killOn !== undefined) {
        expect(run.signal).toBe('SIGKILL');
        expect(run.lines).not.toContain('done');
      } else {
        expect(run.stderr).toBe('');
        expect(run.code).toBe(0);
        expect(run.lines).toContain(`labelled ${FRAMES - committed}`);
      }
      computed += run.lines.filter((l) => l.startsWith('batch ')).reduce((n, l) => n + Number(l.split(' ')[2]), 0);

      // The file opens after the kill, and holds whole batches only.
      const state = await snapshot(path);
      expectConsistent(state);
      expect(state.count).toBeGreaterThanOrEqual(expectCommitted[0]);
      expect(state.count).toBeLessThanOrEqual(expectCommitted[1]);
      committed = state.count;
    }

    expect(committed).toBe(FRAMES);
    // A batch killed after its commit but before it printed `batch` is the only work done twice.
    expect(computed).toBeLessThanOrEqual(FRAMES);
    expect(await snapshot(path)).toEqual(expected);
  });

  it('refuses a catalog another process holds, naming it, and opens once that process is gone', async () => {
    const path = join(dir, 'held.duckdb');
    let holderPid: number | undefined;
    let holder!: Promise<ChildResult>;
    const outcome = await new Promise<unknown>((answered) => {
      holder = runWriter(path, 'hold', (line, child) => {
        if (line !== 'ready') return;
        holderPid = child.pid;
        Catalog.open(path)
          .then(
            (catalog) => catalog.close().then(() => 'opened'),
            (error: unknown) => error,
          )
          .then((result) => {
            child.kill('SIGKILL');
            answered(result);
          });
      });
    });
    expect(outcome).toBeInstanceOf(StorageError);
    const error = outcome as StorageError;
    expect(error.code).toBe('CATALOG_LOCKED');
    expect(error.message).toContain(path);
    expect(error.message).toContain(`in use by process ${holderPid}`);
    expect((await holder).signal).toBe('SIGKILL');

    const catalog = await Catalog.open(path);
    expect(await catalog.listVideos()).toEqual([]);
    await catalog.close();
  });
});
