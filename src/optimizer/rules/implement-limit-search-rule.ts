import { PhysicalNode, type AnswerNode } from '../../plan/physical-node.js';
import { countSignal, indexSample } from '../../video-index/index-sample.js';
import { queryProxy } from '../../video-index/proxy-score.js';
import type { OptimizerInput } from '../optimizer-input.js';

/**
 * `LIMIT k [GAP g]` on frames (a frame selection or a grouped LIMIT, no ORDER BY), whose predicate
 * names classes the index can count: Answer <- LimitSearch <- IndexScan. Where the index lacks a
 * signal and its sample would label at least half of the range's unlabelled frames (a short
 * range), there is nothing to gain, and the exact scan in frame order answers instead.
 */
export function implementLimitSearchRule(input: OptimizerInput): AnswerNode | undefined {
  const { query, logical, range, index } = input;
  if (input.exact || input.noSearch || !index || logical.kind !== 'Limit' || query.orderBy.length > 0) return undefined;
  if (query.shape !== 'select-frames' && query.shape !== 'grouped-limit') return undefined;
  const proxy = queryProxy(query);
  if (!proxy) return undefined;
  const signals = proxy.classIds.map((c) => ({ name: countSignal(index.labels[c] ?? String(c)), stored: index.classIds.includes(c) }));
  const sample = indexSample(index.frames);
  const sampleMissing = signals.every((s) => s.stored) ? 0 : sample.frames.length - index.sampleLabelled;
  if (sampleMissing > 0.5 * (range.end - range.start - input.labelled)) return undefined;
  const scan = PhysicalNode.IndexScan({ video: input.video.name, frames: index.frames, signals, sampleStep: sample.step, sampleFrames: sample.frames.length, sampleMissing });
  const perFrame = input.referenceDetectorSeconds;
  const search = PhysicalNode.LimitSearch({
    model: input.referenceModel,
    k: logical.count,
    gap: logical.gap,
    range,
    labelled: input.labelled,
    cost: { secondsPerFrame: perFrame, assumed: perFrame === undefined },
    input: scan,
  });
  return PhysicalNode.Answer({ query, logical, range, video: input.video.name, seconds: undefined, considered: [], input: search });
}
