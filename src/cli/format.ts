import type { QueryResult, ResultValue } from '../engine-types.js';
import type { IndexSummary, VideoSummary } from '../engine.js';

/** A query result as a person reads it: the answer, then how it was obtained. */
export function formatResult(result: QueryResult): string {
  if (result.kind === 'explain') return result.plan;
  const lines: string[] = [];
  if (result.kind === 'aggregate' && result.value !== undefined) {
    const ci = result.interval && result.interval.high > result.interval.low
      ? `  (${(result.interval.confidence * 100).toFixed(0)}% CI ${fmt(result.interval.low)} .. ${fmt(result.interval.high)})`
      : '';
    lines.push(`${result.columns[0]} = ${fmt(result.value)}${ci}`);
  } else {
    lines.push(table(result.columns, result.rows.map((r) => result.columns.map((c) => r[c] ?? null))));
    lines.push(`(${result.rows.length} row${result.rows.length === 1 ? '' : 's'})`);
  }
  const s = result.stats;
  lines.push(
    `video '${result.video.name}': ${s.framesInRange} frames in range; reference detector ran on ${s.referenceCalls}, ` +
      `${s.labelsFromStore} labels from the store, ${s.framesDecoded} frames decoded, ${s.seconds.toFixed(2)} s`,
  );
  lines.push(`accuracy: ${result.accuracy.note}`);
  return lines.join('\n');
}

export function formatVideos(videos: readonly VideoSummary[]): string {
  if (videos.length === 0) return "no videos in the catalog (add one with 'sieve add <file> --name <name>')";
  return table(
    ['name', 'frames', 'size', 'fps', 'labelled', 'path'],
    videos.map((v) => [v.name, v.frameCount, `${v.width}x${v.height}`, Number(v.fps.toFixed(2)), v.labelledFrames, v.path]),
  );
}

export function formatIndex(s: IndexSummary): string {
  const rows = s.signals.map((g) => [g.name, g.added ? 'added' : 'stored', g.metrics.positives, g.metrics.maxCount, g.metrics.heldOutError === null ? 'NULL' : Number(g.metrics.heldOutError.toFixed(3)), g.metrics.baselineError === null ? 'NULL' : Number(g.metrics.baselineError.toFixed(3))]);
  return [
    table(['signal', 'state', 'sample frames with it', 'max count', 'held-out error', 'error of the mean'], rows),
    `index of '${s.video}': ${s.frames} frames, sample of ${s.sampleFrames}; reference detector ran on ${s.referenceCalls}, ${s.seconds.toFixed(1)} s`,
  ].join('\n');
}

export function table(columns: readonly string[], rows: readonly (readonly ResultValue[])[]): string {
  const cells = rows.map((r) => r.map((v) => (v === null ? 'NULL' : typeof v === 'number' ? fmt(v) : v)));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n');
}

function fmt(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(4).replace(/0+$/, '').replace(/\.$/, '');
}
