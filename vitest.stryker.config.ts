import { defineConfig } from 'vitest/config';

/**
 * The tests `npm run mutate` (StrykerJS, stryker.config.mjs) runs against each mutant: fast,
 * deterministic unit tests of src/optimizer/ (the search and rules included) and src/plan/ (seconds; no video, no ONNX, no
 * DuckDB). Left out, and why (TESTING.md has the numbers):
 * - the real-video suites (test/cascade/, test/engine/, test/cli/), the only tests that reach
 *   operators (decode, scores, interpolation, reference scans, answers): minutes a run;
 * - test/optimizer/count-estimator.test.ts: its 2 x 1,000-run coverage test takes ~45 s under
 *   Stryker's instrumentation (3 s plain), which made count-estimator.ts's 194 mutants alone take
 *   about an hour on 2 cores. test/optimizer/mutants.test.ts pins the estimator's pieces by hand
 *   and checks coverage over 2 x 100 seeded runs instead. `npm test` still runs both.
 */
export default defineConfig({
  test: {
    include: ['test/optimizer/calibration.test.ts', 'test/optimizer/difference-choice.test.ts', 'test/optimizer/mutants.test.ts', 'test/optimizer/optimizer.test.ts'],
    testTimeout: 120_000,
  },
});
