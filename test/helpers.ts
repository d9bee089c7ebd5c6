import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Repository root (the folder holding package.json). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Shared test data: `SIEVE_DATA_DIR`, else `../shared/data` beside the repository. */
export const dataDir = resolve(process.env.SIEVE_DATA_DIR ?? join(repoRoot, '..', 'shared', 'data'));

export function video(name: string): string {
  const path = join(dataDir, 'videos', name);
  if (!existsSync(path)) throw new Error(`test video missing: ${path} (set SIEVE_DATA_DIR)`);
  return path;
}

export function model(name: string): string {
  return join(dataDir, 'models', name);
}
