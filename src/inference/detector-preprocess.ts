/** Frame -> detector input tensor: resize (only when needed), letterbox, channel order, scale, NCHW. */
import type { LetterboxAnchor } from './model-manifest.js';

/** Where a source frame lands inside the model input. */
export interface LetterboxGeometry {
  readonly inputWidth: number;
  readonly inputHeight: number;
  /** Size of the scaled frame inside the input. */
  readonly width: number;
  readonly height: number;
  /** Left and top padding, input pixels. */
  readonly padX: number;
  readonly padY: number;
}

/** Scales the source by r = min(inW/W, inH/H) (rounded to whole pixels) and pads around it or to the bottom/right. */
export function letterboxGeometry(sourceWidth: number, sourceHeight: number, inputWidth: number, inputHeight: number, anchor: LetterboxAnchor): LetterboxGeometry {
  if (!(sourceWidth > 0 && sourceHeight > 0)) throw new RangeError(`frame size must be positive, got ${sourceWidth}x${sourceHeight}`);
  const r = Math.min(inputWidth / sourceWidth, inputHeight / sourceHeight);
  const width = Math.min(inputWidth, Math.max(1, Math.round(sourceWidth * r)));
  const height = Math.min(inputHeight, Math.max(1, Math.round(sourceHeight * r)));
  const center = anchor === 'center';
  return {
    inputWidth,
    inputHeight,
    width,
    height,
    padX: center ? Math.floor((inputWidth - width) / 2) : 0,
    padY: center ? Math.floor((inputHeight - height) / 2) : 0,
  };
}

/**
 * Writes one packed RGB frame of exactly `g.width x g.height` into the content region of a
 * `[3, inputHeight, inputWidth]` tensor; the padding is left as it is.
 */
export function writeLetterboxed(tensor: Float32Array, rgb: Uint8Array, g: LetterboxGeometry, channelOrder: 'rgb' | 'bgr', scale: number): void {
  const plane = g.inputWidth * g.inputHeight;
  // Plane k of the tensor takes source channel order[k].
  const c0 = channelOrder === 'rgb' ? 0 : 2;
  const c2 = 2 - c0;
  for (let y = 0; y < g.height; y++) {
    let src = y * g.width * 3;
    let dst = (g.padY + y) * g.inputWidth + g.padX;
    const end = dst + g.width;
    for (; dst < end; dst++, src += 3) {
      tensor[dst] = rgb[src + c0]! * scale;
      tensor[plane + dst] = rgb[src + 1]! * scale;
      tensor[2 * plane + dst] = rgb[src + c2]! * scale;
    }
  }
}

/** Bilinear resize of packed RGB (pixel centres aligned, as ffmpeg's and OpenCV's default). */
export function resizeBilinearRgb(src: Uint8Array, sw: number, sh: number, dst: Uint8Array, dw: number, dh: number): void {
  const sx = sw / dw;
  const sy = sh / dh;
  for (let y = 0; y < dh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), sh - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, sh - 1);
    const wy = fy - y0;
    for (let x = 0; x < dw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), sw - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, sw - 1);
      const wx = fx - x0;
      const a = (y0 * sw + x0) * 3;
      const b = (y0 * sw + x1) * 3;
      const c = (y1 * sw + x0) * 3;
      const d = (y1 * sw + x1) * 3;
      const o = (y * dw + x) * 3;
      for (let k = 0; k < 3; k++) {
        const top = src[a + k]! + (src[b + k]! - src[a + k]!) * wx;
        const bottom = src[c + k]! + (src[d + k]! - src[c + k]!) * wx;
        dst[o + k] = Math.round(top + (bottom - top) * wy);
      }
    }
  }
}
