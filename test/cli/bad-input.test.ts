/**
 * Bad input gives one clear error, the exit code of its class, `{error: {code, ...}}` with
 * `--json`, and leaves the catalog exactly as it was.
 */
import { copyFileSync, mkdirSync, mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { model, repoRoot, video } from '../helpers.js';
import { ensureBuilt, jsonOf, runSieve, snapshotCatalog, type CatalogSnapshot, type SieveRun } from './run-sieve.js';

let tmp: string;
let catalog: string;
let before: CatalogSnapshot;
const road = video('road_polecam.mp4');

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-bad-input-'));
  catalog = join(tmp, 'catalog.duckdb');
  // A catalog with something in it: a named video, labels and a query run.
  const added = await sieve(['add', road, '--name', 'traffic']);
  expect(added.code, added.stderr).toBe(0);
  const seeded = await sieve(['query', "SELECT COUNT(*) FROM traffic WHERE class = 'car' AND frame < 4"]);
  expect(seeded.code, seeded.stderr).toBe(0);
  before = await snapshotCatalog(catalog);
  expect(before.videos).toHaveLength(1);
  expect(before.queryRuns).toBe(1);
  expect(Object.values(before.labels)).toEqual([{ frames: 4, detections: expect.any(Number) }]);

  // The bad files.
  const head = Buffer.alloc(20 * 1024);
  const fd = openSync(road, 'r');
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  writeFileSync(join(tmp, 'truncated.mp4'), head);
  writeFileSync(join(tmp, 'notes.mp4'), 'this is a text file, not a video\n'.repeat(100));
  mkdirSync(join(tmp, 'models'));
  copyFileSync(model('yolo11n_int8dyn_320.onnx'), join(tmp, 'models', 'yolo11n_int8dyn_640.onnx'));
  writeFileSync(join(tmp, 'garbage.onnx'), Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)));
  mkdirSync(join(tmp, 'named'));
  copyFileSync(join(tmp, 'garbage.onnx'), join(tmp, 'named', 'yolo11n_int8dyn_640.onnx'));
  // A 320x320 model file with a manifest that claims the 640x640 model's shape.
  mkdirSync(join(tmp, 'custom'));
  copyFileSync(model('yolo11n_int8dyn_320.onnx'), join(tmp, 'custom', 'detector.onnx'));
  copyFileSync(join(repoRoot, 'models', 'yolo11n_int8dyn_640.json'), join(tmp, 'custom', 'detector.json'));
});

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

function sieve(args: readonly string[]): Promise<SieveRun> {
  return runSieve([...args, '--catalog', catalog], { env: { SIEVE_CACHE_DIR: join(tmp, 'cache') } });
}

interface BadCase {
  readonly name: string;
  readonly args: () => string[];
  readonly exit: number;
  readonly codes: readonly string[];
  /** What stderr must say, beyond the code. */
  readonly says?: RegExp;
  readonly check?: (error: Record<string, unknown>) => void;
}

const query = (sql: string, ...more: string[]) => ['query', sql, ...more];
const cars = "SELECT FCOUNT(*) FROM video WHERE class = 'car' AND frame < 4";

const CASES: readonly BadCase[] = [
  {
    name: 'a malformed query',
    args: () => query('SELECT FCOUNT(* FROM traffic', '--video', `traffic=${road}`),
    exit: 2,
    codes: ['SYNTAX_ERROR'],
    says: /line 1, column 17/,
    check: (e) => expect(e).toMatchObject({ line: 1, column: 17, found: 'FROM', expected: expect.arrayContaining([expect.stringContaining(')')]) }),
  },
  {
    name: 'a malformed query on its second line',
    args: () => query("SELECT timestamp\nFROM traffic WHERE class = 'car' AND AND score > 0.5", '--video', `traffic=${road}`),
    exit: 2,
    codes: ['SYNTAX_ERROR'],
    says: /line 2, column \d+/,
    check: (e) => expect(e['line']).toBe(2),
  },
  {
    name: 'an unknown class',
    args: () => query("SELECT FCOUNT(*) FROM traffic WHERE class = 'cra'", '--video', `traffic=${road}`),
    exit: 2,
    codes: ['UNKNOWN_CLASS'],
    says: /unknown class 'cra'.*did you mean 'car'/,
    check: (e) => expect(e['suggestions']).toContain('car'),
  },
  {
    name: 'an unknown video name',
    args: () => query("SELECT FCOUNT(*) FROM trafic WHERE class = 'car'"),
    exit: 2,
    codes: ['UNKNOWN_VIDEO'],
    says: /unknown video 'trafic'.*did you mean 'traffic'/,
  },
  {
    name: 'a missing file',
    args: () => query(cars, '--video', join(tmp, 'missing.mp4')),
    exit: 3,
    codes: ['VIDEO_NOT_FOUND'],
    says: /missing\.mp4/,
  },
  {
    name: 'a truncated video (its first 20 KB)',
    args: () => query(cars, '--video', join(tmp, 'truncated.mp4')),
    exit: 3,
    codes: ['VIDEO_INVALID', 'VIDEO_EMPTY', 'VIDEO_DECODE_FAILED'],
    says: /truncated\.mp4/,
  },
  {
    name: 'a text file named .mp4',
    args: () => query(cars, '--video', join(tmp, 'notes.mp4')),
    exit: 3,
    codes: ['VIDEO_INVALID'],
    says: /notes\.mp4/,
  },
  {
    name: 'sieve add of a text file named .mp4',
    args: () => ['add', join(tmp, 'notes.mp4'), '--name', 'notes'],
    exit: 3,
    codes: ['VIDEO_INVALID'],
  },
  {
    name: 'another model file under the default model name in --model-dir',
    args: () => query(cars, '--video', road, '--model-dir', join(tmp, 'models')),
    exit: 4,
    codes: ['MODEL_CHECKSUM', 'MODEL_SHAPE_MISMATCH'],
    says: /yolo11n_int8dyn_640/,
  },
  {
    name: '--model with garbage bytes',
    args: () => query(cars, '--video', road, '--model', join(tmp, 'garbage.onnx')),
    exit: 4,
    codes: ['MODEL_MANIFEST_MISSING', 'MODEL_INVALID'],
    says: /garbage\.onnx/,
  },
  {
    name: '--model with garbage bytes under a built-in model name',
    args: () => query(cars, '--video', road, '--model', join(tmp, 'named', 'yolo11n_int8dyn_640.onnx')),
    exit: 4,
    codes: ['MODEL_INVALID'],
  },
  {
    name: '--model of the wrong input shape for its manifest',
    args: () => query(cars, '--video', road, '--model', join(tmp, 'custom', 'detector.onnx')),
    exit: 4,
    codes: ['MODEL_SHAPE_MISMATCH'],
    says: /320.*640/,
  },
  {
    name: 'sieve label with a model of the wrong shape',
    args: () => ['label', road, '--to', '1', '--model', join(tmp, 'custom', 'detector.onnx')],
    exit: 4,
    codes: ['MODEL_SHAPE_MISMATCH'],
  },
];

describe.each(CASES)('$name', (c) => {
  it(`exits ${c.exit} with one error, and the catalog is unchanged`, async () => {
    const run = await sieve([...c.args(), '--json']);
    expect(run.code, run.stderr).toBe(c.exit);
    // stderr: one line a person reads, with the code.
    const lines = run.stderr.trim().split('\n');
    expect(lines, 'one error line').toHaveLength(1);
    expect(lines[0]).toMatch(/^sieve: /);
    expect(lines[0]).not.toMatch(/internal error/);
    expect(c.codes.some((code) => lines[0]!.includes(`[${code}]`)), lines[0]).toBe(true);
    if (c.says) expect(lines[0]).toMatch(c.says);
    // stdout: {error: {code, ...}}.
    const { error } = jsonOf<{ error: Record<string, unknown> }>(run);
    expect(c.codes).toContain(error['code']);
    expect(lines[0]).toContain(error['message']);
    c.check?.(error);
    expect(await snapshotCatalog(catalog)).toEqual(before);
  });
});

it('without --json, an error prints nothing on stdout', async () => {
  const run = await sieve(['query', "SELECT FCOUNT(*) FROM traffic WHERE class = 'cra'"]);
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^sieve: line 1, column \d+: unknown class 'cra' — did you mean 'car'\? \[UNKNOWN_CLASS\]\n$/);
  expect(await snapshotCatalog(catalog)).toEqual(before);
});
