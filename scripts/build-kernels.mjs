#!/usr/bin/env node
// Compiles the WebAssembly kernels in src/inference/kernels/*.wat (with wabt) into TypeScript
// modules that embed the binary, so that Sieve needs no build step or .wasm file at run time.
// Run `npm run build:kernels` after editing a .wat; a test checks the embedded bytes are current.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileKernel, kernelModuleSource } from './kernel-compiler.mjs';

const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'inference', 'kernels');
for (const file of readdirSync(dir).filter((f) => f.endsWith('.wat'))) {
  const bytes = await compileKernel(readFileSync(join(dir, file), 'utf8'), file);
  const out = join(dir, file.replace(/\.wat$/, '-wasm.ts'));
  writeFileSync(out, kernelModuleSource(file, bytes));
  console.log(`${file}: ${bytes.length} bytes -> ${out}`);
}
