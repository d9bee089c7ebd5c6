/** `sieve runs` and `sieve runs show` as a person reads them. */
import type { RunDetail, RunListing } from '../runs/run-view.js';
import { table } from './format.js';

export function formatRuns(runs: readonly RunListing[]): string {
  if (runs.length === 0) return "no stored runs in this catalog (every 'sieve query', 'sieve label' and 'sieve index' is stored)";
  return table(
    ['run', 'started', 'status', 'video', 'ref calls', 'from store', 'seconds', 'reused', 'query'],
    runs.map((r) => [
      r.id,
      r.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
      r.status === 'ok' ? 'ok' : `error ${r.errorCode ?? ''}`.trim(),
      r.video,
      r.referenceCalls,
      r.labelsFromStore,
      Number(r.seconds.toFixed(2)),
      r.reusedRuns.length > 0 ? r.reusedRuns.map((x) => `#${x}`).join(',') : '',
      r.query.length > 70 ? `${r.query.slice(0, 67)}...` : r.query,
    ]),
  );
}

export function formatRunDetail(d: RunDetail): string {
  const lines = [`run ${d.id}: ${d.status === 'ok' ? 'ok' : `error [${d.errorCode ?? 'error'}]`}`, `query:    ${d.query}`];
  lines.push(`when:     ${d.startedAt} .. ${d.finishedAt} (${d.seconds.toFixed(2)} s)`);
  if (d.video) lines.push(`video:    ${d.video} (${d.videoPath ?? '?'}, ${d.videoFrames ?? '?'} frames)`);
  if (d.referenceModel) lines.push(`model:    ${d.referenceModel.name}, sha256 ${d.referenceModel.sha256}, preprocess ${d.referenceModel.preprocess}`);
  if (d.message) lines.push(`error:    ${d.message}`);
  const a = d.answer;
  if (a) {
    const value = a.value !== null ? `${a.columns[0] ?? 'value'} = ${a.value}${a.interval && a.interval.high > a.interval.low ? ` (${Math.round(a.interval.confidence * 100)}% interval ${a.interval.low} .. ${a.interval.high})` : ''}` : `${a.rowCount} rows, ${a.matchedFrames} matched frames`;
    lines.push(`answer:   ${value}`);
    lines.push(`accuracy: ${a.accuracy.note}`);
    const s = a.stats;
    lines.push(`cost:     ${s.referenceCalls} reference calls of ${s.framesInRange} frames in range, ${s.labelsFromStore} labels from the store, ${s.framesDecoded} frames decoded`);
  } else {
    lines.push(`cost:     ${d.referenceCalls} reference calls`);
  }
  lines.push(...reuseLines(d));
  if (a) lines.push('', 'plan (EXPLAIN ANALYZE):', ...a.plan.split('\n').map((l) => `  ${l}`));
  return lines.join('\n');
}

/** What the run reused and from which runs, and what it added. */
function reuseLines(d: RunDetail): string[] {
  const out: string[] = [];
  const queries = new Map(d.sources.map((s) => [s.run, s.query]));
  const runName = (run: number | null) => (run === null ? 'outside any stored run' : `run ${run}${queries.get(run) ? ` (${queries.get(run)})` : ''}`);
  for (const l of d.provenance?.labels ?? []) out.push(`  ${l.frames} reference labels from ${runName(l.run)}`);
  for (const m of d.specializedModels) out.push(`  specialized ${m.kind} model ${m.id} for ${m.predicate}${m.inputSize ? ` at ${m.inputSize}px` : ''}, ${m.trainingFrames} training frames, ${m.trainedHere ? 'trained in this run' : `trained by ${runName(m.trainedByRun)}`}`);
  for (const s of d.provenance?.index.reused ?? []) out.push(`  index signal ${s.signal} from ${runName(s.run)}`);
  for (const s of d.provenance?.index.added ?? []) out.push(`  index signal ${s} added by this run`);
  return out.length > 0 ? ['reused and added:', ...out] : ['reused:   nothing from earlier runs'];
}
