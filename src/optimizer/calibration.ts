/**
 * Pure calibration of cascade stages on labelled frames the stage did not train on. Every
 * threshold comes from measurements on the video at hand; the only constants are safety
 * policies (how much of the error budget a stage may spend, margins against sampling noise).
 */
import { clopperPearsonUpper } from './certification.js';

/** Share of a query's error budget one cheap stage may spend (the rest covers sampling noise). */
export const STAGE_BUDGET_SHARE = 0.5;

export interface PresenceThresholds {
  /** Score below which a frame is decided negative. */
  readonly cLow: number;
  /** Score above which a frame is decided positive. */
  readonly cHigh: number;
  /** Measured on the held-out frames with these thresholds. */
  readonly fnr: number;
  readonly fpr: number;
  /** Share of held-out frames left to the reference detector. */
  readonly uncertain: number;
  readonly positives: number;
  readonly negatives: number;
}

/** The thresholds by which the specialized model decides a frame itself (NoScope's c_low / c_high). */
export type ModelDecision = Pick<PresenceThresholds, 'cLow' | 'cHigh'>;

/** The decision a presence threshold pair makes: 0 negative, 1 positive, -1 uncertain. */
export function decide(p: number, t: Pick<PresenceThresholds, 'cLow' | 'cHigh'>): -1 | 0 | 1 {
  const negative = p < t.cLow;
  const positive = p > t.cHigh;
  return negative === positive ? -1 : positive ? 1 : 0;
}

/**
 * NoScope's c_low / c_high: the widest thresholds whose held-out false-negative and false-positive
 * rates stay within the stage's share of the targets, then pulled halfway towards 0 and 1 as a
 * margin for frames the held-out sample did not contain. With no held-out positives (negatives)
 * nothing is decided negative (positive): what cannot be measured is left to the reference.
 */
export function calibratePresence(scores: ArrayLike<number>, truth: ArrayLike<number>, targets: { fnr: number; fpr: number }): PresenceThresholds {
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < scores.length; i++) (truth[i]! > 0 ? pos : neg).push(scores[i]!);
  pos.sort((a, b) => a - b);
  neg.sort((a, b) => b - a);
  const allowedFn = Math.floor(targets.fnr * STAGE_BUDGET_SHARE * pos.length);
  const allowedFp = Math.floor(targets.fpr * STAGE_BUDGET_SHARE * neg.length);
  const cLow = pos.length === 0 ? 0 : pos[allowedFn]! * 0.5;
  const cHigh = neg.length === 0 ? 1 : 1 - (1 - neg[allowedFp]!) * 0.5;
  const t = { cLow, cHigh };
  let fn = 0;
  let fp = 0;
  let uncertain = 0;
  for (let i = 0; i < scores.length; i++) {
    const d = decide(scores[i]!, t);
    if (d === -1) uncertain++;
    else if (d === 0 && truth[i]! > 0) fn++;
    else if (d === 1 && !(truth[i]! > 0)) fp++;
  }
  return {
    cLow,
    cHigh,
    fnr: pos.length ? fn / pos.length : 0,
    fpr: neg.length ? fp / neg.length : 0,
    uncertain: scores.length ? uncertain / scores.length : 1,
    positives: pos.length,
    negatives: neg.length,
  };
}

export interface DifferenceCalibration {
  /** Frames closer than this to the last evaluated frame take its answer. */
  readonly threshold: number;
  /** Share of labelled pairs under the threshold (a pessimistic hit rate: pairs are farther apart than neighbours). */
  readonly hitRate: number;
  readonly pairs: number;
  /** Pairs under the threshold whose answers differ. */
  readonly errors: number;
}

/**
 * The difference detector's threshold from pairs of labelled frames (each a later frame and an
 * earlier one): half the smallest distance at which the answer was seen to change, so no observed
 * change would have been missed; when no pair changed, the median distance.
 */
export function calibrateDifference(distances: ArrayLike<number>, changed: ArrayLike<boolean>): DifferenceCalibration {
  const n = distances.length;
  if (n === 0) return { threshold: 0, hitRate: 0, pairs: 0, errors: 0 };
  let minChanged = Infinity;
  const all: number[] = [];
  for (let i = 0; i < n; i++) {
    all.push(distances[i]!);
    if (changed[i]) minChanged = Math.min(minChanged, distances[i]!);
  }
  all.sort((a, b) => a - b);
  const threshold = Number.isFinite(minChanged) ? minChanged * 0.5 : all[Math.floor(n / 2)]!;
  let hits = 0;
  let errors = 0;
  for (let i = 0; i < n; i++) {
    if (distances[i]! < threshold) {
      hits++;
      if (changed[i]) errors++;
    }
  }
  return { threshold, hitRate: hits / n, pairs: n, errors };
}

/**
 * Error rate a frame skip of `k` adds, estimated from how often the answer changes between
 * labelled frames `spacing` apart: each change leaves on average (k - 1) / 2 frames with the
 * previous answer.
 */
export function skipErrorRate(changes: number, spanFrames: number, k: number): number {
  if (k <= 1 || spanFrames <= 0) return 0;
  return ((changes + 1) / spanFrames) * ((k - 1) / 2);
}

export interface InterpolationCalibration {
  /** Interior sample frames whose two neighbours (2 x spacing apart) agree. */
  readonly agreeing: number;
  /** Of those, frames whose own answer differs (the error interpolation would make). */
  readonly errors: number;
  /** Errors the specialized model's safety net would not flag. */
  readonly missedByNet: number;
  /** Share of agreeing frames the net flags (sent to the reference). */
  readonly flagged: number;
  /** Error rates over positive / negative frames, without and with the net. */
  readonly fnr: number;
  readonly fpr: number;
  readonly fnrWithNet: number;
  readonly fprWithNet: number;
}

/**
 * Leave-one-out on the labelled sample: each interior frame is predicted from its neighbours,
 * which are twice the sample spacing apart, so the error measured is pessimistic for frames that
 * lie between two sample frames. The net flags a frame when the model contradicts the
 * interpolated answer (score >= cLow in a negative gap, <= cHigh in a positive one).
 */
export function calibrateInterpolation(truth: ArrayLike<number>, scores: ArrayLike<number>, net: Pick<PresenceThresholds, 'cLow' | 'cHigh'>): InterpolationCalibration {
  let agreeing = 0;
  let errors = 0;
  let missed = 0;
  let flagged = 0;
  let positives = 0;
  let negatives = 0;
  let fn = 0;
  let fp = 0;
  let fnNet = 0;
  let fpNet = 0;
  for (let i = 1; i + 1 < truth.length; i++) {
    const y = truth[i]! > 0;
    if (y) positives++;
    else negatives++;
    const a = truth[i - 1]! > 0;
    if (a !== truth[i + 1]! > 0) continue;
    agreeing++;
    const flag = a ? scores[i]! <= net.cHigh : scores[i]! >= net.cLow;
    if (flag) flagged++;
    if (y === a) continue;
    errors++;
    if (y) fn++;
    else fp++;
    if (!flag) {
      missed++;
      if (y) fnNet++;
      else fpNet++;
    }
  }
  return {
    agreeing,
    errors,
    missedByNet: missed,
    flagged: agreeing ? flagged / agreeing : 0,
    fnr: positives ? fn / positives : 0,
    fpr: negatives ? fp / negatives : 0,
    fnrWithNet: positives ? fnNet / positives : 0,
    fprWithNet: negatives ? fpNet / negatives : 0,
  };
}

/** Net thresholds no score reaches (scores lie in [0, 1]; finite, so the stored JSON keeps them): the net flags nothing. */
export const NO_NET: ModelDecision = Object.freeze({ cLow: 2, cHigh: -1 });

/** What interpolation with bisection got wrong when replayed on the sample at a coarser spacing. */
export interface BisectionCalibration {
  /** Error rates over the positive / negative sample frames the replay left unlabelled. */
  readonly fnr: number;
  readonly fpr: number;
  readonly errors: number;
  /** Grid gaps of the replay whose ends disagreed (each one bisected). */
  readonly changes: number;
  readonly positives: number;
  readonly negatives: number;
}

/** How many times coarser than the sample the bisection replay's grid is. */
export const BISECTION_REPLAY_STRIDE = 4;

/**
 * Interpolation with bisection, replayed on the labelled sample with every `stride`-th sample frame
 * as the grid (each phase of it in turn): between grid frames that agree the sample frames take
 * their value; between ones that disagree the middle frame is labelled and the disagreeing half
 * bisected again until the change lies between neighbours, the agreeing halves interpolated. The
 * errors on the frames the replay left unlabelled are what the real run makes at `stride` times
 * its spacing, where more changes hide inside one gap (pessimistic for the run itself).
 */
export function calibrateBisection(truth: ArrayLike<number>, stride = BISECTION_REPLAY_STRIDE): BisectionCalibration {
  const y = Array.from(truth, (v) => (v > 0 ? 1 : 0));
  let fn = 0;
  let fp = 0;
  let positives = 0;
  let negatives = 0;
  let changes = 0;
  const interpolate = (lo: number, hi: number, value: number) => {
    for (let i = lo + 1; i < hi; i++) {
      if (y[i] === value) continue;
      if (y[i] === 1) fn++;
      else fp++;
    }
  };
  for (let phase = 0; phase < stride; phase++) {
    for (let a = phase; a + stride < y.length; a += stride) {
      for (let i = a + 1; i < a + stride; i++) (y[i] === 1 ? positives++ : negatives++);
      let lo = a;
      let hi = a + stride;
      if (y[lo] === y[hi]) {
        interpolate(lo, hi, y[lo]!);
        continue;
      }
      changes++;
      while (hi - lo > 1) {
        const mid = (lo + hi) >> 1;
        if (y[mid] === y[lo]) {
          interpolate(lo, mid, y[lo]!);
          lo = mid;
        } else {
          interpolate(mid, hi, y[hi]!);
          hi = mid;
        }
      }
    }
  }
  return { fnr: positives ? fn / positives : 0, fpr: negatives ? fp / negatives : 0, errors: fn + fp, changes, positives, negatives };
}

/** Reference labels bisection spends on one gap of `step` frames whose ends disagree (until the change lies between neighbours). */
export function bisectionLabels(step: number): number {
  return Math.max(0, Math.ceil(Math.log2(Math.max(1, step))));
}

/** Margins the optimizer tries for the safety net: larger flags only what the measurements show, smaller flags more. */
export const NET_MARGINS: readonly number[] = [0.5, 0.25, 0.1, 0.03, 0.01];

export interface NetCandidate {
  readonly margin: number;
  readonly cLow: number;
  readonly cHigh: number;
  /** Interpolation errors the sample showed (leave-one-out at twice the spacing). */
  readonly errors: number;
  /** Of those, how many this net misses when its thresholds are set without that error. */
  readonly missed: number;
  /** Estimated error rates of interpolation with this net. */
  readonly fnr: number;
  readonly fpr: number;
  /** Share of agreeing-gap frames the net sends to the reference. */
  readonly flagged: number;
}

/**
 * The safety nets the optimizer chooses from, each with an honest estimate of what it misses.
 * A net's thresholds anchor on two measurements, whichever is more cautious: the model's scores on
 * held-out positives / negatives (NoScope's c_low / c_high at the stage's share of the targets)
 * and the scores of the interpolation errors the sample showed; `margin` then pulls them towards
 * 0 and 1 (cLow = margin x anchor, cHigh = 1 - margin x (1 - anchor)). Each error is judged by the
 * net built without it, so none is caught only because it set its own threshold. A side seen in
 * neither measurement has no net.
 */
export function netCandidates(
  truth: ArrayLike<number>,
  scores: ArrayLike<number>,
  held: { readonly scores: readonly number[]; readonly truth: readonly number[] },
  targets: { fnr: number; fpr: number },
): NetCandidate[] {
  const pos: number[] = [];
  const neg: number[] = [];
  held.scores.forEach((p, i) => (held.truth[i]! > 0 ? pos : neg).push(p));
  pos.sort((a, b) => a - b);
  neg.sort((a, b) => b - a);
  const lowAnchor = pos.length ? pos[Math.floor(targets.fnr * STAGE_BUDGET_SHARE * pos.length)]! : Infinity;
  const highAnchor = neg.length ? neg[Math.floor(targets.fpr * STAGE_BUDGET_SHARE * neg.length)]! : -Infinity;
  const positiveErrors: number[] = [];
  const negativeErrors: number[] = [];
  let positives = 0;
  let negatives = 0;
  for (let i = 1; i + 1 < truth.length; i++) {
    const y = truth[i]! > 0;
    if (y) positives++;
    else negatives++;
    const a = truth[i - 1]! > 0;
    if (a !== truth[i + 1]! > 0 || y === a) continue;
    (y ? positiveErrors : negativeErrors).push(scores[i]!);
  }
  const without = (xs: readonly number[], k: number) => xs.filter((_, j) => j !== k);
  return NET_MARGINS.map((margin) => {
    const low = (errors: readonly number[]) => {
      const anchor = Math.min(lowAnchor, ...errors);
      return Number.isFinite(anchor) ? anchor * margin : 2;
    };
    const high = (errors: readonly number[]) => {
      const anchor = Math.max(highAnchor, ...errors);
      return Number.isFinite(anchor) ? 1 - (1 - anchor) * margin : -1;
    };
    const fn = positiveErrors.filter((score, k) => !(score >= low(without(positiveErrors, k)))).length;
    const fp = negativeErrors.filter((score, k) => !(score <= high(without(negativeErrors, k)))).length;
    const cLow = low(positiveErrors);
    const cHigh = high(negativeErrors);
    return {
      margin,
      cLow,
      cHigh,
      errors: positiveErrors.length + negativeErrors.length,
      missed: fn + fp,
      fnr: positives ? fn / positives : 0,
      fpr: negatives ? fp / negatives : 0,
      flagged: calibrateInterpolation(truth, scores, { cLow, cHigh }).flagged,
    };
  });
}

/**
 * Of the frames interpolation leaves, the share the model's band (cLow <= p <= cHigh of
 * `decide`) still sends to the reference, measured on the sample: over frames next to a change of
 * the answer (the frames of disagreeing gaps are such frames), and over the agreeing-gap frames
 * the net flags. Where the sample shows no such frame, all of them (nothing measured, nothing saved).
 */
export function bandShares(truth: ArrayLike<number>, scores: ArrayLike<number>, net: ModelDecision, decide: ModelDecision): { nearChanges: number; flagged: number } {
  const counts = { near: 0, nearBand: 0, flagged: 0, flaggedBand: 0 };
  for (let i = 1; i + 1 < truth.length; i++) {
    const y = truth[i]! > 0;
    const a = truth[i - 1]! > 0;
    const b = truth[i + 1]! > 0;
    const p = scores[i]!;
    const band = Number.isNaN(p) || !(p < decide.cLow || p > decide.cHigh);
    if (y !== a || y !== b) {
      counts.near++;
      if (band) counts.nearBand++;
    } else if (a ? p <= net.cHigh : p >= net.cLow) {
      counts.flagged++;
      if (band) counts.flaggedBand++;
    }
  }
  return { nearChanges: counts.near ? counts.nearBand / counts.near : 1, flagged: counts.flagged ? counts.flaggedBand / counts.flagged : 1 };
}

/** Shares of a target the model's own decisions may spend (certification bounds the answer whatever they cost). */
export const DECIDE_SHARES: readonly number[] = [0.2, 0.5];

export interface DecideCandidate extends ModelDecision {
  /** Share of the targets the thresholds were set to spend, and the error rates they are expected to make. */
  readonly fnrShare: number;
  readonly fprShare: number;
  readonly fnr: number;
  readonly fpr: number;
}

/**
 * Threshold pairs by which the model may decide frames itself, from its scores on held-out
 * frames: cLow the score below which a share `s x fnr` of the held-out positives lie, cHigh the
 * one above which `s x fpr` of the negatives lie, for each share of DECIDE_SHARES. The expected
 * error rate of each side is the larger of that share of the target and the Clopper-Pearson
 * bound at 50% on the errors the held-out frames show at the thresholds: a few dozen held-out
 * positives cannot show a low error rate, and the estimate says so (a model held out on too few
 * frames is priced out rather than trusted). A side with nothing held out decides nothing.
 */
export function decideCandidates(held: { readonly scores: readonly number[]; readonly truth: readonly number[] }, targets: { fnr: number; fpr: number }): DecideCandidate[] {
  const pos: number[] = [];
  const neg: number[] = [];
  held.scores.forEach((p, i) => (held.truth[i]! > 0 ? pos : neg).push(p));
  pos.sort((a, b) => a - b);
  neg.sort((a, b) => a - b);
  const out: DecideCandidate[] = [];
  for (const fnrShare of DECIDE_SHARES)
    for (const fprShare of DECIDE_SHARES) {
      const cLow = pos.length ? quantileSorted(pos, fnrShare * targets.fnr) : -1;
      const cHigh = Math.max(cLow, neg.length ? quantileSorted(neg, 1 - fprShare * targets.fpr) : 2);
      const misses = pos.filter((p) => p < cLow).length;
      const alarms = neg.filter((p) => p > cHigh).length;
      const fnr = pos.length ? Math.max(fnrShare * targets.fnr, clopperPearsonUpper(misses, pos.length, 0.5)) : 0;
      const fpr = neg.length ? Math.max(fprShare * targets.fpr, clopperPearsonUpper(alarms, neg.length, 0.5)) : 0;
      out.push({ cLow, cHigh, fnrShare, fprShare, fnr, fpr });
    }
  return out;
}

function quantileSorted(xs: readonly number[], q: number): number {
  const at = Math.min(xs.length - 1, Math.max(0, q * (xs.length - 1)));
  const lo = Math.floor(at);
  const hi = Math.min(xs.length - 1, lo + 1);
  return xs[lo]! + (xs[hi]! - xs[lo]!) * (at - lo);
}
