/**
 * `node dist/bench/cascade-compare.js <before.json> <after.json> <heading>`: two bench:cascade runs
 * (the `last-run.json` a `--truth-dir` run writes, or bench/results/cascade.json) side by side, query
 * by query: cold and warm seconds, reference calls and accuracy, and the after/before time ratios,
 * written as a BENCHMARKS.md section. For a change that should keep behaviour (a refactor): the
 * same accuracy, times within noise.
 */
import { readFileSync } from 'node:fs';
import { markdownTable, resolveFromRoot, updateMarkdownSection } from './bench-util.js';

interface Row {
  video: string;
  query: string;
  coldSeconds: number;
  warmSeconds: number;
  coldReferenceCalls: number;
  warmReferenceCalls: number;
  fnr?: number;
  fpr?: number;
  countError?: number;
  met: boolean;
}
interface Run {
  date: string;
  rows: Row[];
}

const [beforeFile, afterFile, heading, ...notes] = process.argv.slice(2);
if (!beforeFile || !afterFile || !heading) {
  process.stderr.write('usage: cascade-compare <before.json> <after.json> <heading> [note...]\n');
  process.exit(2);
}
const before = JSON.parse(readFileSync(beforeFile, 'utf8')) as Run;
const after = JSON.parse(readFileSync(afterFile, 'utf8')) as Run;
const accuracy = (r: Row) => (r.fnr !== undefined ? `FNR ${r.fnr.toFixed(4)} FPR ${r.fpr!.toFixed(4)}` : `error ${r.countError!.toFixed(3)}`) + (r.met ? '' : ' MISSED');
const ratios: number[] = [];
const rows = after.rows.map((a) => {
  const b = before.rows.find((r) => r.video === a.video && r.query === a.query);
  if (!b) return [a.video, `\`${a.query}\``, '-', '-', '-', '-', '-', accuracy(a)];
  ratios.push(a.coldSeconds / b.coldSeconds);
  return [
    a.video,
    `\`${a.query}\``,
    `${b.coldSeconds.toFixed(1)} / ${a.coldSeconds.toFixed(1)}`,
    `${(a.coldSeconds / b.coldSeconds).toFixed(2)}x`,
    `${b.warmSeconds.toFixed(2)} / ${a.warmSeconds.toFixed(2)}`,
    `${b.coldReferenceCalls} / ${a.coldReferenceCalls}`,
    accuracy(b),
    accuracy(a),
  ];
});
const sorted = [...ratios].sort((x, y) => x - y);
const median = sorted.length ? sorted[Math.floor((sorted.length - 1) / 2)]! : Number.NaN;
const table = markdownTable(['video', 'query', 'cold s before / after', 'after/before', 'warm s before / after', 'cold ref calls before / after', 'accuracy before', 'accuracy after'], rows);
updateMarkdownSection(
  resolveFromRoot('BENCHMARKS.md'),
  heading,
  `Two \`npm run bench:cascade\` runs, before (${before.date}) and after (${after.date}), on one machine in one session, against the same fully labelled catalogs (\`--truth-dir\`). Median cold after/before ${median.toFixed(2)}x (${sorted[0]?.toFixed(2)}-${sorted.at(-1)?.toFixed(2)}x); accuracy met ${before.rows.filter((r) => r.met).length} / ${after.rows.filter((r) => r.met).length} of ${after.rows.length}.${notes.length ? `\n\n${notes.join(' ')}` : ''}\n\n${table}`,
);
process.stdout.write(`median cold after/before ${median.toFixed(2)}x\n`);
