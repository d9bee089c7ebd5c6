/** Frame -> detector input tensor: resize (only when needed), letterbox, channel order, scale, NCHW. */
import { roundHalfEven } from './linear-resize.js';
import type { LetterboxAnchor } from './model-manifest.js';

export { roundHalfEven };

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
  /**
   * How the detector's own project maps boxes back to the frame: source = (input - boxPad) / gain,
   * with gain = min(inW/W, inH/H) unrounded. Ultralytics' `scale_boxes` recomputes the padding from
   * the gain (`round((in - W * gain) / 2 - 0.1)`), which can be a pixel off the image's padding;
   * YOLOX divides by the ratio only.
   */
  readonly gain: number;
  readonly boxPadX: number;
  readonly boxPadY: number;
}

/**
 * How the scaled size is rounded: Ultralytics' `LetterBox` uses Python's `round` (ties to even),
 * YOLOX's `preproc` truncates (`int(w * r)`).
 */
export type LetterboxRounding = 'half-even' | 'floor';

/** The rounding of a detector family's own pre-processing. */
export function familyRounding(family: 'ultralytics' | 'yolox'): LetterboxRounding {
  return family === 'yolox' ? 'floor' : 'half-even';
}

/**
 * Scales the source by r = min(inW/W, inH/H), rounded to whole pixels as the detector's own
 * project does, and pads around it (`center`: Ultralytics, left/top = floor of half the slack)
 * or to the bottom/right (`top-left`: YOLOX).
 */
export function letterboxGeometry(
  sourceWidth: number,
  sourceHeight: number,
  inputWidth: number,
  inputHeight: number,
  anchor: LetterboxAnchor,
  rounding: LetterboxRounding = 'half-even',
): LetterboxGeometry {
  if (!(sourceWidth > 0 && sourceHeight > 0)) throw new RangeError(`frame size must be positive, got ${sourceWidth}x${sourceHeight}`);
  const r = Math.min(inputWidth / sourceWidth, inputHeight / sourceHeight);
  const round = rounding === 'floor' ? Math.floor : roundHalfEven;
  const width = Math.min(inputWidth, Math.max(1, round(sourceWidth * r)));
  const height = Math.min(inputHeight, Math.max(1, round(sourceHeight * r)));
  const center = anchor === 'center';
  return {
    inputWidth,
    inputHeight,
    width,
    height,
    padX: center ? Math.floor((inputWidth - width) / 2) : 0,
    padY: center ? Math.floor((inputHeight - height) / 2) : 0,
    gain: r,
    boxPadX: center ? roundHalfEven((inputWidth - sourceWidth * r) / 2 - 0.1) : 0,
    boxPadY: center ? roundHalfEven((inputHeight - sourceHeight * r) / 2 - 0.1) : 0,
  };
}

/**
 * How a detector wants its frames decoded: at the source's own size, converted to RGB as OpenCV's
 * `VideoCapture` converts (BT.601 whatever the stream's metadata: measured bit-identical), and the detector
 * resizes in process with `cv2.resize`'s INTER_LINEAR arithmetic (`linear-resize.ts`); ffmpeg's
 * own scalers differ from it by up to 63 levels (BENCHMARKS.md, "Pre-processing fidelity").
 */
export function detectorDecodeSize(sourceWidth: number, sourceHeight: number): { width: number; height: number; color: 'opencv' } {
  return { width: sourceWidth, height: sourceHeight, color: 'opencv' };
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
