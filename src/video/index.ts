export { decodeFrames, type DecodeOptions } from './decoder.js';
export { locateFfmpeg, type FfmpegBinaries, type FfmpegOptions } from './ffmpeg-locator.js';
export { frameView, type FrameBatch, type FrameRange } from './frame.js';
export { probeVideo, type VideoInfo } from './probe.js';
