/**
 * `sieve report <run>` / `engine.report(runId)`: one self-contained HTML file about a stored run:
 * the query, the answer with its bounds or interval, the plan with per-stage frames and seconds,
 * a timeline of the matched frames and of the frames the reference labelled, and thumbnails of
 * matched frames with the reference's boxes. Everything comes from the catalog (the run's stored
 * answer, the label store) and the video file; nothing is run again but ffmpeg for thumbnails.
 */
import { existsSync } from 'node:fs';
import type { Catalog } from '../storage/index.js';
import type { DetectionRow } from '../storage/catalog-rows.js';
import type { FfmpegOptions } from '../video/ffmpeg-locator.js';
import { runDetail } from '../runs/run-view.js';
import type { StoredAnswer } from '../runs/run-record.js';
import { renderReportHtml, type ReportData } from './report-html.js';
import { renderThumbnails, type Thumbnail } from './thumbnails.js';

export interface ReportOptions {
  /** Most thumbnails drawn (default 24); more matched frames are sampled evenly over time. */
  readonly maxThumbnails?: number;
  /** Thumbnail width in pixels (default 320). */
  readonly thumbnailWidth?: number;
  readonly ffmpeg?: FfmpegOptions;
}

/** Builds the report of stored run `runId` as an HTML string. */
export async function buildReport(catalog: Catalog, runId: number, options: ReportOptions = {}): Promise<string> {
  const detail = await runDetail(catalog, runId);
  const row = (await catalog.findQueryRun(runId))!;
  const video = row.videoId === null ? undefined : await catalog.findVideoById(row.videoId);
  const model = row.modelId === null ? undefined : await catalog.findModelById(row.modelId);
  const answer = detail.answer;
  const data: ReportData = { detail, generatedAt: new Date().toISOString(), thumbnails: [], thumbnailNote: '', timeline: null };
  if (!video || !model || !answer) return renderReportHtml({ ...data, thumbnailNote: detail.status === 'error' ? 'the run failed: no frames to show' : 'this run stored no answer to draw' });
  const range = answer.range ?? { start: 0, end: video.frameCount };
  const labelled = await catalog.labelledFrames(video.id, model.id, range);
  const byRun = await catalog.framesLabelledBy(runId, video.id, model.id);
  const thisRun = new Set(byRun);
  const timeline = {
    frames: video.frameCount,
    fps: video.fps,
    range,
    matched: answer.matched,
    labelledHere: byRun.filter((f) => f >= range.start && f < range.end),
    labelledBefore: labelled.filter((f) => !thisRun.has(f)),
  };
  const max = Math.max(0, options.maxThumbnails ?? 24);
  const pick = chooseThumbnails(answer, labelled, max);
  let thumbnails: Thumbnail[] = [];
  let note = pick.note;
  if (pick.frames.length > 0 && existsSync(video.path)) {
    const classIds = answer.classes.map((c) => model.labels.indexOf(c)).filter((i) => i >= 0);
    const detections = await detectionsOf(catalog, video.id, model.id, pick.frames, new Set(labelled), classIds);
    thumbnails = await renderThumbnails({
      path: video.path,
      videoWidth: video.width,
      videoHeight: video.height,
      frames: pick.frames,
      detections,
      labels: model.labels,
      ...(options.thumbnailWidth ? { width: options.thumbnailWidth } : {}),
      ...(options.ffmpeg ? { ffmpeg: options.ffmpeg } : {}),
    });
  } else if (pick.frames.length > 0) {
    note = `the video file ${video.path} is no longer there: no thumbnails`;
  }
  return renderReportHtml({ ...data, thumbnails, thumbnailNote: note, timeline });
}

/**
 * Which frames to draw: matched frames (those the reference labelled first, so their boxes are
 * the reference's), sampled evenly over the answer; for an answer without frames (a count), frames
 * the reference labelled in the range.
 */
export function chooseThumbnails(answer: Pick<StoredAnswer, 'matched' | 'matchedFrames' | 'kind'>, labelled: Int32Array, max: number): { frames: number[]; note: string } {
  const labelledSet = new Set(labelled);
  if (answer.matched.length > 0) {
    // Without listing every matched frame (a long answer can match most of a long video).
    const verified = labelledWithin(labelled, answer.matched);
    const need = Math.max(0, max - verified.length);
    const others = need === 0 ? [] : evenly(offsetsToFrames(answer.matched, Math.min(answer.matchedFrames, 4 * max)).filter((f) => !labelledSet.has(f)), need);
    const frames = verified.length >= max ? evenly(verified, max) : [...verified, ...others];
    const shown = frames.length;
    const total = answer.matchedFrames;
    return {
      frames: frames.sort((a, b) => a - b),
      note: `${shown} of ${total} matched frame${total === 1 ? '' : 's'}${shown < total ? ', sampled evenly over time, frames the reference labelled first' : ''}`,
    };
  }
  if (labelled.length === 0 || max === 0) return { frames: [], note: 'no matched frames and no reference labels in range to draw' };
  const frames = evenly([...labelled], max);
  return { frames, note: `the answer is ${answer.kind === 'aggregate' ? 'a number' : 'empty'}: ${frames.length} of the ${labelled.length} frames the reference labelled in range, sampled evenly over time` };
}

/** The labelled frames (ascending) that lie in the half-open `intervals` (ascending, disjoint). */
function labelledWithin(labelled: Int32Array, intervals: readonly (readonly [number, number])[]): number[] {
  const out: number[] = [];
  let i = 0;
  for (const f of labelled) {
    while (i < intervals.length && intervals[i]![1] <= f) i++;
    if (i === intervals.length) break;
    if (f >= intervals[i]![0]) out.push(f);
  }
  return out;
}

/** `n` frames spread evenly over the frames of `intervals`, found by walking the intervals once. */
function offsetsToFrames(intervals: readonly (readonly [number, number])[], n: number): number[] {
  const total = intervals.reduce((a, [s, e]) => a + e - s, 0);
  const out: number[] = [];
  let i = 0;
  let before = 0; // frames in the intervals ahead of interval i
  for (let k = 0; k < n; k++) {
    const offset = Math.floor(((k + 0.5) * total) / n);
    for (let [s, e] = intervals[i]!; offset >= before + e - s; [s, e] = intervals[++i]!) before += e - s;
    out.push(intervals[i]![0] + offset - before);
  }
  return out;
}

/** `n` items spread evenly over `xs` (all of them when there are fewer). */
function evenly<T>(xs: readonly T[], n: number): T[] {
  if (n <= 0) return [];
  if (xs.length <= n) return [...xs];
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(xs[Math.floor(((i + 0.5) * xs.length) / n)]!);
  return out;
}

/** Stored detections of the frames to draw (the query's classes, or all when it names none); labelled frames without any get an empty list. */
async function detectionsOf(catalog: Catalog, videoId: number, modelId: number, frames: readonly number[], labelled: ReadonlySet<number>, classIds: readonly number[]): Promise<Map<number, DetectionRow[]>> {
  const out = new Map<number, DetectionRow[]>();
  for (const f of frames) if (labelled.has(f)) out.set(f, []);
  // One small read per drawn frame: bounded by the thumbnails, not by the video's length.
  for (const f of out.keys()) {
    const rows = await catalog.readDetections(videoId, modelId, { start: f, end: f + 1, ...(classIds.length > 0 ? { classIds } : {}) });
    out.set(f, rows);
  }
  return out;
}
