/**
 * A fully labelled truth catalog shared by the test files that need the same one: the reference
 * detector (default model, bundled ffmpeg) labels every frame of a clip's first seconds once per
 * machine, into `node_modules/.cache/sieve-test/`, and each test gets its own copy. Several test
 * files label shopfront's first 30 s exactly; on the 2-core CI machine that was ~200 s each.
 * The labels are the real detector's, computed in this run of the suite (a clean clone has no
 * cache); a frame a copy lacks is labelled by the test's own exact query as before.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { openEngine } from '../src/engine.js';
import { DEFAULT_REFERENCE_MODEL } from '../src/inference/model-manifest.js';
import { SCHEMA_VERSION } from '../src/storage/schema.js';
import { repoRoot } from './helpers.js';

const CACHE = join(repoRoot, 'node_modules', '.cache', 'sieve-test');
/** A lock older than this was left by a killed process. */
const STALE_LOCK_MS = 20 * 60_000;

/** Copies to `destination` a catalog in which every frame of `clip` before `seconds` is labelled. */
export async function seedTruth(destination: string, clip: string, seconds: number): Promise<void> {
  const st = statSync(clip);
  const key = createHash('sha256').update(`${clip}\0${st.size}\0${st.mtimeMs}\0${SCHEMA_VERSION}\0${DEFAULT_REFERENCE_MODEL}\0${seconds}`).digest('hex').slice(0, 16);
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, `truth-${basename(clip)}-${seconds}s-${key}.duckdb`);
  const lock = `${file}.lock`;
  while (!existsSync(file)) {
    try {
      mkdirSync(lock);
    } catch {
      if (existsSync(lock) && Date.now() - statSync(lock).mtimeMs > STALE_LOCK_MS) rmSync(lock, { recursive: true, force: true });
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    try {
      if (!existsSync(file)) await label(file, clip, seconds);
    } finally {
      rmSync(lock, { recursive: true, force: true });
    }
  }
  copyFileSync(file, destination);
}

async function label(file: string, clip: string, seconds: number): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  rmSync(`${tmp}.wal`, { force: true });
  const engine = await openEngine({ catalog: tmp });
  try {
    await engine.query(`SELECT COUNT(*) FROM clip WHERE timestamp < ${seconds}`, { videos: { clip }, exact: true });
  } finally {
    await engine.close();
  }
  if (existsSync(`${tmp}.wal`)) throw new Error(`${tmp}: DuckDB left a WAL file after closing`);
  renameSync(tmp, file);
}
