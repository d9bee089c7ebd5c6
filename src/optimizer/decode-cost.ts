import { detectorDecodeSize } from '../inference/detector-preprocess.js';
import type { Catalog } from '../storage/catalog.js';
import type { DecodeStats } from '../video/decoder.js';

/**
 * What reading a video costs on this machine, per source resolution: seconds per frame ffmpeg
 * decodes while reading through, and seconds per keyframe seek (a new process, the seek, and the
 * frames from the keyframe to the target). From these the reader decides when a gap in the
 * frames it needs is cheaper to seek over than to decode through.
 */
export interface DecodeCosts {
  readonly readPerFrame: number;
  readonly seekSeconds: number;
  /** Gap in frames above which a seek is cheaper than decoding through. */
  readonly seekGap: number;
  /** Seconds per output pixel (scaling, RGB conversion, the pipe) beyond decoding the frame. */
  readonly outputPerPixel: number;
  /** Which of the two are assumptions (not yet measured on this machine). */
  readonly assumed: readonly string[];
}

/** Decoding speed DESIGN.md measured (768x432 H.264 at about 1,500 frames/s), scaled by pixels. */
const ASSUMED_PIXELS_PER_SECOND = 768 * 432 * 1500;
/** A process start (75-250 ms measured) plus half a long GOP: pessimistic, so reads stay sequential. */
const ASSUMED_SEEK_SECONDS = 0.25;
/**
 * An output pixel (scale + RGB + pipe) costs about 1.5 decoded source pixels: measured here on the
 * UCSD timeline, 4,560 frames of 360x240 out at 640x427 took 0.9 ms a frame more than at 32x32.
 */
const ASSUMED_OUTPUT_PER_PIXEL = 1.5 / ASSUMED_PIXELS_PER_SECOND;

export function sourceKey(width: number, height: number): string {
  return `${width}x${height}`;
}

export async function loadDecodeCosts(catalog: Catalog, width: number, height: number, machine: string): Promise<DecodeCosts> {
  const key = sourceKey(width, height);
  const read = await catalog.findStageCost('decode-read', key, machine);
  const seek = await catalog.findStageCost('decode-seek', key, machine);
  const readPerFrame = read?.secondsPerFrame ?? (width * height) / ASSUMED_PIXELS_PER_SECOND;
  const seekSeconds = seek?.secondsPerFrame ?? ASSUMED_SEEK_SECONDS;
  return {
    readPerFrame,
    seekSeconds,
    seekGap: Math.ceil(seekSeconds / Math.max(1e-6, readPerFrame)),
    outputPerPixel: ASSUMED_OUTPUT_PER_PIXEL * (readPerFrame / ((width * height) / ASSUMED_PIXELS_PER_SECOND)),
    assumed: [...(read ? [] : ['decode-read']), ...(seek ? [] : ['decode-seek']), 'decode-output (1.5 decoded pixels per output pixel, scaled by the measured read rate)'],
  };
}

/**
 * Writes back what a query's decode passes measured, smoothed with what was stored (an even mix),
 * so one noisy run does not flip the next plan. `readPass` is a pass that read every frame it
 * decoded through with no detector behind it (a cascade scan), the only clean read-through figure.
 */
export async function recordDecodeCosts(
  catalog: Catalog,
  width: number,
  height: number,
  machine: string,
  measured: { readonly all: DecodeStats; readonly readPass?: { readonly seconds: number; readonly framesRead: number } },
): Promise<void> {
  const key = sourceKey(width, height);
  if (measured.all.seeks > 0) await putSmoothed(catalog, 'decode-seek', key, machine, measured.all.seekSeconds / measured.all.seeks);
  const pass = measured.readPass;
  if (pass && pass.framesRead >= 100) await putSmoothed(catalog, 'decode-read', key, machine, pass.seconds / pass.framesRead);
}

/** The `decode` cost key: source resolution > output size (sequential reads). */
export function outputKey(width: number, height: number, outWidth: number, outHeight: number): string {
  return `${sourceKey(width, height)}>${outWidth}x${outHeight}`;
}

/** The `decode` cost key of the reference detector's input for a source of this size (every detector decodes at {@link detectorDecodeSize}). */
export function detectorInputKey(width: number, height: number): string {
  const size = detectorDecodeSize(width, height);
  return outputKey(width, height, size.width, size.height);
}

/** Seconds per output frame a consumer waited for, at one output size (smoothed like the rest). */
export async function recordOutputCost(catalog: Catalog, key: string, machine: string, seconds: number, frames: number): Promise<void> {
  if (frames >= 20) await putSmoothed(catalog, 'decode', key, machine, seconds / frames);
}

async function putSmoothed(catalog: Catalog, kind: string, key: string, machine: string, value: number): Promise<void> {
  if (!(value > 0 && Number.isFinite(value))) return;
  const old = await catalog.findStageCost(kind, key, machine);
  await catalog.putStageCost({ stageKind: kind, key, machine, secondsPerFrame: old ? (old.secondsPerFrame + value) / 2 : value });
}
