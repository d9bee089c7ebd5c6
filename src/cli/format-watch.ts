/** `sieve watch` output: every event as one JSON line on stdout, and a short line on stderr for status and connection events. */
import type { WatchEvent } from '../live/watch.js';

/** `60`, `60s`, `5m`, `1h`, `500ms` as seconds; undefined when it is none of those. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) return undefined;
  const value = Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  return value > 0 ? value : undefined;
}

/** The stderr line for an event a person watching the terminal wants to see, or undefined. */
export function describeWatchEvent(e: WatchEvent): string | undefined {
  switch (e.type) {
    case 'connected':
      return `sieve: connected (${e.width}x${e.height}${e.fps ? `, ${e.fps} fps` : ''}${e.attempt ? `, attempt ${e.attempt + 1}` : ''})`;
    case 'dropped':
      return `sieve: the stream dropped: ${e.reason}`;
    case 'reconnecting':
      return `sieve: reconnecting in ${e.delaySeconds.toFixed(1)} s (attempt ${e.attempt})`;
    case 'status':
      return `sieve: ${e.inputFps.toFixed(1)} fps in, ${e.processedFps.toFixed(1)} fps decided, lag ${e.lagSeconds.median.toFixed(2)} s (max ${e.lagSeconds.max.toFixed(2)}), ${e.behindSeconds.toFixed(1)} s behind the stream's clock, ${e.skipped} frames skipped so far${e.cascade ? `, cascade on (${e.byCascade} frames by the model${e.byModelAlone ? `, ${e.byModelAlone} of them alone` : ''})` : ''}`;
    case 'training':
      return `sieve: training a specialized model on ${e.labelled} labelled frames (${e.positives} positive, ${e.negatives} negative; try ${e.attempt})`;
    case 'cascade':
      return e.certified
        ? `sieve: cascade on: held-out FNR <= ${e.heldOut.fnrBound.toFixed(3)}, FPR <= ${e.heldOut.fprBound.toFixed(3)} (${e.heldOut.positives}+${e.heldOut.negatives} frames), ${(100 * e.heldOut.uncertain).toFixed(0)}% left to the reference`
        : `sieve: not certified yet (held-out FNR <= ${e.heldOut.fnrBound.toFixed(3)}, FPR <= ${e.heldOut.fprBound.toFixed(3)}); labelling more`;
    case 'count-model':
      return e.running
        ? `sieve: count model on${e.resumed ? ' (stored)' : ''}: held-out residual spread <= ${e.heldOut.residualSdBound.toFixed(3)} (counts ${e.heldOut.countSd.toFixed(3)}); the reference sees a sample`
        : `sieve: the count model does not help yet (residual spread <= ${e.heldOut.residualSdBound.toFixed(3)}, counts ${e.heldOut.countSd.toFixed(3)}); labelling more`;
    case 'count-verification':
      return e.drift ? `sieve: the scene changed (the count model's residuals at ${e.start}-${e.end} s spread ${e.rmsResidual.toFixed(3)}, above ${e.allowedSd.toFixed(3)}); count model off, relabelling to retrain` : undefined;
    case 'verification':
      return e.drift ? `sieve: the scene changed (verification at ${e.start}-${e.end} s found ${e.decidedNegative.errors + e.decidedPositive.errors} errors in ${e.decidedNegative.sampled + e.decidedPositive.sampled}); cascade off, relabelling to retrain` : undefined;
    case 'end':
      return `sieve: watch ended: ${e.reason} (${e.processed} frames decided, ${e.skipped} skipped, ${e.reconnects} reconnects)`;
    default:
      return undefined;
  }
}
