/**
 * Calibrate: runs the deepest measuring step below it (label the sample, else train the
 * candidates); the engine then asks the optimizer again with what it measured.
 */
import type { CalibrateNode } from '../plan/physical-node.js';
import type { CascadeBatch, ExecutionContext } from './execution-context.js';
import { labelSampleOperator } from './label-sample-operator.js';
import { trainCandidatesOperator } from './train-candidates-operator.js';

export async function* calibrateOperator(node: CalibrateNode, ctx: ExecutionContext): AsyncGenerator<CascadeBatch> {
  const step = node.input;
  if (step.kind === 'LabelSample') yield* labelSampleOperator(step, ctx);
  else if (step.input) yield* labelSampleOperator(step.input, ctx);
  else yield* trainCandidatesOperator(step, ctx);
}
