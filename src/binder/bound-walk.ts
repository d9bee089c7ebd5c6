import type {
  BoundColumn,
  BoundFramePredicate,
  BoundFramePredicateKind,
  BoundPredicate,
  BoundPredicateKind,
  BoundValue,
  BoundValueKind,
} from './bound-node.js';

/** Any bound tree, tagged with its family. */
export type BoundTree =
  | { readonly kind: 'value'; readonly node: BoundValue }
  | { readonly kind: 'predicate'; readonly node: BoundPredicate }
  | { readonly kind: 'frame-predicate'; readonly node: BoundFramePredicate };

/** What a walk reports: the leaves that name columns and classes. */
export interface BoundLeafVisitor {
  column?(column: BoundColumn): void;
  classMatch?(classIds: readonly number[]): void;
}

const VALUE: { readonly [K in BoundValueKind]: (v: Extract<BoundValue, { kind: K }>, visitor: BoundLeafVisitor) => void } = {
  column: (v, visitor) => visitor.column?.(v.column),
  number: () => undefined,
  arithmetic: (v, visitor) => {
    walkValue(v.left, visitor);
    walkValue(v.right, visitor);
  },
  negate: (v, visitor) => walkValue(v.operand, visitor),
  indicator: (v, visitor) => walkPredicate(v.predicate, visitor),
};

const PREDICATE: { readonly [K in BoundPredicateKind]: (p: Extract<BoundPredicate, { kind: K }>, visitor: BoundLeafVisitor) => void } = {
  constant: () => undefined,
  and: (p, visitor) => p.operands.forEach((o) => walkPredicate(o, visitor)),
  or: (p, visitor) => p.operands.forEach((o) => walkPredicate(o, visitor)),
  not: (p, visitor) => walkPredicate(p.operand, visitor),
  compare: (p, visitor) => {
    walkValue(p.left, visitor);
    walkValue(p.right, visitor);
  },
  between: (p, visitor) => [p.operand, p.low, p.high].forEach((v) => walkValue(v, visitor)),
  'in-list': (p, visitor) => [p.operand, ...p.values].forEach((v) => walkValue(v, visitor)),
  'class-match': (p, visitor) => {
    visitor.column?.('class');
    visitor.classMatch?.(p.classIds);
  },
};

const FRAME: { readonly [K in BoundFramePredicateKind]: (p: Extract<BoundFramePredicate, { kind: K }>, visitor: BoundLeafVisitor) => void } = {
  and: (p, visitor) => p.operands.forEach((o) => walkFramePredicate(o, visitor)),
  or: (p, visitor) => p.operands.forEach((o) => walkFramePredicate(o, visitor)),
  not: (p, visitor) => walkFramePredicate(p.operand, visitor),
  'count-compare': (p, visitor) => walkPredicate(p.objects, visitor),
};

export function walkValue(value: BoundValue, visitor: BoundLeafVisitor): void {
  (VALUE[value.kind] as (v: BoundValue, visitor: BoundLeafVisitor) => void)(value, visitor);
}

export function walkPredicate(predicate: BoundPredicate, visitor: BoundLeafVisitor): void {
  (PREDICATE[predicate.kind] as (p: BoundPredicate, visitor: BoundLeafVisitor) => void)(predicate, visitor);
}

export function walkFramePredicate(predicate: BoundFramePredicate, visitor: BoundLeafVisitor): void {
  (FRAME[predicate.kind] as (p: BoundFramePredicate, visitor: BoundLeafVisitor) => void)(predicate, visitor);
}

export function walkTree(tree: BoundTree, visitor: BoundLeafVisitor): void {
  if (tree.kind === 'value') walkValue(tree.node, visitor);
  else if (tree.kind === 'predicate') walkPredicate(tree.node, visitor);
  else walkFramePredicate(tree.node, visitor);
}

/** The columns a value reads. */
export function columnsOfValue(value: BoundValue): Set<BoundColumn> {
  const out = new Set<BoundColumn>();
  walkValue(value, { column: (c) => out.add(c) });
  return out;
}

/** The columns a predicate reads (`class` for class matches). */
export function columnsOfPredicate(predicate: BoundPredicate): Set<BoundColumn> {
  const out = new Set<BoundColumn>();
  walkPredicate(predicate, { column: (c) => out.add(c) });
  return out;
}

/** Class ids named in any of the trees, ascending, each once. */
export function classIdsOf(trees: readonly BoundTree[]): number[] {
  const ids = new Set<number>();
  for (const tree of trees) walkTree(tree, { classMatch: (list) => list.forEach((id) => ids.add(id)) });
  return [...ids].sort((a, b) => a - b);
}
