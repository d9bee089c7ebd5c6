import { PhysicalNode, type AnswerNode } from '../../plan/physical-node.js';
import type { Considered } from '../cascade-search.js';
import type { OptimizerInput } from '../optimizer-input.js';

/** Answer <- ReferenceScan(all): the reference's labels for every frame in range, from the store where it has them. */
export function implementExactRule(input: OptimizerInput, considered: readonly Considered[]): AnswerNode {
  const { range, labelled } = input;
  const perFrame = input.referenceDetectorSeconds;
  const frames = range.end - range.start;
  const scan = PhysicalNode.ReferenceScan({
    role: 'all',
    model: input.referenceModel,
    video: input.video.name,
    path: input.video.path,
    range,
    labelled,
    cost: { secondsPerFrame: perFrame, assumed: perFrame === undefined },
    input: undefined,
  });
  const seconds = perFrame === undefined ? undefined : (frames - labelled) * perFrame;
  return PhysicalNode.Answer({ query: input.query, logical: input.logical, range, video: input.video.name, seconds, considered, input: scan });
}
