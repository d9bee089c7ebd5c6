import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    // Native sessions (onnxruntime, DuckDB, ffmpeg children) are heavy: run files in forks,
    // two at a time on the 2-core CI machine.
    pool: 'forks',
    maxWorkers: 2,
  },
});
