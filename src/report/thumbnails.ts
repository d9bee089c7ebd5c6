/**
 * Thumbnails for a report: frames decoded by ffmpeg at a small width, the reference detector's
 * boxes and classes drawn on them by `sharp` (an SVG overlay composited onto the RGB frame),
 * encoded as JPEG data URIs so the report needs nothing at view time.
 */
import sharp from 'sharp';
import { decodeFrames } from '../video/decoder.js';
import type { FfmpegOptions } from '../video/ffmpeg-locator.js';
import { frameView } from '../video/frame.js';
import type { DetectionRow } from '../storage/catalog-rows.js';

/** One drawn frame. */
export interface Thumbnail {
  readonly frame: number;
  readonly timestamp: number;
  /** `data:image/jpeg;base64,...` */
  readonly src: string;
  readonly width: number;
  readonly height: number;
  /** The boxes drawn, with their class names and scores; null: the reference never looked at this frame. */
  readonly objects: readonly { readonly cls: string; readonly score: number }[] | null;
}

export interface ThumbnailRequest {
  readonly path: string;
  readonly videoWidth: number;
  readonly videoHeight: number;
  readonly frames: readonly number[];
  /** Stored detections per frame; a frame missing here was not labelled by the reference. */
  readonly detections: ReadonlyMap<number, readonly DetectionRow[]>;
  readonly labels: readonly string[];
  readonly width?: number;
  readonly ffmpeg?: FfmpegOptions;
}

/** A fixed palette, picked per class id, readable on video. */
const COLORS = ['#ffd400', '#00e5ff', '#ff3d7f', '#7cff4f', '#ff8a00', '#b388ff', '#ffffff', '#40c4ff'];

export function classColor(classId: number): string {
  return COLORS[classId % COLORS.length]!;
}

/** Decodes `frames` (any order) and draws their boxes; returned in frame order. */
export async function renderThumbnails(req: ThumbnailRequest): Promise<Thumbnail[]> {
  const frames = [...new Set(req.frames)].sort((a, b) => a - b);
  if (frames.length === 0) return [];
  const width = even(req.width ?? 320);
  const height = even(Math.round((width * req.videoHeight) / req.videoWidth));
  const out: Thumbnail[] = [];
  for await (const batch of decodeFrames(req.path, { ...req.ffmpeg, width, height, frames })) {
    for (let i = 0; i < batch.count; i++) {
      const frame = batch.frames[i]!;
      const dets = req.detections.get(frame);
      const overlay = Buffer.from(boxesSvg(dets ?? [], width / req.videoWidth, height / req.videoHeight, width, height, req.labels));
      const jpeg = await sharp(Buffer.from(frameView(batch, i)), { raw: { width, height, channels: 3 } })
        .composite([{ input: overlay, top: 0, left: 0 }])
        .jpeg({ quality: 72 })
        .toBuffer();
      out.push({
        frame,
        timestamp: batch.timestamps[i]!,
        src: `data:image/jpeg;base64,${jpeg.toString('base64')}`,
        width,
        height,
        objects: dets ? dets.map((d) => ({ cls: req.labels[d.classId] ?? `class ${d.classId}`, score: d.score })) : null,
      });
    }
  }
  return out;
}

function boxesSvg(dets: readonly DetectionRow[], sx: number, sy: number, width: number, height: number, labels: readonly string[]): string {
  const parts = dets.map((d) => {
    const x = Math.max(0, d.xmin * sx);
    const y = Math.max(0, d.ymin * sy);
    const w = Math.max(1, Math.min(width, d.xmax * sx) - x);
    const h = Math.max(1, Math.min(height, d.ymax * sy) - y);
    const color = classColor(d.classId);
    const text = `${labels[d.classId] ?? d.classId} ${d.score.toFixed(2)}`;
    const ty = y > 12 ? y - 3 : y + 11;
    return (
      `<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="none" stroke="${color}" stroke-width="1.5"/>` +
      `<text x="${(x + 1).toFixed(1)}" y="${ty.toFixed(1)}" font-family="sans-serif" font-size="10" fill="${color}" stroke="#000" stroke-width="0.3">${xml(text)}</text>`
    );
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${parts.join('')}</svg>`;
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}
