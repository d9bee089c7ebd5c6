/**
 * The report's HTML: one file, inline CSS and images, no script and no network at view time.
 * Every string from the catalog is escaped.
 */
import type { RunDetail } from '../runs/run-view.js';
import type { StoredAnswer } from '../runs/run-record.js';
import type { Thumbnail } from './thumbnails.js';

export interface TimelineData {
  readonly frames: number;
  readonly fps: number;
  readonly range: { readonly start: number; readonly end: number };
  readonly matched: readonly (readonly [number, number])[];
  /** Frames the reference labelled during this run. */
  readonly labelledHere: Int32Array;
  /** Frames of the range labelled by earlier runs (read from the store, free). */
  readonly labelledBefore: Int32Array;
}

export interface ReportData {
  readonly detail: RunDetail;
  readonly generatedAt: string;
  readonly thumbnails: readonly Thumbnail[];
  readonly thumbnailNote: string;
  readonly timeline: TimelineData | null;
}

/** Columns of the timeline: frames are binned into this many cells. */
const TIMELINE_BINS = 1000;

export function renderReportHtml(data: ReportData): string {
  const d = data.detail;
  const a = d.answer;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sieve run ${d.id}: ${esc(d.query)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${CSS}</style></head>
<body>
<header><h1>Sieve run ${d.id}</h1><pre class="query">${esc(d.query)}</pre>
<p class="meta">${esc(d.status === 'ok' ? 'finished' : `failed [${d.errorCode ?? 'error'}]`)} · video ${esc(d.video ?? 'none')}${d.videoPath ? ` (<code>${esc(d.videoPath)}</code>, ${d.videoFrames ?? '?'} frames)` : ''} · started ${esc(d.startedAt)} · ${d.seconds.toFixed(2)} s${d.referenceModel ? ` · reference ${esc(d.referenceModel.name)} <code title="sha256">${esc(d.referenceModel.sha256.slice(0, 12))}</code>` : ''}</p></header>
${d.message ? `<section id="error"><h2>Error</h2><p>${esc(d.message)}</p></section>` : ''}
${a ? answerSection(a, d) : ''}
${data.timeline ? timelineSection(data.timeline) : ''}
${thumbnailSection(data.thumbnails, data.thumbnailNote)}
${a ? planSection(a) : ''}
${a && a.rows.length > 0 ? rowsSection(a) : ''}
${provenanceSection(d)}
<footer>Generated ${esc(data.generatedAt)} by Sieve from the catalog's stored run ${d.id}.</footer>
</body></html>
`;
}

function answerSection(a: StoredAnswer, d: RunDetail): string {
  const value =
    a.value !== null
      ? `<p class="value">${esc(a.columns[0] ?? 'value')} = <b>${num(a.value)}</b>${a.interval && a.interval.high > a.interval.low ? ` <span class="ci">(${pct(a.interval.confidence)} interval ${num(a.interval.low)} .. ${num(a.interval.high)})</span>` : ''}</p>`
      : `<p class="value"><b>${a.rowCount}</b> row${a.rowCount === 1 ? '' : 's'}${a.matchedFrames > 0 ? `, ${a.matchedFrames} matched frame${a.matchedFrames === 1 ? '' : 's'} in ${a.matched.length} interval${a.matched.length === 1 ? '' : 's'}` : ''}</p>`;
  const acc = a.accuracy;
  const bounds = Object.entries(acc.estimated).map(([k, v]) => `<tr><td>${esc(k)}</td><td>${num(v)}</td><td>${acc.targets[k] === undefined ? '' : num(acc.targets[k]!)}</td></tr>`);
  const s = a.stats;
  return `<section id="answer"><h2>Answer</h2>${value}
<p class="accuracy ${acc.met ? 'met' : 'missed'}"><b>${esc(acc.mode)}</b>${acc.confidence !== undefined ? `, certified at ${pct(acc.confidence)}` : ''}${acc.method ? ` (${esc(acc.method)})` : ''}: ${esc(acc.note.startsWith(`${acc.mode}: `) ? acc.note.slice(acc.mode.length + 2) : acc.note)}</p>
${bounds.length > 0 ? `<table class="bounds"><tr><th>measure</th><th>${acc.mode === 'cascade' && acc.confidence !== undefined ? 'bound' : 'value'}</th><th>target</th></tr>${bounds.join('')}</table>` : ''}
<p class="cost">reference detector ran on <b>${s.referenceCalls}</b> of ${s.framesInRange} frames in range; ${s.labelsFromStore} labels from the store; ${s.framesDecoded} frames decoded; ${s.seconds.toFixed(2)} s${d.reusedRuns.length > 0 ? `; reused runs ${d.reusedRuns.map((r) => `#${r}`).join(', ')}` : ''}</p></section>`;
}

/** Matched intervals, frames labelled in this run and earlier, binned into an SVG strip. */
function timelineSection(t: TimelineData): string {
  const W = TIMELINE_BINS;
  const span = Math.max(1, t.frames);
  const x = (f: number) => (f / span) * W;
  const rects: string[] = [];
  let matchedPx = -1;
  for (const [s, e] of t.matched) {
    const x0 = x(s);
    const w = Math.max(0.6, x(e) - x0);
    if (x0 + w <= matchedPx) continue; // already covered at this resolution
    rects.push(`<rect class="matched" x="${x0.toFixed(2)}" y="8" width="${w.toFixed(2)}" height="22"/>`);
    matchedPx = x0 + w;
  }
  const ticks = (frames: Int32Array, cls: string, y: number) => {
    const bins = new Uint32Array(W);
    for (const f of frames) bins[Math.min(W - 1, Math.floor(x(f)))]!++;
    const out: string[] = [];
    for (let i = 0; i < W; i++) if (bins[i]! > 0) out.push(`<rect class="${cls}" x="${i}" y="${y}" width="1" height="12"><title>${bins[i]} frame${bins[i] === 1 ? '' : 's'}</title></rect>`);
    return out.join('');
  };
  const seconds = t.frames / (t.fps || 1);
  const axis = [0, 0.25, 0.5, 0.75, 1].map((q) => `<text x="${(q * W).toFixed(0)}" y="78" text-anchor="${q === 0 ? 'start' : q === 1 ? 'end' : 'middle'}">${clock(q * seconds)}</text>`).join('');
  const outside = [
    t.range.start > 0 ? `<rect class="outside" x="0" y="4" width="${x(t.range.start).toFixed(2)}" height="62"/>` : '',
    t.range.end < t.frames ? `<rect class="outside" x="${x(t.range.end).toFixed(2)}" y="4" width="${(W - x(t.range.end)).toFixed(2)}" height="62"/>` : '',
  ].join('');
  return `<section id="timeline"><h2>Timeline</h2>
<svg class="timeline" viewBox="0 0 ${W} 84" preserveAspectRatio="none" role="img" aria-label="timeline of matched frames and reference labels">
${outside}<rect class="track" x="0" y="8" width="${W}" height="22"/>${rects.join('')}
${ticks(t.labelledHere, 'here', 36)}${ticks(t.labelledBefore, 'before', 52)}${axis}</svg>
<p class="legend"><span class="k matched"></span> matched frames (${t.matched.length} interval${t.matched.length === 1 ? '' : 's'}) · <span class="k here"></span> labelled by the reference in this run (${t.labelledHere.length}) · <span class="k before"></span> labelled by earlier runs, read from the store (${t.labelledBefore.length})${t.range.start > 0 || t.range.end < t.frames ? ' · shaded: outside the query\u2019s range' : ''}</p></section>`;
}

function thumbnailSection(thumbs: readonly Thumbnail[], note: string): string {
  const figures = thumbs.map((t) => {
    const objects = t.objects === null ? 'not looked at by the reference: decided by the cascade' : t.objects.length === 0 ? 'reference: none of the query\u2019s objects' : t.objects.map((o) => `${o.cls} ${o.score.toFixed(2)}`).join(', ');
    return `<figure class="thumb"><img src="${t.src}" width="${t.width}" height="${t.height}" alt="frame ${t.frame}"><figcaption>frame ${t.frame} · ${clock(t.timestamp)}<br>${esc(objects)}</figcaption></figure>`;
  });
  return `<section id="frames"><h2>Frames</h2><p class="note">${esc(note)}</p><div class="grid">${figures.join('\n')}</div></section>`;
}

/** The EXPLAIN ANALYZE text: its operator chain as a nested list, the stages as a table, the text in full. */
function planSection(a: StoredAnswer): string {
  const lines = a.plan.split('\n');
  const cut = lines.indexOf('');
  const tree = cut < 0 ? lines : lines.slice(0, cut);
  const nodes: { depth: number; text: string }[] = [];
  for (const line of tree) {
    const m = /^([\s│]*)└─ (.*)$/.exec(line);
    if (m) nodes.push({ depth: Math.round(m[1]!.length / 3) + 1, text: m[2]! });
    else if (nodes.length === 0) nodes.push({ depth: 0, text: line.trim() });
    else nodes[nodes.length - 1]!.text += ` ${line.replace(/^[\s│]+/, '')}`;
  }
  let html = '';
  let depth = -1;
  for (const n of nodes) {
    while (depth < n.depth) {
      html += '<ul>';
      depth++;
    }
    while (depth > n.depth) {
      html += '</ul>';
      depth--;
    }
    html += `<li>${esc(n.text)}</li>`;
  }
  html += '</ul>'.repeat(depth + 1);
  const stages = a.stats.stages.map((s) => `<tr><td>${esc(s.stage)}</td><td>${s.framesIn}</td><td>${s.framesDecided}</td><td>${s.seconds.toFixed(2)}</td></tr>`).join('');
  return `<section id="plan"><h2>Plan</h2><div class="tree">${html}</div>
${stages ? `<table class="stages"><tr><th>stage</th><th>frames in</th><th>frames decided</th><th>seconds</th></tr>${stages}</table>` : ''}
<details><summary>EXPLAIN ANALYZE</summary><pre>${esc(a.plan)}</pre></details></section>`;
}

function rowsSection(a: StoredAnswer): string {
  const head = a.columns.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = a.rows.map((r) => `<tr>${a.columns.map((c) => `<td>${r[c] === null || r[c] === undefined ? 'NULL' : typeof r[c] === 'number' ? num(r[c] as number) : esc(String(r[c]))}</td>`).join('')}</tr>`).join('');
  return `<section id="rows"><h2>Rows</h2><p class="note">${a.rows.length < a.rowCount ? `first ${a.rows.length} of ${a.rowCount} rows` : `${a.rowCount} row${a.rowCount === 1 ? '' : 's'}`}</p><table class="rows"><tr>${head}</tr>${body}</table></section>`;
}

function provenanceSection(d: RunDetail): string {
  const items: string[] = [];
  for (const l of d.provenance?.labels ?? []) items.push(`<li>${l.frames} reference labels written by ${l.run === null ? 'a labelling outside any stored run' : `run #${l.run}`}</li>`);
  for (const m of d.specializedModels) items.push(`<li>specialized ${esc(m.kind)} model #${m.id} for <code>${esc(m.predicate)}</code>${m.inputSize ? ` (${m.inputSize} px)` : ''}, trained on ${m.trainingFrames} frames ${m.trainedHere ? 'in this run' : m.trainedByRun === null ? 'before runs were recorded' : `by run #${m.trainedByRun}`}</li>`);
  for (const s of d.provenance?.index.reused ?? []) items.push(`<li>index signal ${esc(s.signal)} from ${s.run === null ? 'an earlier build' : `run #${s.run}`}</li>`);
  for (const s of d.provenance?.index.added ?? []) items.push(`<li>index signal ${esc(s)} added by this run</li>`);
  const sources = d.sources.map((s) => `<li>run #${s.run}: <code>${esc(s.query ?? '(not stored)')}</code></li>`);
  if (items.length === 0 && sources.length === 0) return '';
  return `<section id="provenance"><h2>What this answer rests on</h2><ul>${items.join('')}</ul>${sources.length ? `<p>Earlier runs it reused:</p><ul>${sources.join('')}</ul>` : ''}</section>`;
}

export function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function num(v: number): string {
  return Number.isInteger(v) ? String(v) : String(Number(v.toPrecision(5)));
}

function pct(p: number): string {
  return `${Number((p * 100).toFixed(1))}%`;
}

function clock(seconds: number): string {
  const m = Math.floor(seconds / 60);
  const s = seconds - m * 60;
  return `${m}:${s.toFixed(1).padStart(4, '0')}`;
}

const CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:16px 24px;color:#1c1c1c;background:#fafafa}
h1{font-size:22px;margin:0 0 6px}h2{font-size:17px;margin:22px 0 8px;border-bottom:1px solid #ddd}
pre{background:#f0f0f0;padding:8px;overflow-x:auto;white-space:pre-wrap}pre.query{font-size:15px}
.meta,.note,.legend,footer{color:#555}.value{font-size:18px}.ci{color:#444;font-size:15px}
.accuracy.met{border-left:4px solid #2e7d32;padding-left:8px}.accuracy.missed{border-left:4px solid #c62828;padding-left:8px}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#eee}
svg.timeline{width:100%;height:84px;background:#fff;border:1px solid #ddd}
svg.timeline .track{fill:#eceff1}svg.timeline .matched{fill:#ef6c00}svg.timeline .here{fill:#1565c0}svg.timeline .before{fill:#90a4ae}
svg.timeline .outside{fill:#000;opacity:.08}svg.timeline text{font-size:11px;fill:#555}
.k{display:inline-block;width:12px;height:10px;vertical-align:middle}.k.matched{background:#ef6c00}.k.here{background:#1565c0}.k.before{background:#90a4ae}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(240px,1fr));gap:10px}
figure.thumb{margin:0;background:#fff;border:1px solid #ddd;padding:4px}figure.thumb img{width:100%;height:auto;display:block}
figcaption{font-size:12px;color:#333}.tree ul{list-style:none;padding-left:18px;border-left:1px dotted #999;margin:2px 0}.tree li{margin:2px 0}
footer{margin-top:28px;font-size:12px}`;
