import type { BoundVideo } from './bound-node.js';

/** A `FROM` target as written: a registered name, or a file path in quotes. */
export type VideoReference = { readonly kind: 'name'; readonly name: string } | { readonly kind: 'path'; readonly path: string };

/** What the binder needs from the catalog and the reference model. */
export interface BindContext {
  /** Resolves `FROM name` (catalog or --video binding) or a file path; undefined when unknown. */
  resolveVideo(ref: VideoReference): BoundVideo | undefined;
  /** All names that resolveVideo accepts, for did-you-mean. */
  videoNames(): readonly string[];
  /** The reference model's label set, index = class id (COCO: 'person', 'bicycle', 'car', ...). */
  readonly labels: readonly string[];
}
