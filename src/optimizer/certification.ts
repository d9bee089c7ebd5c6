/**
 * Certifying a presence answer (SUPG's question, with a finite-sample bound): after the cheap
 * stages have decided, the frames the reference never saw are two strata, answered positive
 * (U+) and answered negative (U-). A random sample of each is labelled; Clopper-Pearson's exact
 * binomial bound on each stratum's error rate (one-sided, valid for any sample size; sampling
 * without replacement only makes it conservative) bounds the misses left in U- and the false
 * positives left in U+, and with them the answer's FNR, FPR and precision, all at once at the
 * query's confidence. Samples grow in looks (each look doubles them); the confidence spent is
 * split across looks (80% on the first, the rest halving), so every reported bound holds at the
 * stated confidence however many looks were taken.
 */
import { gammaln } from 'simple-statistics';
import type { BoundQuery } from '../binder/index.js';

/** The method's name, as answers and EXPLAIN state it. */
export const CERTIFICATION_METHOD = 'Clopper-Pearson (exact binomial), one-sided per stratum, union bound over strata and looks';

/** P(X <= x) for X ~ Binomial(n, p), summed in log space (no underflow for large n). */
export function binomialCdf(x: number, n: number, p: number): number {
  if (x < 0) return 0;
  if (x >= n || p <= 0) return 1;
  if (p >= 1) return 0;
  const lp = Math.log(p);
  const lq = Math.log1p(-p);
  const lnN = gammaln(n + 1);
  let sum = 0;
  for (let k = 0; k <= x; k++) sum += Math.exp(lnN - gammaln(k + 1) - gammaln(n - k + 1) + k * lp + (n - k) * lq);
  return Math.min(1, sum);
}

/** The smallest u with P(Binomial(n, u) <= x) <= alpha: a one-sided upper bound on a rate seen x times in n. */
export function clopperPearsonUpper(x: number, n: number, alpha: number): number {
  if (n <= 0) return 1;
  if (x >= n) return 1;
  let lo = x / n;
  let hi = 1;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (binomialCdf(x, n, mid) > alpha) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** Confidence spent on look k (0-based) of a sequence whose total is `delta`. */
export function lookAlpha(delta: number, look: number): number {
  return look === 0 ? 0.8 * delta : (0.2 * delta) / 2 ** look;
}

/** One stratum of unverified frames: its size, and the sample drawn from it with the errors found. */
export interface Stratum {
  readonly size: number;
  readonly sampled: number;
  readonly errors: number;
}

/** What is known exactly: verified frames (labelled by the reference, sample included). */
export interface Verified {
  readonly positives: number;
  readonly negatives: number;
}

export interface PresenceBounds {
  readonly fnr: number;
  readonly fpr: number;
  /** A lower bound on the precision of the returned frames. */
  readonly precision: number;
  /** Upper bounds on the misses left among answered negatives and the false positives among answered positives. */
  readonly falseNegatives: number;
  readonly falsePositives: number;
}

/**
 * Bounds on the answer's FNR, FPR and precision after the samples' frames were corrected, each
 * stratum bounded at `alpha / 2`. `positive` is U+, `negative` U-; `verified` counts the sample too.
 */
export function presenceBounds(positive: Stratum, negative: Stratum, verified: Verified, alpha: number): PresenceBounds {
  const remaining = (s: Stratum, u: number) => (s.sampled >= s.size ? 0 : Math.max(0, Math.min(s.size - s.sampled, s.size * u - s.errors)));
  const fn = remaining(negative, clopperPearsonUpper(negative.errors, negative.sampled, alpha / 2));
  const fp = remaining(positive, clopperPearsonUpper(positive.errors, positive.sampled, alpha / 2));
  const truePositivesLeft = Math.max(0, positive.size - positive.sampled - fp);
  const trueNegativesLeft = Math.max(0, negative.size - negative.sampled - fn);
  const ratio = (bad: number, good: number) => (bad <= 0 ? 0 : bad / (bad + good));
  const returned = verified.positives + positive.size - positive.sampled;
  return {
    fnr: ratio(fn, verified.positives + truePositivesLeft),
    fpr: ratio(fp, verified.negatives + trueNegativesLeft),
    precision: returned <= 0 ? 1 : Math.max(0, 1 - fp / returned),
    falseNegatives: fn,
    falsePositives: fp,
  };
}

export interface CertificationTargets {
  readonly fnr: number;
  readonly fpr: number;
  readonly precision: number | undefined;
  readonly confidence: number;
}

/**
 * First-look sample sizes: the labels each stratum needs for its bound to meet the target if the
 * sample finds no error (the floor ln(1/alpha)(1 - a) / (a p) of the certified-cascade issue, in
 * this answer's own counts), a quarter more for the errors it may find; at most the stratum.
 */
export function firstLookSizes(positive: number, negative: number, verified: Verified, t: CertificationTargets): { positive: number; negative: number } {
  const z = Math.log(2 / lookAlpha(1 - t.confidence, 0));
  const answeredPositives = Math.max(1, verified.positives + positive);
  const answeredNegatives = Math.max(1, verified.negatives + negative);
  const need = (size: number, allowed: number) => (size === 0 ? 0 : allowed <= 0 ? size : Math.min(size, Math.ceil((1.25 * size * z) / allowed)));
  const forFnr = need(negative, (t.fnr / (1 - t.fnr)) * answeredPositives);
  const forFpr = t.fpr >= 1 ? 0 : need(positive, (t.fpr / (1 - t.fpr)) * answeredNegatives);
  const forPrecision = t.precision === undefined ? 0 : need(positive, (1 - t.precision) * answeredPositives);
  return { positive: Math.max(forFpr, forPrecision), negative: forFnr };
}

/**
 * The optimizer's estimate of the labels certification will take, before anything runs: a class
 * present in a share `p` of `frames` unverified frames, answered by a cascade whose estimated
 * error rates are `expected` (FNR over positives, FPR over negatives). With no error expected it
 * is the first look's size; otherwise the sample at which Clopper-Pearson's bound, with the
 * errors that sample is expected to find, fits the target, and the whole stratum when the
 * expected error rate leaves no room under the target.
 */
export function estimatedCertificationLabels(frames: number, p: number, t: CertificationTargets, expected: { fnr: number; fpr: number } = { fnr: 0, fpr: 0 }): number {
  const share = Math.min(0.999, Math.max(0.001, p));
  const positives = frames * share;
  const negatives = frames - positives;
  const sizes = firstLookSizes(Math.round(positives), Math.round(negatives), { positives: 0, negatives: 0 }, t);
  const alpha = lookAlpha(1 - t.confidence, 0) / 2;
  // Answered negative: the negatives and the misses; answered positive: the positives found and the false alarms.
  const answeredNegative = negatives * (1 - expected.fpr) + positives * expected.fnr;
  const answeredPositive = frames - answeredNegative;
  const negative = withErrors(sizes.negative, answeredNegative, (positives * expected.fnr) / Math.max(1, answeredNegative), ((t.fnr / (1 - t.fnr)) * positives) / Math.max(1, answeredNegative), alpha);
  const fprAllowed = t.fpr >= 1 ? Infinity : ((t.fpr / (1 - t.fpr)) * negatives) / Math.max(1, answeredPositive);
  const precisionAllowed = t.precision === undefined ? Infinity : 1 - t.precision;
  const positive = t.fpr >= 1 && t.precision === undefined ? 0 : withErrors(sizes.positive, answeredPositive, (negatives * expected.fpr) / Math.max(1, answeredPositive), Math.min(fprAllowed, precisionAllowed), alpha);
  return Math.round(positive + negative);
}

/** Labels from a stratum of `size` with error rate `q` for an upper bound under `allowed` (at least the no-error size). */
function withErrors(noError: number, size: number, q: number, allowed: number, alpha: number): number {
  if (q <= 0 || size <= 0) return noError;
  if (q >= allowed) return Math.round(size);
  const fits = (n: number) => clopperPearsonUpper(Math.round(q * n), n, alpha) <= allowed;
  let hi = Math.max(1, noError);
  while (hi < size && !fits(hi)) hi *= 2;
  if (hi >= size) return Math.round(size);
  let lo = Math.max(1, Math.floor(hi / 2));
  while (hi - lo > Math.max(1, hi * 0.02)) {
    const mid = Math.floor((lo + hi) / 2);
    if (fits(mid)) hi = mid;
    else lo = mid;
  }
  return Math.max(noError, hi);
}

/** A frame's place in the verification order: a hash of the seed and the frame, so the order of any two frames never depends on which others are in the pool. */
export function verificationKey(seed: number, frame: number): number {
  let h = Math.imul((seed ^ 0x9e3779b9) >>> 0, 0x85ebca6b) ^ Math.imul(frame + 0x632be5ab, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The targets a presence query certifies. */
export function certificationTargets(query: BoundQuery): CertificationTargets {
  const a = query.accuracy;
  return { fnr: a.fnr, fpr: a.fpr, precision: a.precision, confidence: a.confidence };
}
