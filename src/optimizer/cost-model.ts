/**
 * The optimizer's cost model: seconds per frame of each stage, read from the costs earlier runs
 * measured and stored on this machine. Where nothing was measured yet, the cost is an assumption,
 * named in `assumed` with the reason, and EXPLAIN shows it as such.
 */
import type { Catalog } from '../storage/catalog.js';
import { ARCHITECTURES } from './cascade-statistics.js';
import { detectorInputKey, loadDecodeCosts, outputKey } from './decode-cost.js';
import { machineKey } from './machine.js';

/** A cost the model had to assume, and why. */
export interface AssumedCost {
  readonly cost: string;
  readonly value: number;
  readonly why: string;
}

/** Stage costs in seconds per frame, measured on this machine (assumed where not yet measured). */
export interface CostModel {
  /** The reference detector on one frame, with its decode at the detector's size. */
  readonly reference: number;
  /** Decoding one frame at the smallest specialized model's size. */
  readonly decode: number;
  readonly specialized: number;
  /** Training one image for one epoch. */
  readonly trainPerImageEpoch: number;
  /** Epochs a specialized model trains for before early stopping. */
  readonly epochs: number;
  /** Share of a presence cascade's frames that go to the reference (the last cascade on this video). */
  readonly uncertainShare: number;
  /**
   * A count model's residual variance as a share of the count's own, between neighbouring held-out
   * frames (the last count model trained on this video): how much it would cut a count's labels.
   */
  readonly countVarianceRatio: number;
  readonly assumed: readonly AssumedCost[];
}

/** Where the model's costs are stored: this video's source size and content, and the reference model. */
export interface CostScope {
  readonly width: number;
  readonly height: number;
  readonly contentHash: string;
  readonly referenceSha256: string;
}

/** Stage keys of the costs the cascade writes back after a run. */
export const COST_KEYS = Object.freeze({
  reference: (sha256: string) => ({ stageKind: 'reference', key: sha256 }),
  specialized: (inputSize: number) => ({ stageKind: 'specialized', key: `${inputSize}px` }),
  trainImageEpoch: { stageKind: 'train', key: 'image-epoch' },
  trainEpochs: { stageKind: 'train', key: 'epochs' },
  uncertainShare: (contentHash: string) => ({ stageKind: 'uncertain-share', key: `video:${contentHash}` }),
  countVarianceRatio: (contentHash: string) => ({ stageKind: 'count-variance-ratio', key: `video:${contentHash}` }),
});

export async function loadCostModel(catalog: Catalog, scope: CostScope): Promise<CostModel> {
  const machine = machineKey();
  const { width: W, height: H } = scope;
  const assumed: AssumedCost[] = [];
  const get = async (kind: string, key: string, value: number, why: string) => {
    const row = await catalog.findStageCost(kind, key, machine);
    if (!row) assumed.push({ cost: `${kind} ${key}`, value, why });
    return row?.secondsPerFrame ?? value;
  };
  const reader = await loadDecodeCosts(catalog, W, H, machine);
  const twiceRead = 'not measured on this machine yet: reading through the source twice over, for the scaling';
  const smallest = ARCHITECTURES[0]!.inputSize;
  const ref = COST_KEYS.reference(scope.referenceSha256);
  return {
    reference:
      (await get(ref.stageKind, ref.key, 0.05, 'not measured on this machine yet: 50 ms, a small detector on a laptop CPU')) +
      (await get('decode', detectorInputKey(W, H), 2 * reader.readPerFrame, twiceRead)),
    decode: await get('decode', outputKey(W, H, smallest, smallest), 2 * reader.readPerFrame, twiceRead),
    specialized: await get('specialized', `${smallest}px`, 0.0005, 'not measured on this machine yet: 0.5 ms, pessimistic for a 2-block CNN at 32px'),
    trainPerImageEpoch: await get(COST_KEYS.trainImageEpoch.stageKind, COST_KEYS.trainImageEpoch.key, 0.001, 'no model trained on this machine yet: 1 ms, pessimistic'),
    epochs: await get(COST_KEYS.trainEpochs.stageKind, COST_KEYS.trainEpochs.key, 15, 'no model trained on this machine yet: half the 30-epoch cap (early stopping)'),
    uncertainShare: await get(COST_KEYS.uncertainShare(scope.contentHash).stageKind, COST_KEYS.uncertainShare(scope.contentHash).key, 0.15, 'no presence cascade ran on this video yet'),
    countVarianceRatio: await get(
      COST_KEYS.countVarianceRatio(scope.contentHash).stageKind,
      COST_KEYS.countVarianceRatio(scope.contentHash).key,
      0.5,
      "no count model trained on this video yet: one that halves the count's variance between neighbouring frames",
    ),
    assumed,
  };
}

/** Seconds to train every candidate architecture on a sample of `sampleFrames` (the one training-cost formula). */
export function trainingSeconds(costs: CostModel, sampleFrames: number): number {
  return ARCHITECTURES.length * sampleFrames * costs.epochs * costs.trainPerImageEpoch;
}

/** Seconds to decode and score every frame of `frames` with the smallest specialized model. */
export function scanSeconds(costs: CostModel, frames: number): number {
  return frames * (costs.decode + costs.specialized);
}
