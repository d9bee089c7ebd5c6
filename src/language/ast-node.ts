import type { SourcePosition } from '../errors.js';

/**
 * The FrameQL abstract syntax tree. Every node is a frozen, readonly object discriminated by
 * `kind`, built by the factory object that shares its interface's name, and carries the span of
 * query text it came from so later stages can point at it.
 */

/** Half-open range of query text: `start` is the first character, `end` the one after the last. */
export interface SourceSpan {
  readonly start: SourcePosition;
  readonly end: SourcePosition;
}

export const SourceSpan = Object.freeze({
  create(start: SourcePosition, end: SourcePosition): SourceSpan {
    return Object.freeze({ start, end });
  },
  /** The span covering both `a` and `b` (a before b). */
  join(a: SourceSpan, b: SourceSpan): SourceSpan {
    return Object.freeze({ start: a.start, end: b.end });
  },
  /** A zero-width span at the start of the text, for nodes built by hand. */
  none(): SourceSpan {
    return NO_SPAN;
  },
});

const NO_POSITION: SourcePosition = Object.freeze({ line: 1, column: 1, offset: 0 });
const NO_SPAN: SourceSpan = Object.freeze({ start: NO_POSITION, end: NO_POSITION });

function freeze<T extends object>(node: T): T {
  return Object.freeze(node);
}

// ---------------------------------------------------------------------------------------------
// Expressions

export type ComparisonOperator = '=' | '!=' | '<' | '<=' | '>' | '>=';
export type ArithmeticOperator = '+' | '-' | '*' | '/';

/** A column reference, or any other bare name (`score`, `"my column"`). */
export interface IdentifierNode {
  readonly kind: 'identifier';
  readonly name: string;
  /** Written as `"name"`. */
  readonly quoted: boolean;
  readonly span: SourceSpan;
}

export const IdentifierNode = Object.freeze({
  create(name: string, quoted = false, span: SourceSpan = NO_SPAN): IdentifierNode {
    return freeze({ kind: 'identifier', name, quoted, span });
  },
});

export interface NumberNode {
  readonly kind: 'number';
  /** Always finite. A leading minus sign is folded into the value. */
  readonly value: number;
  readonly span: SourceSpan;
}

export const NumberNode = Object.freeze({
  create(value: number, span: SourceSpan = NO_SPAN): NumberNode {
    return freeze({ kind: 'number', value, span });
  },
});

export interface StringNode {
  readonly kind: 'string';
  /** The text with quotes removed and `''` unescaped. */
  readonly value: string;
  readonly span: SourceSpan;
}

export const StringNode = Object.freeze({
  create(value: string, span: SourceSpan = NO_SPAN): StringNode {
    return freeze({ kind: 'string', value, span });
  },
});

/** `*` as a function argument: `COUNT(*)`, `FCOUNT(*)`. */
export interface StarNode {
  readonly kind: 'star';
  readonly span: SourceSpan;
}

export const StarNode = Object.freeze({
  create(span: SourceSpan = NO_SPAN): StarNode {
    return freeze({ kind: 'star', span });
  },
});

/** `name(args)`, `name(DISTINCT args)`, `name(*)`. The name is kept as written. */
export interface CallNode {
  readonly kind: 'call';
  readonly name: string;
  readonly distinct: boolean;
  readonly args: readonly (Expression | StarNode)[];
  readonly span: SourceSpan;
  /** Span of the function name alone. */
  readonly nameSpan: SourceSpan;
}

export const CallNode = Object.freeze({
  create(
    name: string,
    args: readonly (Expression | StarNode)[],
    options: { distinct?: boolean; span?: SourceSpan; nameSpan?: SourceSpan } = {},
  ): CallNode {
    const span = options.span ?? NO_SPAN;
    return freeze({
      kind: 'call',
      name,
      distinct: options.distinct ?? false,
      args: Object.freeze([...args]),
      span,
      nameSpan: options.nameSpan ?? span,
    });
  },
});

/** `a AND b AND ...`: nested ANDs are flattened, so `operands` has at least two entries. */
export interface AndNode {
  readonly kind: 'and';
  readonly operands: readonly Expression[];
  readonly span: SourceSpan;
}

export const AndNode = Object.freeze({
  create(operands: readonly Expression[], span: SourceSpan = spanOfAll(operands)): AndNode {
    return freeze({ kind: 'and', operands: Object.freeze(flatten('and', operands)), span });
  },
});

/** `a OR b OR ...`: nested ORs are flattened, so `operands` has at least two entries. */
export interface OrNode {
  readonly kind: 'or';
  readonly operands: readonly Expression[];
  readonly span: SourceSpan;
}

export const OrNode = Object.freeze({
  create(operands: readonly Expression[], span: SourceSpan = spanOfAll(operands)): OrNode {
    return freeze({ kind: 'or', operands: Object.freeze(flatten('or', operands)), span });
  },
});

export interface NotNode {
  readonly kind: 'not';
  readonly operand: Expression;
  readonly span: SourceSpan;
}

export const NotNode = Object.freeze({
  create(operand: Expression, span: SourceSpan = operand.span): NotNode {
    return freeze({ kind: 'not', operand, span });
  },
});

export interface ComparisonNode {
  readonly kind: 'comparison';
  /** `<>` is normalised to `!=`. */
  readonly op: ComparisonOperator;
  readonly left: Expression;
  readonly right: Expression;
  readonly span: SourceSpan;
  /** Span of the operator, for errors about it. */
  readonly opSpan: SourceSpan;
}

export const ComparisonNode = Object.freeze({
  create(op: ComparisonOperator, left: Expression, right: Expression, span?: SourceSpan, opSpan?: SourceSpan): ComparisonNode {
    const s = span ?? SourceSpan.join(left.span, right.span);
    return freeze({ kind: 'comparison', op, left, right, span: s, opSpan: opSpan ?? s });
  },
});

/** `operand [NOT] BETWEEN low AND high` (inclusive). */
export interface BetweenNode {
  readonly kind: 'between';
  readonly operand: Expression;
  readonly low: Expression;
  readonly high: Expression;
  readonly negated: boolean;
  readonly span: SourceSpan;
}

export const BetweenNode = Object.freeze({
  create(operand: Expression, low: Expression, high: Expression, negated = false, span?: SourceSpan): BetweenNode {
    return freeze({ kind: 'between', operand, low, high, negated, span: span ?? SourceSpan.join(operand.span, high.span) });
  },
});

/** `operand [NOT] IN (v1, v2, ...)`. */
export interface InListNode {
  readonly kind: 'in-list';
  readonly operand: Expression;
  readonly values: readonly Expression[];
  readonly negated: boolean;
  readonly span: SourceSpan;
}

export const InListNode = Object.freeze({
  create(operand: Expression, values: readonly Expression[], negated = false, span?: SourceSpan): InListNode {
    return freeze({
      kind: 'in-list',
      operand,
      values: Object.freeze([...values]),
      negated,
      span: span ?? spanOfAll([operand, ...values]),
    });
  },
});

export interface ArithmeticNode {
  readonly kind: 'arithmetic';
  readonly op: ArithmeticOperator;
  readonly left: Expression;
  readonly right: Expression;
  readonly span: SourceSpan;
}

export const ArithmeticNode = Object.freeze({
  create(op: ArithmeticOperator, left: Expression, right: Expression, span?: SourceSpan): ArithmeticNode {
    return freeze({ kind: 'arithmetic', op, left, right, span: span ?? SourceSpan.join(left.span, right.span) });
  },
});

/** Unary minus over anything but a number literal (`-5` is a {@link NumberNode}). */
export interface NegateNode {
  readonly kind: 'negate';
  readonly operand: Expression;
  readonly span: SourceSpan;
}

export const NegateNode = Object.freeze({
  create(operand: Expression, span: SourceSpan = operand.span): NegateNode {
    return freeze({ kind: 'negate', operand, span });
  },
});

export type Expression =
  | IdentifierNode
  | NumberNode
  | StringNode
  | CallNode
  | AndNode
  | OrNode
  | NotNode
  | ComparisonNode
  | BetweenNode
  | InListNode
  | ArithmeticNode
  | NegateNode;

export type ExpressionKind = Expression['kind'];

function flatten(kind: 'and' | 'or', operands: readonly Expression[]): Expression[] {
  const out: Expression[] = [];
  for (const operand of operands) {
    if (operand.kind === kind) out.push(...operand.operands);
    else out.push(operand);
  }
  return out;
}

function spanOfAll(nodes: readonly { readonly span: SourceSpan }[]): SourceSpan {
  if (nodes.length === 0) return NO_SPAN;
  return SourceSpan.join(nodes[0].span, nodes[nodes.length - 1].span);
}

// ---------------------------------------------------------------------------------------------
// Clauses

/** `SELECT *`. */
export interface AllColumnsNode {
  readonly kind: 'all-columns';
  readonly span: SourceSpan;
}

export const AllColumnsNode = Object.freeze({
  create(span: SourceSpan = NO_SPAN): AllColumnsNode {
    return freeze({ kind: 'all-columns', span });
  },
});

export type SelectItem = AllColumnsNode | Expression;

/** `FROM traffic` / `FROM "my video"`. */
export interface VideoNameNode {
  readonly kind: 'video-name';
  readonly name: string;
  readonly quoted: boolean;
  readonly span: SourceSpan;
}

export const VideoNameNode = Object.freeze({
  create(name: string, quoted = false, span: SourceSpan = NO_SPAN): VideoNameNode {
    return freeze({ kind: 'video-name', name, quoted, span });
  },
});

/** `FROM 'path/to/file.mp4'`. */
export interface VideoPathNode {
  readonly kind: 'video-path';
  readonly path: string;
  readonly span: SourceSpan;
}

export const VideoPathNode = Object.freeze({
  create(path: string, span: SourceSpan = NO_SPAN): VideoPathNode {
    return freeze({ kind: 'video-path', path, span });
  },
});

export type VideoSource = VideoNameNode | VideoPathNode;

export type SortDirection = 'asc' | 'desc';

export interface OrderByItemNode {
  readonly kind: 'order-by-item';
  readonly expression: Expression;
  readonly direction: SortDirection;
  /** `ASC` or `DESC` was written (the direction is `asc` otherwise). */
  readonly explicit: boolean;
  readonly span: SourceSpan;
}

export const OrderByItemNode = Object.freeze({
  create(expression: Expression, direction: SortDirection = 'asc', explicit = false, span: SourceSpan = expression.span): OrderByItemNode {
    return freeze({ kind: 'order-by-item', expression, direction, explicit, span });
  },
});

/** A `LIMIT` or `GAP` count; the value may be negative or fractional here, the binder checks it. */
export interface CountClauseNode {
  readonly kind: 'limit' | 'gap';
  readonly value: number;
  readonly span: SourceSpan;
}

export const CountClauseNode = Object.freeze({
  create(kind: 'limit' | 'gap', value: number, span: SourceSpan = NO_SPAN): CountClauseNode {
    return freeze({ kind, value, span });
  },
});

/**
 * The rates over frames a selection may bound: `FNR WITHIN a`, `FPR WITHIN b` and AIDB's spellings
 * `RECALL_TARGET r` (recall = 1 - FNR) and `PRECISION_TARGET q`.
 */
export type RateTargetKind = 'fnr-within' | 'fpr-within' | 'recall-target' | 'precision-target';

/**
 * `FNR WITHIN a [AT CONFIDENCE p]`, `FPR WITHIN b [AT CONFIDENCE p]`, `RECALL_TARGET r [CONFIDENCE p]`,
 * `PRECISION_TARGET q [CONFIDENCE p]`; `1%` is stored as 0.01. The binder checks the ranges.
 */
export interface RateTargetNode {
  readonly kind: RateTargetKind;
  readonly value: number;
  readonly confidence: number | undefined;
  readonly span: SourceSpan;
  readonly confidenceSpan: SourceSpan | undefined;
}

export const RateTargetNode = Object.freeze({
  create(kind: RateTargetKind, value: number, confidence?: number, spans: { span?: SourceSpan; confidenceSpan?: SourceSpan } = {}): RateTargetNode {
    const span = spans.span ?? NO_SPAN;
    return freeze({
      kind,
      value,
      confidence,
      span,
      confidenceSpan: confidence === undefined ? undefined : (spans.confidenceSpan ?? span),
    });
  },
});

/** `ERROR WITHIN e [AT CONFIDENCE p]`; `95%` and `0.95` are both stored as 0.95. */
export interface ErrorTargetNode {
  readonly kind: 'error-within';
  readonly error: number;
  readonly confidence: number | undefined;
  readonly span: SourceSpan;
  readonly errorSpan: SourceSpan;
  readonly confidenceSpan: SourceSpan | undefined;
}

export const ErrorTargetNode = Object.freeze({
  create(
    error: number,
    confidence?: number,
    spans: { span?: SourceSpan; errorSpan?: SourceSpan; confidenceSpan?: SourceSpan } = {},
  ): ErrorTargetNode {
    const span = spans.span ?? NO_SPAN;
    return freeze({
      kind: 'error-within',
      error,
      confidence,
      span,
      errorSpan: spans.errorSpan ?? span,
      confidenceSpan: confidence === undefined ? undefined : (spans.confidenceSpan ?? span),
    });
  },
});

/** `BUDGET n`: at most n reference-detector calls; any number parses, the binder checks it. */
export interface BudgetNode {
  readonly kind: 'budget';
  readonly value: number;
  readonly span: SourceSpan;
}

export const BudgetNode = Object.freeze({
  create(value: number, span: SourceSpan = NO_SPAN): BudgetNode {
    return freeze({ kind: 'budget', value, span });
  },
});

/** The clauses after the query body, in any order. */
export type AccuracyClause = RateTargetNode | ErrorTargetNode | BudgetNode;

// ---------------------------------------------------------------------------------------------
// Statements

export interface SelectQueryNode {
  readonly kind: 'select';
  readonly selection: readonly SelectItem[];
  readonly from: VideoSource;
  readonly where: Expression | undefined;
  readonly groupBy: readonly Expression[];
  readonly having: Expression | undefined;
  readonly orderBy: readonly OrderByItemNode[];
  readonly limit: CountClauseNode | undefined;
  readonly gap: CountClauseNode | undefined;
  /** In the order written; duplicates are kept for the binder to reject. */
  readonly accuracy: readonly AccuracyClause[];
  readonly span: SourceSpan;
}

export interface SelectQueryParts {
  selection: readonly SelectItem[];
  from: VideoSource;
  where?: Expression;
  groupBy?: readonly Expression[];
  having?: Expression;
  orderBy?: readonly OrderByItemNode[];
  limit?: CountClauseNode;
  gap?: CountClauseNode;
  accuracy?: readonly AccuracyClause[];
  span?: SourceSpan;
}

export const SelectQueryNode = Object.freeze({
  create(parts: SelectQueryParts): SelectQueryNode {
    return freeze({
      kind: 'select',
      selection: Object.freeze([...parts.selection]),
      from: parts.from,
      where: parts.where,
      groupBy: Object.freeze([...(parts.groupBy ?? [])]),
      having: parts.having,
      orderBy: Object.freeze([...(parts.orderBy ?? [])]),
      limit: parts.limit,
      gap: parts.gap,
      accuracy: Object.freeze([...(parts.accuracy ?? [])]),
      span: parts.span ?? NO_SPAN,
    });
  },
  /** A copy with some parts replaced. */
  with(node: SelectQueryNode, parts: Partial<SelectQueryParts>): SelectQueryNode {
    return SelectQueryNode.create({ ...node, ...parts });
  },
});

/** `EXPLAIN [ANALYZE] <query>`. */
export interface ExplainNode {
  readonly kind: 'explain';
  readonly analyze: boolean;
  readonly query: SelectQueryNode;
  readonly span: SourceSpan;
}

export const ExplainNode = Object.freeze({
  create(query: SelectQueryNode, analyze = false, span: SourceSpan = query.span): ExplainNode {
    return freeze({ kind: 'explain', analyze, query, span });
  },
});

export type Statement = SelectQueryNode | ExplainNode;

/** Any node of the tree. */
export type AstNode = Statement | SelectItem | VideoSource | OrderByItemNode | CountClauseNode | AccuracyClause | StarNode;
