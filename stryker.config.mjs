// @ts-check
/**
 * Mutation testing with StrykerJS: `npm run mutate` (not part of `npm test` or CI). See TESTING.md
 * for what it mutates, which tests it runs and the last score.
 *
 * @type {import('@stryker-mutator/api/core').PartialStrykerOptions}
 */
export default {
  packageManager: 'npm',
  testRunner: 'vitest',
  vitest: {
    // Only fast, deterministic unit tests (seconds a run); the real-video suites take minutes.
    configFile: 'vitest.stryker.config.ts',
    // Run the configured test files, not vitest's guess at "related" files.
    related: false,
  },
  // Each mutant runs only the tests that executed it in the dry run.
  coverageAnalysis: 'perTest',
  mutate: ['src/optimizer/**/*.ts', 'src/operators/**/*.ts', 'src/plan/**/*.ts', 'src/video/frame-distance.ts', 'src/training/cascade-calibration.ts'],
  // No type checker: @stryker-mutator/typescript-checker needs the TypeScript compiler API, which
  // TypeScript 7 (the native compiler) does not have. For the same reason Stryker's sandbox step
  // that rewrites tsconfig.json's `extends`/`references` (it calls `ts.parseConfigFileTextToJson`)
  // fails on `import('typescript')`; it is only needed when a tsconfig points outside the project,
  // which ours do not, so `tsconfigFile` names a file that does not exist and the step is skipped.
  tsconfigFile: 'stryker-no-tsconfig-rewrite.json',
  ignorePatterns: ['dist', 'coverage', 'reports', '.sieve', 'bench/results', '*.duckdb', '*.duckdb.wal'],
  // The machines have 2 cores; one test-runner process.
  concurrency: 1,
  timeoutMS: 10_000,
  reporters: ['clear-text', 'progress-append-only', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
};
