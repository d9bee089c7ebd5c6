import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Engine } from '../engine.js';

/**
 * Writes run `runId`'s HTML report to `file` (through a temporary file, so an interrupted write
 * leaves no half page) and says where on stderr.
 */
export async function writeReport(engine: Engine, runId: number, file: string): Promise<string> {
  const html = await engine.report(runId);
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, html);
  renameSync(tmp, path);
  process.stderr.write(`sieve: report of run ${runId} written to ${path} (${(html.length / 1024).toFixed(0)} KiB)\n`);
  return path;
}
