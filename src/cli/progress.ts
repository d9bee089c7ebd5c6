import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../engine-types.js';

/**
 * Renders engine progress events as one bar per phase on stderr (frames/s and ETA). Silent when
 * stderr is not a terminal unless `force` is set, so logs stay clean.
 */
export function progressRenderer(options: { force?: boolean } = {}): { onProgress: (event: ProgressEvent) => void; stop: () => void } {
  const stream = process.stderr;
  const enabled = options.force || stream.isTTY;
  let bar: cliProgress.SingleBar | undefined;
  let phase = '';
  let started = 0;
  let lastLine = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  const onProgress = (event: ProgressEvent) => {
    if (!enabled) return;
    if (event.phase !== phase || !bar) {
      stop();
      phase = event.phase;
      started = performance.now();
      bar = new cliProgress.SingleBar(
        {
          stream,
          format: `${event.label.padEnd(22)} [{bar}] {value}/{total} ${event.unit} | {rate} ${event.unit}/s | ETA {eta_formatted}`,
          hideCursor: true,
          clearOnComplete: false,
          noTTYOutput: !stream.isTTY,
          notTTYSchedule: 1000,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(event.total, 0, { rate: '0.0' });
    }
    const seconds = (performance.now() - started) / 1000;
    bar.setTotal(event.total);
    bar.update(event.done, { rate: seconds > 0 ? (event.done / seconds).toFixed(1) : '0.0' });
    if (!stream.isTTY && performance.now() - lastLine > 1000) lastLine = performance.now();
    if (event.done >= event.total) stop();
  };
  return { onProgress, stop };
}
