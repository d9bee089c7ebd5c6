import { describe, expect, it } from 'vitest';
import { scaleFilter } from '../../src/video/decoder.js';

describe('scale filter', () => {
  it("converts as OpenCV's VideoCapture does when asked: BT.601, range from the pixel format", () => {
    expect(scaleFilter({ width: 640, height: 360, color: 'opencv' }, { startTime: 0, exact: true, fullRangeFormat: false })).toBe(
      'scale=640:360:flags=area:in_color_matrix=bt601:in_range=tv,format=rgb24',
    );
    expect(scaleFilter({ width: 320, height: 240, color: 'opencv' }, { startTime: 0, exact: true, fullRangeFormat: true })).toContain('in_range=pc');
  });

  it("leaves ffmpeg's own conversion (the stream's colour tags) for other outputs", () => {
    expect(scaleFilter({ width: 64, height: 64, scaler: 'bilinear' }, undefined)).toBe('scale=64:64:flags=bilinear,format=rgb24');
  });
});
