import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

/** Seconds per test file measured on a 2-core machine (test/durations.json). */
const durations: Record<string, number> = JSON.parse(readFileSync(new URL('./test/durations.json', import.meta.url), 'utf8')).seconds;

/**
 * Longest files first (LPT scheduling), so that the two workers finish together instead of one
 * running a long file alone at the end: on a clean clone vitest has no timing cache and orders
 * by file size. A file not measured yet counts as 60 s.
 */
class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const seconds = (f: TestSpecification) => durations[relative(process.cwd(), f.moduleId).split('\\').join('/')] ?? 60;
    return [...files].sort((a, b) => seconds(b) - seconds(a));
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Native sessions (onnxruntime, DuckDB, ffmpeg children) are heavy: run files in forks,
    // two at a time on the 2-core CI machine.
    pool: 'forks',
    maxWorkers: 2,
    sequence: { sequencer: LongestFirst },
  },
});
