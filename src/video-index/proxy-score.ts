/**
 * The index's proxy for a frame predicate: from each class's expected object count on a frame
 * (the index's count signals), the probability that the frame satisfies the query, treating a
 * class's count as Poisson with that mean and the classes as independent (BlazeIt ranks by its
 * count models' outputs the same way). It only orders frames for the reference to verify; no
 * answer rests on it.
 */
import type { BoundFramePredicate, BoundPredicate, BoundQuery } from '../binder/index.js';

/** The per-frame expected count of each class the proxy reads, over the frames it scores. */
export type ClassCounts = ReadonlyMap<number, ArrayLike<number>>;

/** A proxy: the classes whose counts it reads, and the probability it gives frame `i`. */
export interface Proxy {
  readonly classIds: readonly number[];
  probability(counts: ClassCounts, i: number): number;
}

/**
 * The classes an object predicate restricts its objects to (`class = 'car'`, `class IN (...)`,
 * under AND and OR), or undefined where it does not (`score > 0.9`, `class != 'car'`).
 */
export function classesOf(p: BoundPredicate): number[] | undefined {
  switch (p.kind) {
    case 'class-match':
      return p.negated ? undefined : [...p.classIds];
    case 'and': {
      let out: number[] | undefined;
      for (const o of p.operands) {
        const c = classesOf(o);
        if (c) out = out ? out.filter((x) => c.includes(x)) : c;
      }
      return out;
    }
    case 'or': {
      const parts = p.operands.map(classesOf);
      return parts.every((c) => c !== undefined) ? [...new Set(parts.flat() as number[])].sort((a, b) => a - b) : undefined;
    }
    default:
      return undefined;
  }
}

/** P(N op v) for N ~ Poisson(lambda). */
export function poissonCompare(lambda: number, op: string, v: number): number {
  const below = (t: number) => {
    // P(N < t) for integer thresholds; counts are integers, so N < t means N <= ceil(t) - 1.
    const n = Math.ceil(t) - 1;
    if (n < 0) return 0;
    let term = Math.exp(-Math.max(0, lambda));
    let sum = term;
    for (let j = 1; j <= n; j++) {
      term *= lambda / j;
      sum += term;
    }
    return Math.min(1, sum);
  };
  const atMost = (t: number) => below(Math.floor(t) + 1);
  switch (op) {
    case '>=':
      return 1 - below(v);
    case '>':
      return 1 - atMost(v);
    case '<':
      return below(v);
    case '<=':
      return atMost(v);
    case '=':
      return Number.isInteger(v) ? atMost(v) - below(v) : 0;
    default:
      // != and <>
      return Number.isInteger(v) ? 1 - (atMost(v) - below(v)) : 1;
  }
}

type Leaf = (counts: ClassCounts, i: number) => number;

const lambdaOf = (classIds: readonly number[]) => (counts: ClassCounts, i: number) => {
  let l = 0;
  for (const c of classIds) l += Number(counts.get(c)?.[i] ?? 0);
  return l;
};

/** The proxy of a frame predicate over objects already restricted to `where` (undefined when no leaf names a class). */
function framePredicateProxy(p: BoundFramePredicate, where: number[] | undefined, used: Set<number>): Leaf | undefined {
  switch (p.kind) {
    case 'count-compare': {
      const own = classesOf(p.objects);
      const classes = own && where ? own.filter((c) => where.includes(c)) : (own ?? where);
      if (!classes) return undefined;
      classes.forEach((c) => used.add(c));
      const lambda = lambdaOf(classes);
      return (counts, i) => poissonCompare(lambda(counts, i), p.op, p.value);
    }
    case 'not': {
      const inner = framePredicateProxy(p.operand, where, used);
      return inner ? (counts, i) => 1 - inner(counts, i) : undefined;
    }
    case 'and':
    case 'or': {
      const parts = p.operands.map((o) => framePredicateProxy(o, where, used));
      if (parts.every((x) => x === undefined)) return undefined;
      // A clause the index cannot see counts as even odds.
      const known = parts.map((x) => x ?? (() => 0.5));
      return p.kind === 'and'
        ? (counts, i) => known.reduce((a, f) => a * f(counts, i), 1)
        : (counts, i) => 1 - known.reduce((a, f) => a * (1 - f(counts, i)), 1);
    }
  }
}

/**
 * The proxy of a frame selection (a frame with an object matching WHERE) or a grouped LIMIT
 * (WHERE, then HAVING over the frame's matching objects); undefined when the predicate names no
 * class the index could count.
 */
export function queryProxy(query: BoundQuery): Proxy | undefined {
  const where = classesOf(query.where);
  const used = new Set<number>();
  let leaf: Leaf | undefined;
  if (query.shape === 'select-frames') {
    if (!where) return undefined;
    where.forEach((c) => used.add(c));
    const lambda = lambdaOf(where);
    leaf = (counts, i) => 1 - Math.exp(-Math.max(0, lambda(counts, i)));
  } else if (query.shape === 'grouped-limit') {
    const having = query.having ? framePredicateProxy(query.having, where, used) : undefined;
    if (where) where.forEach((c) => used.add(c));
    const present = where ? lambdaOf(where) : undefined;
    if (!having && !present) return undefined;
    leaf = (counts, i) => (present ? 1 - Math.exp(-Math.max(0, present(counts, i))) : 1) * (having ? having(counts, i) : 1);
  }
  if (!leaf || used.size === 0) return undefined;
  return { classIds: [...used].sort((a, b) => a - b), probability: leaf };
}
