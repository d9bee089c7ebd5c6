#!/usr/bin/env node
// Refreshes test/durations.json from a vitest JSON report:
//   npx vitest run --reporter=json --outputFile=/tmp/vt.json && node scripts/test-durations.mjs /tmp/vt.json
import { readFileSync, writeFileSync } from 'node:fs';
import { relative } from 'node:path';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const path = new URL('../test/durations.json', import.meta.url);
const old = JSON.parse(readFileSync(path, 'utf8'));
const seconds = { ...old.seconds };
for (const f of report.testResults) seconds[relative(process.cwd(), f.name)] = Math.round((f.endTime - f.startTime) / 100) / 10;
const sorted = Object.fromEntries(Object.entries(seconds).sort((a, b) => b[1] - a[1]));
writeFileSync(path, `${JSON.stringify({ note: old.note, seconds: sorted }, null, 1)}\n`);
console.log(`${Object.keys(sorted).length} files, ${Object.values(sorted).reduce((a, b) => a + b, 0).toFixed(0)} s in all`);
