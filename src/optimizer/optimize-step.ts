import type { StageStats } from '../engine-types.js';
import type { TrainedModel } from '../training/trainer.js';
import type { AnswerNode } from '../plan/physical-node.js';
import type { StoredCascade } from './cascade-statistics.js';
import type { FallbackReason } from './cascade-search.js';

/** A cascade the optimizer chose this query: stored before it runs, so the next run is warm. */
export interface FreshCascade extends StoredCascade {
  readonly trained: TrainedModel | undefined;
  /** A stage entry saying what the optimizer decided (a count that needs no model). */
  readonly note: StageStats | undefined;
}

/** What the optimizer says to do next: run a plan, or measure first and ask again. */
export type OptimizeStep =
  | { readonly kind: 'execute'; readonly plan: AnswerNode; readonly cascade: StoredCascade | undefined; readonly fresh: FreshCascade | undefined; readonly fallback: FallbackReason | undefined }
  | { readonly kind: 'measure'; readonly plan: AnswerNode };

/** What a cascade rule makes of the query: a cascade to run, a measurement to take first, or why not. */
export type RuleOutcome =
  | { readonly kind: 'measure'; readonly plan: AnswerNode }
  | { readonly kind: 'cascade'; readonly plan: AnswerNode; readonly cascade: StoredCascade; readonly fresh: FreshCascade | undefined }
  | { readonly kind: 'fallback'; readonly reason: FallbackReason; readonly considered: readonly import('./cascade-search.js').Considered[] };
