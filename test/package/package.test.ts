/**
 * Sieve as another project's dependency, as README's "Use it as a library" section tells a user:
 * `npm pack` of this checkout, the section's `package.json` in an empty project, `npm install` of
 * the tarball from the registry (npm's cache first), then the section's TypeScript example type
 * checked by `tsc --noEmit` against the installed types, compiled and run on a shared clip, and the
 * installed `sieve` binary run from that project. Nothing is faked: the real tarball, the real
 * dependencies (ONNX Runtime, DuckDB, ffmpeg) as npm installs them, the real detector.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openEngine } from '../../src/engine.js';
import { dataDir, repoRoot, video } from '../helpers.js';
import { ensureBuilt, sieveEnv } from '../cli/run-sieve.js';

const run = promisify(execFile);
const clip = video('campus_pedestrians_vtest.mp4');
const rootPackage = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
  version: string;
  devDependencies: Record<string, string>;
};

/** The fenced blocks of README's library section, by info string. */
function librarySection(): { json: string; ts: string; install: string } {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const start = readme.indexOf('## Use it as a library\n');
  expect(start, 'README has a "Use it as a library" section').toBeGreaterThan(0);
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1));
  const block = (info: string) => {
    const m = new RegExp('```' + info + '\\n([\\s\\S]*?)```').exec(section);
    expect(m, `a \`\`\`${info} block in the library section`).not.toBeNull();
    return m![1]!;
  };
  return { json: block('json'), ts: block('ts'), install: block('sh') };
}

interface PackResult {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string }[];
}

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

/** A command to completion, its exit code kept (execFile rejects on a non-zero one). */
async function sh(file: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<Outcome> {
  try {
    const { stdout, stderr } = await run(file, [...args], { cwd, env, maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? String(error) };
  }
}

const npmWarnings = (text: string) => text.split('\n').filter((line) => /^npm (warn|WARN|ERR)/.test(line));

let tmp: string;
let consumer: string;
let pack: PackResult;
let install: Outcome;
let env: NodeJS.ProcessEnv;
const section = librarySection();

beforeAll(async () => {
  await ensureBuilt();
  tmp = mkdtempSync(join(tmpdir(), 'sieve-package-'));
  consumer = join(tmp, 'consumer');
  mkdirSync(consumer);
  // The test's own environment: the shared models, npm's cache, no Sieve settings of the caller's.
  env = { ...sieveEnv({ SIEVE_MODEL_DIR: join(dataDir, 'models'), SIEVE_CACHE_DIR: join(tmp, 'cache') }), npm_config_update_notifier: 'false' };
  for (const key of Object.keys(env)) if (key.startsWith('npm_') && !['npm_config_update_notifier', 'npm_config_cache', 'npm_config_registry'].includes(key)) delete env[key];
  // dist/ is built by `npm test` (and ensureBuilt); --ignore-scripts keeps `prepack` from rebuilding
  // it while other test files run the binary.
  const packed = await sh('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], repoRoot, env);
  expect(packed.code, packed.stderr).toBe(0);
  pack = (JSON.parse(packed.stdout) as PackResult[])[0]!;
  console.log(`sieve ${rootPackage.version} tarball: ${pack.files.length} files, ${(pack.size / 1024).toFixed(1)} KiB packed, ${(pack.unpackedSize / 1024).toFixed(1)} KiB unpacked`);

  const manifest = { name: 'sieve-consumer', version: '1.0.0', private: true, ...(JSON.parse(section.json) as object) };
  writeFileSync(join(consumer, 'package.json'), JSON.stringify(manifest, null, 2));
  expect(section.install).toMatch(/^npm install sieve\b/m);
  // README's `npm install sieve`, from the tarball; the compiler and Node's types for the consumer's check.
  install = await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(tmp, pack.filename)], consumer, env);
  expect(install.code, install.stderr).toBe(0);
  const dev = await sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', `typescript@${rootPackage.devDependencies['typescript']}`, `@types/node@${rootPackage.devDependencies['@types/node']}`], consumer, env);
  expect(dev.code, dev.stderr).toBe(0);
  writeFileSync(join(consumer, 'example.ts'), section.ts);
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: false, types: ['node'], outDir: 'out' }, files: ['example.ts'] }),
  );
}, 600_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the published tarball', () => {
  it('holds the compiled library, its types, the binary, model manifests and example queries, nothing else', () => {
    const paths = pack.files.map((f) => f.path);
    const allowed = /^(bin\/sieve\.js|dist\/src\/.+\.(js|d\.ts)|models\/[\w.-]+\.json|queries\/[\w-]+\.sql|README\.md|LICENSE|package\.json)$/;
    expect(paths.filter((p) => !allowed.test(p))).toEqual([]);
    expect(paths).toEqual(expect.arrayContaining(['bin/sieve.js', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js', 'LICENSE', 'models/yolo11n_int8dyn_640.json']));
    expect(paths.some((p) => /^(test|bench|dist\/bench|dist\/test|src)\//.test(p) || p.endsWith('.map') || p.endsWith('.onnx'))).toBe(false);
    const manifest = JSON.parse(readFileSync(join(consumer, 'node_modules', 'sieve', 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    // An install script would be blocked or flagged by npm 11 in every project that installs sieve.
    expect(Object.keys(manifest.scripts ?? {}).filter((s) => /^(preinstall|install|postinstall|prepare)$/.test(s))).toEqual([]);
  });

  it('installs with the README package.json and prints no npm warning', () => {
    expect(npmWarnings(install.stderr + install.stdout)).toEqual([]);
  });
});

describe('the README example in a consumer project', () => {
  it('type checks against the installed declarations with strict on (tsc --noEmit)', async () => {
    const tsc = join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    const check = await sh(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.json'], consumer, env);
    expect(check.stdout + check.stderr).toBe('');
    expect(check.code).toBe(0);
  });

  it('a type error in a consumer is caught by those declarations', async () => {
    const tsc = join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    writeFileSync(join(consumer, 'wrong.ts'), "import { openEngine } from 'sieve';\nconst e = await openEngine({ catalog: 1 });\nconst r = await e.query('SELECT 1');\nconst n: string = r.stats.referenceCalls;\nexport { n };\n");
    const config = JSON.parse(readFileSync(join(consumer, 'tsconfig.json'), 'utf8')) as object;
    writeFileSync(join(consumer, 'tsconfig.wrong.json'), JSON.stringify({ ...config, files: ['wrong.ts'] }));
    const check = await sh(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.wrong.json'], consumer, env);
    expect(check.code).not.toBe(0);
    expect(check.stdout).toMatch(/wrong\.ts\(2,.*TS2322/);
    expect(check.stdout).toMatch(/wrong\.ts\(4,.*TS2322/);
  });

  it('runs a real query on a shared clip and agrees with the exact answer within its promise', async () => {
    const tsc = join(consumer, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = await sh(process.execPath, [tsc, '-p', 'tsconfig.json'], consumer, env);
    expect(build.code, build.stdout).toBe(0);
    const out = await sh(process.execPath, [join('out', 'example.js'), clip], consumer, env);
    expect(out.code, out.stderr).toBe(0);
    const answer = JSON.parse(out.stdout) as { value: number; interval?: { low: number; high: number }; runId: number; referenceCalls: number };
    expect(answer.referenceCalls).toBeGreaterThan(0);
    expect(Number.isInteger(answer.runId)).toBe(true);
    // The exact answer, from this checkout's engine on a copy of the consumer's catalog (its labels are reused).
    copyFileSync(join(consumer, 'sieve.duckdb'), join(tmp, 'exact.duckdb'));
    const engine = await openEngine({ catalog: join(tmp, 'exact.duckdb'), modelDir: join(dataDir, 'models') });
    try {
      const sql = /"(SELECT [^"]+)"/.exec(section.ts)![1]!.replace(/ ERROR WITHIN [\d.]+/, '');
      const exact = await engine.query(sql, { videos: { traffic: clip }, exact: true });
      expect(Math.abs(answer.value - exact.value!)).toBeLessThanOrEqual(0.1);
    } finally {
      await engine.close();
    }

    const shown = await sh('npx', ['--no-install', 'sieve', 'runs', 'show', String(answer.runId), '--catalog', 'sieve.duckdb', '--json'], consumer, env);
    expect(shown.code, shown.stderr).toBe(0);
    expect(JSON.parse(shown.stdout)).toMatchObject({ id: answer.runId, status: 'ok', referenceCalls: answer.referenceCalls });
  }, 300_000);

  it('reports a missing video with its code and exit status', async () => {
    const out = await sh(process.execPath, [join('out', 'example.js'), join(tmp, 'no-such.mp4')], consumer, env);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/^VIDEO_NOT_FOUND: .*no-such\.mp4/m);
  });

  it('`npx sieve --help` runs the installed binary', async () => {
    const help = await sh('npx', ['--no-install', 'sieve', '--help'], consumer, env);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toMatch(/^Usage: sieve /m);
    expect(help.stdout).toMatch(/\bquery\b/);
    expect(npmWarnings(help.stderr)).toEqual([]);
  });
});

describe('bin/sieve.js', () => {
  it('in a copy that was never built and cannot build, says so instead of a stack trace', async () => {
    const bare = join(tmp, 'bare');
    mkdirSync(join(bare, 'bin'), { recursive: true });
    copyFileSync(join(repoRoot, 'bin', 'sieve.js'), join(bare, 'bin', 'sieve.js'));
    writeFileSync(join(bare, 'package.json'), '{"type":"module"}');
    const out = await sh(process.execPath, [join(bare, 'bin', 'sieve.js'), '--help'], bare, env);
    expect(out.code).toBe(70);
    expect(out.stderr).toMatch(/was not built.*npm run build/);
  });
});
