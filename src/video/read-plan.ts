/**
 * How a set of frames is read out of a video: which ffmpeg processes run, where each one starts
 * (from the first frame, or by a keyframe seek) and the `select` expression each one gets.
 *
 * Every expression has at most {@link MAX_TERMS} terms whatever the number of frames, because
 * ffmpeg's expression parser fails on long sums in some versions (5.1 rejects about a hundred
 * `eq(n,k)` terms that the 2018 static build accepts). A list that needs more terms is covered by
 * fewer, wider terms; the reader drops the covered frames that were not asked for.
 */

/** Frames `lo..hi` (inclusive) every `step`. */
export interface FrameTerm {
  readonly lo: number;
  readonly hi: number;
  readonly step: number;
}

/** A grid of frames never to output (`(f - start) % step == 0`), e.g. a sample decoded earlier. */
export interface FrameGrid {
  readonly start: number;
  readonly step: number;
}

/** The frames a caller wants: a range with a step, or an ascending list; minus `skip`. */
export type FrameSet =
  | { readonly kind: 'range'; readonly start: number; readonly end: number; readonly step: number; readonly skip?: FrameGrid }
  | { readonly kind: 'list'; readonly frames: Int32Array; readonly skip?: FrameGrid };

/** One ffmpeg process: the frames it outputs are `terms` (ascending, disjoint) minus `skip`. */
export interface ReadSegment {
  /** The first frame output; with `seek`, the process seeks to it instead of decoding from frame 0. */
  readonly first: number;
  readonly seek: boolean;
  readonly terms: readonly FrameTerm[];
  readonly skip?: FrameGrid;
  /** Frames the process outputs (Infinity for an open range). */
  readonly outputCount: number;
}

export const MAX_TERMS = 16;

export interface ReadPlanOptions {
  /**
   * A gap (in frames) above which a keyframe seek in a new process is cheaper than decoding
   * through; Infinity (the default) always reads sequentially. The caller derives it from measured
   * costs: seconds per seek / seconds per frame decoded.
   */
  readonly seekGap?: number;
  /** Frames a cover should leave out where it can (those already decoded in this query). */
  readonly avoid?: (frame: number) => boolean;
}

/** Splits a frame set into the processes that read it. */
export function planRead(set: FrameSet, options: ReadPlanOptions = {}): ReadSegment[] {
  const seekGap = options.seekGap ?? Infinity;
  if (set.kind === 'range') {
    const step = Math.max(1, Math.floor(set.step));
    const start = Math.max(0, Math.floor(set.start));
    if (!(set.end > start)) return [];
    const hi = Number.isFinite(set.end) ? start + Math.floor((Math.ceil(set.end) - 1 - start) / step) * step : Infinity;
    const term: FrameTerm = { lo: start, hi, step };
    return [segment([term], start > seekGap, set.skip)].filter((s) => s.outputCount > 0);
  }
  const frames = set.frames;
  for (let i = 1; i < frames.length; i++) {
    if (frames[i]! <= frames[i - 1]!) throw new RangeError('frames to decode must be strictly ascending');
  }
  if (frames.length === 0) return [];
  const terms = progressions(frames);
  // A new process (a keyframe seek) wherever the gap before a term costs more to decode through.
  const groups: FrameTerm[][] = [];
  const seeks: boolean[] = [];
  let previousEnd = -1;
  for (const term of terms) {
    const gap = term.lo - previousEnd - 1;
    if (groups.length === 0 || gap > seekGap) {
      groups.push([]);
      seeks.push(gap > seekGap);
    }
    groups[groups.length - 1]!.push(term);
    previousEnd = term.hi;
  }
  return groups.map((g, i) => segment(coarsen(g, MAX_TERMS, options.avoid, set.skip), seeks[i]!, set.skip)).filter((s) => s.outputCount > 0);
}

/** The frames a segment outputs, in order. */
export function* segmentFrames(seg: ReadSegment): Generator<number> {
  for (const t of seg.terms) {
    for (let f = t.lo; f <= t.hi; f += t.step) if (!onGrid(f, seg.skip)) yield f;
  }
}

/**
 * The `select` expression of a segment, with `n` counted from the segment's first frame when it
 * seeks (ffmpeg numbers the frames after a seek from 0) and from frame 0 otherwise.
 */
export function selectExpression(seg: ReadSegment): string {
  const base = seg.seek ? seg.first : 0;
  const sum = seg.terms
    .map((t) => {
      const lo = t.lo - base;
      const parts = [Number.isFinite(t.hi) ? (t.lo === t.hi ? `eq(n\\,${lo})` : `between(n\\,${lo}\\,${t.hi - base})`) : `gte(n\\,${lo})`];
      if (t.step > 1 && t.lo !== t.hi) parts.push(`not(mod(n-${lo}\\,${t.step}))`);
      return parts.join('*');
    })
    .join('+');
  if (!seg.skip) return sum;
  const offset = seg.skip.start - base;
  const skip = `gt(mod(n${offset >= 0 ? '-' : '+'}${Math.abs(offset)}\\,${seg.skip.step})\\,0)`;
  return seg.terms.length > 1 ? `(${sum})*${skip}` : `${sum}*${skip}`;
}

function segment(terms: readonly FrameTerm[], seek: boolean, skip: FrameGrid | undefined): ReadSegment {
  let outputCount = 0;
  let first = -1;
  for (const t of terms) {
    if (!Number.isFinite(t.hi)) {
      outputCount = Infinity;
      if (first < 0) first = firstOff(t, skip);
      break;
    }
    for (let f = t.lo; f <= t.hi; f += t.step) {
      if (onGrid(f, skip)) continue;
      if (first < 0) first = f;
      outputCount++;
    }
  }
  return { first: Math.max(0, first), seek: seek && first > 0, terms, ...(skip ? { skip } : {}), outputCount };
}

function firstOff(t: FrameTerm, skip: FrameGrid | undefined): number {
  let f = t.lo;
  while (onGrid(f, skip)) f += t.step;
  return f;
}

function onGrid(f: number, grid: FrameGrid | undefined): boolean {
  if (!grid) return false;
  const d = f - grid.start;
  return ((d % grid.step) + grid.step) % grid.step === 0;
}

/** Greedy arithmetic progressions: [0,1,2,5,8,11] -> 0..2 step 1, 5..11 step 3. */
function progressions(frames: Int32Array): FrameTerm[] {
  const out: FrameTerm[] = [];
  let i = 0;
  while (i < frames.length) {
    const lo = frames[i]!;
    if (i + 1 >= frames.length) {
      out.push({ lo, hi: lo, step: 1 });
      break;
    }
    const step = frames[i + 1]! - lo;
    let j = i + 1;
    while (j + 1 < frames.length && frames[j + 1]! - frames[j]! === step) j++;
    // A two-frame "progression" with a wide step is two single frames: keep the next frame free
    // to start its own run.
    if (j === i + 1 && step > 1 && j + 1 < frames.length && frames[j + 1]! - frames[j]! !== step) {
      out.push({ lo, hi: lo, step: 1 });
      i++;
      continue;
    }
    out.push({ lo, hi: frames[j]!, step: j > i ? step : 1 });
    i = j + 1;
  }
  return out;
}

/**
 * At most `max` terms covering `terms`: the widest gaps stay gaps, the frames between terms
 * that are merged are output too (and dropped by the reader). A merged group keeps the largest
 * step that still hits every frame it covers (their gcd).
 */
function coarsen(terms: readonly FrameTerm[], max: number, avoid: ((f: number) => boolean) | undefined, skip: FrameGrid | undefined): FrameTerm[] {
  if (terms.length <= max) return [...terms];
  // A gap holding frames to avoid stays open before any other; then the widest gaps do.
  const holdsAvoided = (lo: number, hi: number) => {
    if (!avoid) return false;
    for (let f = lo + 1; f < hi; f++) if (!onGrid(f, skip) && avoid(f)) return true;
    return false;
  };
  const gaps = terms.slice(1).map((t, i) => ({ at: i + 1, width: t.lo - terms[i]!.hi, avoided: holdsAvoided(terms[i]!.hi, t.lo) }));
  const keep = new Set(
    [...gaps]
      .sort((a, b) => Number(b.avoided) - Number(a.avoided) || b.width - a.width || a.at - b.at)
      .slice(0, max - 1)
      .map((g) => g.at),
  );
  const out: FrameTerm[] = [];
  let group: FrameTerm[] = [terms[0]!];
  const flush = () => {
    const lo = group[0]!.lo;
    const hi = group[group.length - 1]!.hi;
    let step = 0;
    for (const t of group) {
      if (t.hi > t.lo) step = gcd(step, t.step);
      if (t.lo > lo) step = gcd(step, t.lo - lo);
    }
    out.push({ lo, hi, step: Math.max(1, step) });
  };
  for (let i = 1; i < terms.length; i++) {
    if (keep.has(i)) {
      flush();
      group = [];
    }
    group.push(terms[i]!);
  }
  flush();
  return out;
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return Math.abs(a);
}
