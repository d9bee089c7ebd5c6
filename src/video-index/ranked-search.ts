/**
 * BlazeIt's LIMIT search: frames in order of the proxy's probability of satisfying the
 * predicate, verified by the reference in batches, with GAP's exclusion applied as frames are
 * accepted, until k frames are verified. Frames whose labels are already known cost nothing and
 * are taken first. Every accepted frame was checked by the reference; where fewer than k exist,
 * every frame is checked and the answer is the exact one.
 */

export interface SearchInput {
  /** Frames [start, end) of the range searched. */
  readonly start: number;
  readonly end: number;
  readonly k: number;
  /** Minimum distance between returned frames (1: distinct frames). */
  readonly gap: number;
  /** The proxy's score of frame `start + i` (higher first). */
  readonly scores: ArrayLike<number>;
  /** Frames whose answer is known without a reference call (the label store): satisfies or not. */
  readonly known: ReadonlyMap<number, boolean>;
  /** Labels the frames (ascending) with the reference and says which satisfy the predicate. */
  verify(frames: Int32Array): Promise<ReadonlyMap<number, boolean>>;
  /** Called after each batch, with the frames verified so far. */
  readonly onBatch?: (verified: number, accepted: number) => void;
}

export interface SearchResult {
  /** Accepted frames, ascending: pairwise at least `gap` apart, each verified. */
  readonly frames: number[];
  /** Frames the reference labelled for the search (calls). */
  readonly verified: number;
  /** Verified frames that satisfied the predicate but were not needed or fell inside a gap. */
  readonly unused: number;
  readonly batches: number;
  /** Frames ranked by the proxy (the range less the frames known before). */
  readonly ranked: number;
  /** True when fewer than k satisfied: every frame of the range was checked. */
  readonly exhausted: boolean;
}

const UNKNOWN = 0;
const NEGATIVE = 1;
const POSITIVE = 2;

/**
 * Frames per reference batch: enough for the frames still needed at the hit rate seen so far,
 * at most 256 or half the frames verified so far, whichever is more. Each batch is one read of
 * the video, so where hits are scarce (the search may check every frame) batches grow by half
 * at each step: about log(n) reads instead of n / 256, for at most half a batch checked past
 * the k-th hit.
 */
export function batchSize(needed: number, hitRate: number, verified = 0): number {
  return Math.max(8, Math.min(Math.max(256, Math.floor(verified / 2)), Math.ceil((2 * needed) / Math.max(hitRate, 1e-6))));
}

export async function rankedSearch(input: SearchInput): Promise<SearchResult> {
  const { start, end, k, scores } = input;
  const gap = Math.max(1, input.gap);
  const n = end - start;
  const state = new Uint8Array(n);
  const blocked = new Uint8Array(n);
  const accepted: number[] = [];
  const accept = (i: number) => {
    accepted.push(start + i);
    for (let j = Math.max(0, i - gap + 1); j < Math.min(n, i + gap); j++) blocked[j] = 1;
  };
  // Known frames first, in frame order (free, and frame order fits the most of them between gaps).
  for (let i = 0; i < n; i++) {
    const known = input.known.get(start + i);
    if (known === undefined) continue;
    state[i] = known ? POSITIVE : NEGATIVE;
    if (known && !blocked[i] && accepted.length < k) accept(i);
  }
  const order = Array.from({ length: n }, (_, i) => i).filter((i) => state[i] === UNKNOWN);
  const ranked = order.length;
  order.sort((a, b) => Number(scores[b]) - Number(scores[a]) || a - b);
  let verified = 0;
  let hits = 0;
  let batches = 0;
  let next = 0;
  while (accepted.length < k) {
    const batch: number[] = [];
    // The hit rate so far, with half a hit added (0.5 before any check; small, not zero, with none found).
    const size = batchSize(k - accepted.length, (hits + 0.5) / (verified + 1), verified);
    // Frames of one batch are kept a gap apart too: two neighbours could not both be returned.
    const taken = new Set<number>();
    for (let p = next; p < order.length && batch.length < size; p++) {
      const i = order[p]!;
      if (state[i] !== UNKNOWN || blocked[i]) continue;
      let near = false;
      for (const j of taken) if (Math.abs(j - i) < gap) near = true;
      if (near) continue;
      batch.push(i);
      taken.add(i);
    }
    while (next < order.length && (state[order[next]!] !== UNKNOWN || blocked[order[next]!])) next++;
    if (batch.length === 0) break;
    const result = await input.verify(Int32Array.from([...batch].sort((a, b) => a - b), (i) => start + i));
    batches++;
    verified += batch.length;
    for (const i of batch) {
      const yes = result.get(start + i) === true;
      state[i] = yes ? POSITIVE : NEGATIVE;
      if (yes) hits++;
      if (yes && !blocked[i] && accepted.length < k) accept(i);
    }
    input.onBatch?.(verified, accepted.length);
  }
  if (accepted.length >= k) return { frames: accepted.sort((a, b) => a - b), verified, unused: hits - accepted.filter((f) => input.known.get(f) === undefined).length, batches, ranked, exhausted: false };
  // Fewer than k: the frames gaps left unchecked are checked too, and the answer is the exact
  // one (the most frames a gap apart, taken in frame order, as the exact plan takes them).
  const rest: number[] = [];
  for (let i = 0; i < n; i++) if (state[i] === UNKNOWN) rest.push(i);
  if (rest.length > 0) {
    const result = await input.verify(Int32Array.from(rest, (i) => start + i));
    batches++;
    verified += rest.length;
    for (const i of rest) state[i] = result.get(start + i) === true ? POSITIVE : NEGATIVE;
  }
  const frames: number[] = [];
  let last = -Infinity;
  for (let i = 0; i < n && frames.length < k; i++) {
    if (state[i] === POSITIVE && i - last >= gap) {
      frames.push(start + i);
      last = i;
    }
  }
  return { frames, verified, unused: 0, batches, ranked, exhausted: true };
}
