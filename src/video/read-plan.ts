/**
 * How a set of frames is read out of a video: which ffmpeg processes run, where each one starts
 * (from the first frame, or by a keyframe seek) and the `select` expression each one gets.
 *
 * ffmpeg's expression parser limits how deep an expression nests (100 levels in libavutil's
 * eval.c), and a flat sum of terms nests one level per term: 5.1 rejects a sum of about a hundred
 * `eq(n,k)` terms that the 2018 static build accepts. The terms are therefore summed as a balanced
 * tree of parenthesised sums of at most {@link SUM_FANOUT} (three levels of parentheses for 512
 * terms; both builds read 1,000 such terms, measured). Every expression has at most
 * {@link MAX_TERMS} terms whatever the number of frames, which bounds the command line (about 25 KB,
 * far under Linux's 128 KB per argument). A list that needs more terms is covered by fewer, wider
 * terms; the reader drops the covered frames that were not asked for.
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

export const MAX_TERMS = 512;

/** Terms per parenthesised sum in a select expression (see the file comment). */
export const SUM_FANOUT = 8;

export interface ReadPlanOptions {
  /**
   * A gap (in frames) above which a keyframe seek in a new process is cheaper than decoding
   * through; Infinity (the default) always reads sequentially. The caller derives it from measured
   * costs: seconds per seek / seconds per frame decoded.
   */
  readonly seekGap?: number;
  /**
   * How many frames a cover may output only to be dropped before a new process (a seek) is the
   * cheaper way to stay within {@link MAX_TERMS}: seconds per seek / seconds per output frame.
   * Default: `seekGap` (an output frame costing what a decoded one does).
   */
  readonly mergeGap?: number;
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
  const mergeGap = options.mergeGap ?? seekGap;
  return splitAndCover(terms, seekGap, mergeGap, options.avoid, set.skip)
    .map((p) => segment(p.terms, p.seek, set.skip))
    .filter((seg) => seg.outputCount > 0);
}

interface Group extends FrameTerm {
  /** Frames of the list inside the group. */
  readonly wanted: number;
  /** Frames to avoid in the gap before this group (a cover over that gap decodes them again). */
  readonly avoidedBefore: number;
}

/**
 * Walks the terms in order, starting a new process where a gap costs more to decode through than
 * a seek, and keeping each process within MAX_TERMS terms by merging the two neighbours whose
 * cover outputs the fewest extra frames, or, where seeking is possible and cheaper, by starting a
 * new process instead.
 */
function splitAndCover(terms: readonly FrameTerm[], seekGap: number, mergeGap: number, avoid: ((f: number) => boolean) | undefined, skip: FrameGrid | undefined): { terms: FrameTerm[]; seek: boolean }[] {
  const processes: { terms: FrameTerm[]; seek: boolean }[] = [];
  let current: Group[] = [];
  /** mergeCost of each neighbouring pair of `current`, kept as terms are pushed and merged. */
  let costs: number[] = [];
  let seek = false;
  let previousEnd = -1;
  const close = () => {
    if (current.length > 0) processes.push({ terms: current.map(({ lo, hi, step }) => ({ lo, hi, step })), seek });
  };
  for (const t of terms) {
    const gap = t.lo - previousEnd - 1;
    const wanted = Math.floor((t.hi - t.lo) / t.step) + 1;
    let avoidedBefore = 0;
    if (avoid && current.length > 0) for (let f = previousEnd + 1; f < t.lo; f++) if (!onGrid(f, skip) && avoid(f)) avoidedBefore++;
    previousEnd = t.hi;
    if (current.length === 0 || gap > seekGap) {
      close();
      current = [{ ...t, wanted, avoidedBefore: 0 }];
      costs = [];
      seek = gap > seekGap;
      continue;
    }
    current.push({ ...t, wanted, avoidedBefore });
    costs.push(mergeCost(current[current.length - 2]!, current[current.length - 1]!));
    if (current.length <= MAX_TERMS) continue;
    let best = 0;
    let bestCost = Infinity;
    for (let i = 0; i < costs.length; i++) if (costs[i]! < bestCost) [best, bestCost] = [i, costs[i]!];
    // A new process here costs a seek, less the gap it no longer decodes through (in output frames).
    const splitCost = Number.isFinite(seekGap) ? mergeGap * (1 - gap / seekGap) : Infinity;
    if (splitCost < bestCost) {
      const last = current.pop()!;
      close();
      current = [{ ...last, avoidedBefore: 0 }];
      costs = [];
      seek = true;
    } else {
      current.splice(best, 2, merge(current[best]!, current[best + 1]!));
      costs.splice(best, 1);
      if (best > 0) costs[best - 1] = mergeCost(current[best - 1]!, current[best]!);
      if (best + 1 < current.length) costs[best] = mergeCost(current[best]!, current[best + 1]!);
    }
  }
  close();
  return processes;
}

/** Extra frames a cover of two neighbours outputs, a frame to avoid counting four times. */
function mergeCost(a: Group, b: Group): number {
  const m = merge(a, b);
  return Math.floor((m.hi - m.lo) / m.step) + 1 - m.wanted + 4 * b.avoidedBefore;
}

/** One term covering two: the largest step that still hits every frame of both (their gcd). */
function merge(a: Group, b: Group): Group {
  let step = gcd(a.hi > a.lo ? a.step : 0, b.hi > b.lo ? b.step : 0);
  step = gcd(step, b.lo - a.lo);
  return { lo: a.lo, hi: b.hi, step: Math.max(1, step), wanted: a.wanted + b.wanted, avoidedBefore: a.avoidedBefore };
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
  const sum = balancedSum(
    seg.terms.map((t) => {
      const lo = t.lo - base;
      const parts = [Number.isFinite(t.hi) ? (t.lo === t.hi ? `eq(n\\,${lo})` : `between(n\\,${lo}\\,${t.hi - base})`) : `gte(n\\,${lo})`];
      if (t.step > 1 && t.lo !== t.hi) parts.push(`not(mod(n-${lo}\\,${t.step}))`);
      return parts.join('*');
    }),
  );
  if (!seg.skip) return sum;
  const offset = seg.skip.start - base;
  const skip = `gt(mod(n${offset >= 0 ? '-' : '+'}${Math.abs(offset)}\\,${seg.skip.step})\\,0)`;
  return seg.terms.length > 1 ? `(${sum})*${skip}` : `${sum}*${skip}`;
}

/** `a+b+...` for at most SUM_FANOUT terms; more are split into that many parenthesised sums, recursively. */
function balancedSum(terms: readonly string[]): string {
  if (terms.length <= SUM_FANOUT) return terms.join('+');
  const size = Math.ceil(terms.length / SUM_FANOUT);
  const groups: string[] = [];
  for (let i = 0; i < terms.length; i += size) groups.push(`(${balancedSum(terms.slice(i, i + size))})`);
  return groups.join('+');
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

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return Math.abs(a);
}
