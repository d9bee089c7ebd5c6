#!/usr/bin/env node
// The `sieve` command. The published package ships `dist/` compiled; in a checkout (where
// `tsconfig.build.json` sits beside `src/`) the first run compiles it, so that the package needs no
// install script (npm 11 blocks or flags a dependency's install scripts, `prepare` among them).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  const tsc = fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url));
  if (!existsSync(new URL('../tsconfig.build.json', import.meta.url)) || !existsSync(tsc)) {
    process.stderr.write(`sieve: ${fileURLToPath(main)} is missing: this copy of sieve was not built. Reinstall the package, or run \`npm run build\` in its checkout.\n`);
    process.exit(70);
  }
  process.stderr.write('sieve: compiling the TypeScript sources (first run in this checkout)...\n');
  const built = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
  if (built.status !== 0) {
    process.stderr.write('sieve: the build failed (above); fix it and run `npm run build`.\n');
    process.exit(70);
  }
}
await import(main.href);
