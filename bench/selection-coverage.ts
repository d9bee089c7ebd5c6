/**
 * Selection half of `npm run bench:coverage`: do a presence answer's certified FNR / FPR bounds
 * hold as often as their stated confidence? Per video and class, one cold cascade runs on an
 * empty catalog with the reference's labels replayed from a fully labelled catalog (every stage
 * decides as in a real run: sample, training, thresholds, uncertain frames); the answer it hands
 * to certification is kept (`QueryOptions.onDecided`). Certification is then replayed `runs`
 * times with different seeds (a new random verification sample each time, looks and all, the
 * code the Certify operator runs), and each run's corrected answer is compared with the exact
 * one over every frame: coverage is the share of runs whose true FNR and FPR both lie within the
 * bounds. The same is done on a deliberately degraded answer (a fixed 5% of the unverified
 * answers flipped), to show the bound does not rest on the stages being good.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEngine } from '../src/engine.js';
import { answerRates, drawCertification, type DecidedAnswer } from '../src/optimizer/certification-draw.js';
import { CERTIFICATION_METHOD } from '../src/optimizer/certification.js';
import { Random } from '../src/training/random.js';

export interface SelectionCase {
  readonly label: string;
  readonly path: string;
  readonly truth: string;
  readonly cls: string;
  /** The accuracy clause, as written in the query. */
  readonly clause: string;
}

export interface SelectionRow {
  readonly video: string;
  readonly cls: string;
  readonly clause: string;
  readonly frames: number;
  readonly baseRate: number;
  readonly fellBack: boolean;
  readonly stageCalls: number;
  readonly stageSeconds: number;
  readonly unverified: number;
  readonly floor: number;
  readonly answers: readonly ReplaySummary[];
}

export interface ReplaySummary {
  readonly answer: 'cascade' | 'degraded (5% flipped)';
  readonly runs: number;
  readonly coverage: number;
  readonly coverageFnr: number;
  readonly coverageFpr: number;
  readonly meanLabels: number;
  readonly meanBoundFnr: number;
  readonly meanBoundFpr: number;
  readonly meanTrueFnr: number;
  readonly meanTrueFpr: number;
  /** Share of runs whose bounds met the targets. */
  readonly certified: number;
}

/** Runs one case: the cold cascade once, then its certification `runs` times. */
export async function selectionCoverage(c: SelectionCase, runs: number): Promise<SelectionRow> {
  const truth = await truthOf(c);
  const N = truth.length;
  const dir = mkdtempSync(join(tmpdir(), 'sieve-selcov-'));
  let decided: DecidedAnswer | undefined;
  const sql = `SELECT frame FROM v WHERE class = '${c.cls}' ${c.clause}`.trim();
  const engine = await openEngine({ catalog: join(dir, 'c.duckdb'), replayLabels: c.truth });
  const started = performance.now();
  let result;
  try {
    result = await engine.query(sql, { videos: { v: c.path }, onDecided: (a) => (decided = a) });
  } finally {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const stageSeconds = (performance.now() - started) / 1000;
  const positives = truth.reduce((a, b) => a + b, 0);
  const p = positives / N;
  const a = result.accuracy;
  const targets = { fnr: a.targets.fnr ?? 0.01, fpr: a.targets.fpr ?? 0.01, precision: undefined, confidence: a.confidence ?? 0.95 };
  const floor = p > 0 && p < 1 ? (Math.log(1 / (1 - targets.confidence)) * (1 - p)) / (targets.fnr * p) : 0;
  const base = { video: c.label, cls: c.cls, clause: c.clause, frames: N, baseRate: p, stageSeconds, floor };
  if (!decided) return { ...base, fellBack: true, stageCalls: result.stats.referenceCalls, unverified: 0, answers: [] };
  const d = decided;
  const unverified = d.verified.reduce((a, v) => a + (v ? 0 : 1), 0);
  const certification = result.stats.stages.find((s) => s.stage.startsWith('certification'))?.framesIn ?? 0;
  const stageCalls = result.stats.referenceCalls - certification;
  const degraded = degrade(d, 0.05, 7);
  const answers = [await replay('cascade', d, truth, targets, runs), await replay('degraded (5% flipped)', degraded, truth, targets, runs)];
  return { ...base, fellBack: false, stageCalls, unverified, answers };
}

type Targets = { fnr: number; fpr: number; precision: undefined; confidence: number };

async function replay(name: ReplaySummary['answer'], d: DecidedAnswer, truth: Uint8Array, targets: Targets, runs: number): Promise<ReplaySummary> {
  let covered = 0;
  let coveredFnr = 0;
  let coveredFpr = 0;
  let labels = 0;
  let certified = 0;
  const sums = { bFnr: 0, bFpr: 0, tFnr: 0, tFpr: 0 };
  for (let r = 0; r < runs; r++) {
    const outcome = await drawCertification(d, { targets, seed: 5000 + r, label: async (idx) => idx.map((i) => truth[d.frames[i]!]!) });
    const decision = d.decision.slice();
    for (const [i, v] of outcome.labelled) decision[i] = v;
    const { fnr, fpr } = answerRates(decision, d.frames, (f) => truth[f] === 1);
    const okFnr = fnr <= outcome.bounds.fnr + 1e-12;
    const okFpr = fpr <= outcome.bounds.fpr + 1e-12;
    if (okFnr) coveredFnr++;
    if (okFpr) coveredFpr++;
    if (okFnr && okFpr) covered++;
    if (outcome.bounds.fnr <= targets.fnr && outcome.bounds.fpr <= targets.fpr) certified++;
    labels += outcome.sampled;
    sums.bFnr += outcome.bounds.fnr;
    sums.bFpr += outcome.bounds.fpr;
    sums.tFnr += fnr;
    sums.tFpr += fpr;
  }
  return {
    answer: name,
    runs,
    coverage: covered / runs,
    coverageFnr: coveredFnr / runs,
    coverageFpr: coveredFpr / runs,
    meanLabels: labels / runs,
    meanBoundFnr: sums.bFnr / runs,
    meanBoundFpr: sums.bFpr / runs,
    meanTrueFnr: sums.tFnr / runs,
    meanTrueFpr: sums.tFpr / runs,
    certified: certified / runs,
  };
}

/** The answer with a fixed share of its unverified decisions flipped (a worse cascade than the one that ran). */
function degrade(d: DecidedAnswer, share: number, seed: number): DecidedAnswer {
  const rng = new Random(seed);
  const decision = d.decision.slice();
  for (let i = 0; i < decision.length; i++) if (!d.verified[i] && rng.next() < share) decision[i] = decision[i] === 1 ? 0 : 1;
  return { ...d, decision };
}

/** The exact answer (1 / 0 per frame) from the fully labelled catalog. */
async function truthOf(c: SelectionCase): Promise<Uint8Array> {
  if (!existsSync(c.truth)) throw new Error(`no fully labelled catalog ${c.truth}`);
  const engine = await openEngine({ catalog: c.truth });
  try {
    const r = await engine.query(`SELECT frame FROM v WHERE class = '${c.cls}'`, { videos: { v: c.path }, exact: true });
    if (r.stats.referenceCalls > 0) throw new Error(`${c.truth} was not fully labelled for ${c.path}`);
    const truth = new Uint8Array(r.stats.framesInRange);
    for (const row of r.rows) truth[Number(row.frame)] = 1;
    return truth;
  } finally {
    await engine.close();
  }
}

export const SELECTION_METHOD = CERTIFICATION_METHOD;
