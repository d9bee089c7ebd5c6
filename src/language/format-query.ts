import type {
  AccuracyClause,
  Expression,
  ExpressionKind,
  OrderByItemNode,
  SelectItem,
  SelectQueryNode,
  Statement,
  StarNode,
  VideoSource,
} from './ast-node.js';
import { RESERVED_WORDS } from './tokens.js';

type Handler<K extends ExpressionKind> = (node: Extract<Expression, { kind: K }>) => string;

/** Binding strength of each expression kind: a child weaker than its parent needs parentheses. */
const PRECEDENCE: { readonly [K in ExpressionKind]: (node: Extract<Expression, { kind: K }>) => number } = {
  or: () => 1,
  and: () => 2,
  not: () => 3,
  comparison: () => 4,
  between: () => 4,
  'in-list': () => 4,
  arithmetic: (n) => (n.op === '+' || n.op === '-' ? 5 : 6),
  negate: () => 7,
  number: (n) => (n.value < 0 ? 7 : 8),
  identifier: () => 8,
  string: () => 8,
  call: () => 8,
};

function precedence(e: Expression): number {
  return (PRECEDENCE[e.kind] as (n: Expression) => number)(e);
}

const PLAIN_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name as FrameQL text: bare when it can be, `"double-quoted"` otherwise. */
export function formatName(name: string, quoted = false): string {
  if (!quoted && PLAIN_NAME.test(name) && !RESERVED_WORDS.has(name.toUpperCase())) return name;
  return `"${name.split('"').join('""')}"`;
}

/** A string literal: `'it''s'`. */
export function formatString(value: string): string {
  return `'${value.split("'").join("''")}'`;
}

export function formatNumber(value: number): string {
  return String(value);
}

function sub(e: Expression, min: number): string {
  const text = formatExpression(e);
  return precedence(e) < min ? `(${text})` : text;
}

const HANDLERS: { readonly [K in ExpressionKind]: Handler<K> } = {
  or: (n) => n.operands.map((o) => sub(o, 2)).join(' OR '),
  and: (n) => n.operands.map((o) => sub(o, 3)).join(' AND '),
  not: (n) => `NOT ${sub(n.operand, 3)}`,
  comparison: (n) => `${sub(n.left, 5)} ${n.op} ${sub(n.right, 5)}`,
  between: (n) => `${sub(n.operand, 5)} ${n.negated ? 'NOT ' : ''}BETWEEN ${sub(n.low, 5)} AND ${sub(n.high, 5)}`,
  'in-list': (n) => `${sub(n.operand, 5)} ${n.negated ? 'NOT ' : ''}IN (${n.values.map((v) => formatExpression(v)).join(', ')})`,
  arithmetic: (n) => {
    const level = n.op === '+' || n.op === '-' ? 5 : 6;
    return `${sub(n.left, level)} ${n.op} ${sub(n.right, level + 1)}`;
  },
  negate: (n) => {
    const operand = sub(n.operand, 7);
    return operand.startsWith('-') ? `-(${operand})` : `-${operand}`;
  },
  number: (n) => formatNumber(n.value),
  string: (n) => formatString(n.value),
  identifier: (n) => formatName(n.name, n.quoted),
  call: (n) => {
    const args = n.args.map((a: Expression | StarNode) => (a.kind === 'star' ? '*' : formatExpression(a))).join(', ');
    return `${formatName(n.name)}(${n.distinct ? 'DISTINCT ' : ''}${args})`;
  },
};

/** One expression as canonical FrameQL text, with only the parentheses it needs. */
export function formatExpression(e: Expression): string {
  return (HANDLERS[e.kind] as (n: Expression) => string)(e);
}

function formatSelectItem(item: SelectItem): string {
  return item.kind === 'all-columns' ? '*' : formatExpression(item);
}

function formatSource(source: VideoSource): string {
  return source.kind === 'video-path' ? formatString(source.path) : formatName(source.name, source.quoted);
}

function formatOrderItem(item: OrderByItemNode): string {
  const text = formatExpression(item.expression);
  if (!item.explicit && item.direction === 'asc') return text;
  return `${text} ${item.direction === 'desc' ? 'DESC' : 'ASC'}`;
}

function confidence(value: number | undefined, spelling: 'AT CONFIDENCE' | 'CONFIDENCE'): string {
  return value === undefined ? '' : ` ${spelling} ${formatNumber(value)}`;
}

const ACCURACY: { readonly [K in AccuracyClause['kind']]: (c: AccuracyClause & { kind: K }) => string } = {
  'fnr-within': (c) => `FNR WITHIN ${formatNumber(c.value)}${confidence(c.confidence, 'AT CONFIDENCE')}`,
  'fpr-within': (c) => `FPR WITHIN ${formatNumber(c.value)}${confidence(c.confidence, 'AT CONFIDENCE')}`,
  'recall-target': (c) => `RECALL_TARGET ${formatNumber(c.value)}${confidence(c.confidence, 'CONFIDENCE')}`,
  'precision-target': (c) => `PRECISION_TARGET ${formatNumber(c.value)}${confidence(c.confidence, 'CONFIDENCE')}`,
  'error-within': (c) => `ERROR WITHIN ${formatNumber(c.error)}${confidence(c.confidence, 'AT CONFIDENCE')}`,
  budget: (c) => `BUDGET ${formatNumber(c.value)}`,
};

function formatSelect(q: SelectQueryNode): string {
  const parts = [`SELECT ${q.selection.map(formatSelectItem).join(', ')}`, `FROM ${formatSource(q.from)}`];
  if (q.where !== undefined) parts.push(`WHERE ${formatExpression(q.where)}`);
  if (q.groupBy.length > 0) parts.push(`GROUP BY ${q.groupBy.map((e) => formatExpression(e)).join(', ')}`);
  if (q.having !== undefined) parts.push(`HAVING ${formatExpression(q.having)}`);
  if (q.orderBy.length > 0) parts.push(`ORDER BY ${q.orderBy.map(formatOrderItem).join(', ')}`);
  if (q.limit !== undefined) parts.push(`LIMIT ${formatNumber(q.limit.value)}`);
  if (q.gap !== undefined) parts.push(`GAP ${formatNumber(q.gap.value)}`);
  for (const clause of q.accuracy) parts.push((ACCURACY[clause.kind] as (c: AccuracyClause) => string)(clause));
  return parts.join(' ');
}

/**
 * A statement as canonical FrameQL text: one line, upper-case keywords, minimal parentheses,
 * rates as decimals (`95%` becomes `0.95`). `parseQuery(formatQuery(s))` equals `s` up to spans.
 *
 * ```ts
 * formatQuery(parseQuery("select fcount(*) from traffic where class='car' error within .1 at confidence 95%"));
 * // "SELECT fcount(*) FROM traffic WHERE class = 'car' ERROR WITHIN 0.1 AT CONFIDENCE 0.95"
 * ```
 */
export function formatQuery(statement: Statement): string {
  if (statement.kind === 'explain') return `EXPLAIN ${statement.analyze ? 'ANALYZE ' : ''}${formatSelect(statement.query)}`;
  return formatSelect(statement);
}
