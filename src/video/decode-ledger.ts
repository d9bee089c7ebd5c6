import type { DecodeLedger, DecodeStats } from './decoder.js';

/** Frames ffmpeg output at one size within one query, and how many of them it had output before. */
export interface DecodedAtSize {
  readonly size: string;
  /** Frames delivered at this size, and how many of them had been delivered at it before. */
  readonly frames: number;
  readonly repeated: number;
  /** Frames ffmpeg output at this size only to be dropped (covered by a bounded `select` term). */
  readonly dropped: number;
}

/**
 * Remembers, per output size, which frames a query has had ffmpeg decode (one bit per frame of
 * the video), so that a frame decoded twice at the same size shows in the run statistics.
 */
export class FrameLedger implements DecodeLedger {
  private readonly seen = new Map<string, { bits: Uint8Array; frames: number; repeated: number; dropped: number }>();

  constructor(private readonly frameCount: number) {}

  record(size: string, frame: number, delivered: boolean): void {
    let entry = this.seen.get(size);
    if (!entry) this.seen.set(size, (entry = { bits: new Uint8Array((this.frameCount >> 3) + 1), frames: 0, repeated: 0, dropped: 0 }));
    if (!delivered) {
      entry.dropped++;
      return;
    }
    const byte = frame >> 3;
    const bit = 1 << (frame & 7);
    if (byte >= entry.bits.length) return;
    if (entry.bits[byte]! & bit) entry.repeated++;
    else entry.bits[byte]! |= bit;
    entry.frames++;
  }

  has(size: string, frame: number): boolean {
    const bits = this.seen.get(size)?.bits;
    return bits ? ((bits[frame >> 3] ?? 0) & (1 << (frame & 7))) !== 0 : false;
  }

  summary(): DecodedAtSize[] {
    return [...this.seen].map(([size, e]) => ({ size, frames: e.frames, repeated: e.repeated, dropped: e.dropped }));
  }
}

/** How a query read its video: per output size, and the ffmpeg processes behind it. */
export interface ReadSummary {
  readonly decoded: readonly DecodedAtSize[];
  readonly reads: { readonly processes: number; readonly seeks: number; readonly framesRead: number; readonly framesDropped: number; readonly longestCommand: number };
}

export function decodeSummary(counters: { readonly ledger?: DecodeLedger; readonly decode?: DecodeStats }): Partial<ReadSummary> {
  const ledger = counters.ledger instanceof FrameLedger ? counters.ledger : undefined;
  const d = counters.decode;
  return {
    ...(ledger ? { decoded: ledger.summary() } : {}),
    ...(d ? { reads: { processes: d.processes, seeks: d.seeks, framesRead: d.framesRead, framesDropped: d.framesDropped, longestCommand: d.longestCommand } } : {}),
  };
}
