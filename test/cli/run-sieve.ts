/** Test helpers: the real `sieve` binary as a child process, and catalog snapshots. */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Catalog } from '../../src/storage/index.js';
import { dataDir, repoRoot } from '../helpers.js';

export const SIEVE = join(repoRoot, 'dist', 'src', 'cli', 'main.js');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * Builds `dist/` with `tsc -p tsconfig.build.json` when the binary is missing or older than
 * `src/`. Test files run in parallel, so the build is serialised by a lock directory.
 */
export async function ensureBuilt(): Promise<void> {
  const stale = () => !existsSync(SIEVE) || statSync(SIEVE).mtimeMs < newestMtime(join(repoRoot, 'src'));
  if (!stale()) return;
  const lock = join(repoRoot, 'node_modules', '.cache', 'sieve-cli-test-build.lock');
  mkdirSync(join(lock, '..'), { recursive: true });
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > 60_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (!stale()) return;
    const tsc = join(repoRoot, 'node_modules', '.bin', 'tsc');
    try {
      execFileSync(tsc, ['-p', 'tsconfig.build.json'], { cwd: repoRoot, stdio: 'pipe' });
    } catch (error) {
      // tsc still emits when another part of the tree has type errors; only a missing binary is fatal.
      if (!existsSync(SIEVE)) throw error;
    }
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface SieveRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface SieveRunOptions {
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  /** Called with each stderr chunk as it arrives (and the child, to signal it). */
  readonly onStderr?: (chunk: string, child: ChildProcess) => void;
}

/** The environment a child gets: the test data directory, and none of the caller's Sieve settings. */
export function sieveEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('SIEVE_')) delete env[key];
  return { ...env, SIEVE_DATA_DIR: dataDir, ...extra };
}

/** Runs `node dist/src/cli/main.js ...args` to completion. */
export function runSieve(args: readonly string[], options: SieveRunOptions = {}): Promise<SieveRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SIEVE, ...args], { cwd: options.cwd ?? repoRoot, env: sieveEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      stderr += c;
      options.onStderr?.(c, child);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The `--json` document a run printed on stdout. */
export function jsonOf<T = Record<string, unknown>>(run: SieveRun): T {
  try {
    return JSON.parse(run.stdout) as T;
  } catch {
    throw new Error(`stdout is not JSON (exit ${run.code}):\n${run.stdout}\nstderr:\n${run.stderr}`);
  }
}

/** Everything in a catalog file that a failed command must leave as it was. */
export interface CatalogSnapshot {
  readonly videos: unknown[];
  readonly models: unknown[];
  readonly queryRuns: number;
  /** `videoId/modelId` -> labelled frames and detection rows. */
  readonly labels: Record<string, { frames: number; detections: number }>;
}

export async function snapshotCatalog(path: string): Promise<CatalogSnapshot> {
  if (!existsSync(path)) return { videos: [], models: [], queryRuns: 0, labels: {} };
  const catalog = await Catalog.open(path);
  try {
    const videos = await catalog.listVideos();
    const models = await catalog.listModels();
    const labels: Record<string, { frames: number; detections: number }> = {};
    for (const v of videos) {
      for (const m of models) {
        labels[`${v.id}/${m.id}`] = {
          frames: await catalog.countLabelled(v.id, m.id),
          detections: (await catalog.readDetections(v.id, m.id)).length,
        };
      }
    }
    return {
      videos: videos.map((v) => ({ ...v })),
      models: models.map((m) => ({ ...m })),
      queryRuns: (await catalog.listQueryRuns(1_000_000)).length,
      labels,
    };
  } finally {
    await catalog.close();
  }
}
