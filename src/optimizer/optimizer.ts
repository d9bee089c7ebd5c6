/**
 * The optimizer: rules turn the logical plan into physical alternatives, the cascade search costs
 * them with the cost model, and the cheapest that meets the targets wins (EvaDB's
 * optimizer_tasks.py, with measured costs). Pure: it reads the inputs and the measurements this
 * query has taken; when a cascade needs measurements it has not got, it returns them as a plan
 * of measuring steps, the engine takes the deepest, and asks again.
 */
import { shapeOf, type LogicalNode } from '../plan/logical-node.js';
import type { CascadeTask } from './cascade-statistics.js';
import type { OptimizerInput } from './optimizer-input.js';
import type { OptimizeStep, RuleOutcome } from './optimize-step.js';
import { implementCountEstimateRule } from './rules/implement-count-estimate-rule.js';
import { implementExactRule } from './rules/implement-exact-rule.js';
import { implementLimitSearchRule } from './rules/implement-limit-search-rule.js';
import { implementPresenceCascadeRule } from './rules/implement-presence-cascade-rule.js';

/** The cascade rule for each task. */
const CASCADE_RULES: { readonly [T in CascadeTask]: (input: OptimizerInput) => RuleOutcome } = {
  presence: implementPresenceCascadeRule,
  count: implementCountEstimateRule,
};

export function optimize(input: OptimizerInput): OptimizeStep {
  const search = implementLimitSearchRule(input);
  if (search) return { kind: 'execute', plan: search, cascade: undefined, fresh: undefined, fallback: undefined };
  const task = input.exact ? undefined : cascadeTaskOf(input.logical);
  const outcome = task ? CASCADE_RULES[task](input) : undefined;
  if (!outcome) return { kind: 'execute', plan: implementExactRule(input, []), cascade: undefined, fresh: undefined, fallback: undefined };
  switch (outcome.kind) {
    case 'measure':
      return outcome;
    case 'cascade':
      return { kind: 'execute', plan: outcome.plan, cascade: outcome.cascade, fresh: outcome.fresh, fallback: undefined };
    case 'fallback':
      return { kind: 'execute', plan: implementExactRule(input, outcome.considered), cascade: undefined, fresh: undefined, fallback: outcome.reason };
  }
}

/**
 * Which cascade can answer the plan: presence for frame selections, object rows and
 * COUNT(DISTINCT frame) alone; count for FCOUNT / COUNT(*) alone; none for the rest (grouped LIMIT,
 * SUM/AVG/MIN/MAX), which only the exact plan answers.
 */
export function cascadeTaskOf(logical: LogicalNode): CascadeTask | undefined {
  const shape = shapeOf(logical);
  switch (shape.kind) {
    case 'Project':
    case 'FrameSelect':
      return 'presence';
    case 'Aggregate': {
      const fns = new Set(shape.outputs.map((o) => (o.kind === 'aggregate' ? o.aggregate.fn : 'value')));
      if ([...fns].every((f) => f === 'fcount' || f === 'count')) return 'count';
      if (fns.size === 1 && fns.has('count-distinct-frames')) return 'presence';
      return undefined;
    }
    case 'GroupByFrame':
      return undefined;
  }
}
