import type { QueryError } from '../errors.js';
import type {
  AccuracyClause,
  CallNode,
  ComparisonNode,
  ComparisonOperator,
  CountClauseNode,
  Expression,
  ExpressionKind,
  SelectItem,
  SelectQueryNode,
  SourceSpan,
  Statement,
  StringNode,
  VideoSource,
} from '../language/ast-node.js';
import { formatExpression, formatNumber, formatQuery } from '../language/format-query.js';
import { didYouMean, queryError, type QueryErrorCode } from '../language/query-error.js';
import { closestNames } from '../language/suggest.js';
import type { BindContext } from './bind-context.js';
import {
  BoundAggregate,
  BoundFramePredicate,
  BoundOrderItem,
  BoundOutput,
  BoundPredicate,
  BoundValue,
  DEFAULT_CONFIDENCE,
  DEFAULT_FNR,
  DEFAULT_FPR,
  type AggregateFunction,
  type AggregateOutput,
  type BoundAccuracy,
  type BoundColumn,
  type BoundQuery,
  type BoundVideo,
  type ExplainMode,
  type QueryShape,
  type ValueOutput,
} from './bound-node.js';
import { COLUMN_NAMES, COLUMNS, lookupColumn, SELECT_ALL_COLUMNS, type ColumnType } from './column-catalog.js';
import { extractFrameBounds } from './frame-bounds.js';
import { ARITHMETIC, COMPARE } from './predicate-evaluator.js';
import { classIdsOf, columnsOfValue, type BoundTree } from './bound-walk.js';

/** The clause an expression is bound in: it decides whether aggregates may appear. */
type Clause = 'SELECT' | 'WHERE' | 'GROUP BY' | 'HAVING' | 'ORDER BY' | 'aggregate argument';

/** An expression after binding, with its FrameQL type. */
type Bound =
  | { readonly type: 'boolean'; readonly node: Expression; readonly predicate: BoundPredicate }
  | { readonly type: 'number'; readonly node: Expression; readonly value: BoundValue; readonly numeric: 'integer' | 'double' }
  | { readonly type: 'text'; readonly node: StringNode; readonly value: string }
  | { readonly type: 'class'; readonly node: Expression }
  | { readonly type: 'aggregate'; readonly node: CallNode; readonly aggregate: BoundAggregate; readonly numeric: 'integer' | 'double' };

type BoundOf<T extends Bound['type']> = Extract<Bound, { type: T }>;

const MIRROR: Readonly<Record<ComparisonOperator, ComparisonOperator>> = { '=': '=', '!=': '!=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

const FUNCTION_NAMES: readonly string[] = ['FCOUNT', 'COUNT', 'SUM', 'AVG', 'MIN', 'MAX'];

function err(code: QueryErrorCode, node: { readonly span: SourceSpan }, text: string, info: Parameters<typeof queryError>[3] = {}): QueryError {
  return queryError(code, node.span.start, text, info);
}

function short(text: string): string {
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function show(e: Expression): string {
  return short(formatExpression(e));
}

function describe(b: Bound): string {
  switch (b.type) {
    case 'boolean':
      return `the condition ${show(b.node)}`;
    case 'number':
      return b.node.kind === 'number' ? `the number ${show(b.node)}` : `${show(b.node)} (a number)`;
    case 'text':
      return `the string ${show(b.node)}`;
    case 'class':
      return 'class (text)';
    case 'aggregate':
      return `the aggregate ${show(b.node)}`;
  }
}

function constantOf(v: BoundValue): number | undefined {
  return v.kind === 'number' ? v.value : undefined;
}

/** Binds expressions for one query: column, class and function names, types. */
class ExpressionBinder {
  constructor(private readonly labels: readonly string[]) {}

  private readonly handlers: { readonly [K in ExpressionKind]: (e: Extract<Expression, { kind: K }>, clause: Clause) => Bound } = {
    identifier: (e) => {
      const info = lookupColumn(e.name);
      if (info === undefined) throw this.unknownColumn(e.name, e.quoted, e);
      if (!info.supported) throw err('UNSUPPORTED', e, `column ${info.name}: tracking is not implemented yet`, { found: e.name });
      if (info.type === 'text') return { type: 'class', node: e };
      return { type: 'number', node: e, value: BoundValue.column(info.name as BoundColumn), numeric: info.type === 'integer' ? 'integer' : 'double' };
    },
    number: (e) => ({ type: 'number', node: e, value: BoundValue.number(e.value), numeric: Number.isInteger(e.value) ? 'integer' : 'double' }),
    string: (e) => ({ type: 'text', node: e, value: e.value }),
    call: (e, clause) => this.aggregate(e, clause),
    and: (e, clause) => ({ type: 'boolean', node: e, predicate: BoundPredicate.and(e.operands.map((o) => this.condition(o, clause, 'AND'))) }),
    or: (e, clause) => ({ type: 'boolean', node: e, predicate: BoundPredicate.or(e.operands.map((o) => this.condition(o, clause, 'OR'))) }),
    not: (e, clause) => ({ type: 'boolean', node: e, predicate: BoundPredicate.not(this.condition(e.operand, clause, 'NOT')) }),
    comparison: (e, clause) => this.comparison(e, clause),
    between: (e, clause) => {
      const operand = this.numberOperand(e.operand, clause, 'BETWEEN');
      const low = this.numberOperand(e.low, clause, 'BETWEEN');
      const high = this.numberOperand(e.high, clause, 'BETWEEN');
      const [v, lo, hi] = [constantOf(operand), constantOf(low), constantOf(high)];
      if (v !== undefined && lo !== undefined && hi !== undefined) {
        return { type: 'boolean', node: e, predicate: BoundPredicate.constant(v >= lo && v <= hi && !e.negated) };
      }
      return { type: 'boolean', node: e, predicate: BoundPredicate.between(operand, low, high, e.negated) };
    },
    'in-list': (e, clause) => {
      const operand = this.bind(e.operand, clause);
      if (operand.type === 'class') {
        const ids = e.values.map((v) => {
          const b = this.bind(v, clause);
          if (b.type !== 'text') {
            throw err('TYPE_MISMATCH', v, `class IN (...) needs class names in single quotes, found ${describe(b)}`, { found: formatExpression(v) });
          }
          return this.classId(b.node);
        });
        return { type: 'boolean', node: e, predicate: BoundPredicate.classMatch(ids, e.negated) };
      }
      const value = this.asNumber(operand, 'IN');
      const values = e.values.map((v) => this.numberOperand(v, clause, 'IN', operand));
      return { type: 'boolean', node: e, predicate: BoundPredicate.inList(value, values, e.negated) };
    },
    arithmetic: (e, clause) => {
      const left = this.bind(e.left, clause);
      const right = this.bind(e.right, clause);
      const l = this.asNumber(left, `'${e.op}'`);
      const r = this.asNumber(right, `'${e.op}'`);
      const numeric = e.op !== '/' && left.type === 'number' && right.type === 'number' && left.numeric === 'integer' && right.numeric === 'integer' ? 'integer' : 'double';
      const [a, b] = [constantOf(l), constantOf(r)];
      if (a !== undefined && b !== undefined) {
        const folded = ARITHMETIC[e.op](a, b);
        if (Number.isFinite(folded)) return { type: 'number', node: e, value: BoundValue.number(folded), numeric };
      }
      return { type: 'number', node: e, value: BoundValue.arithmetic(e.op, l, r), numeric };
    },
    negate: (e, clause) => {
      const operand = this.bind(e.operand, clause);
      const v = this.asNumber(operand, "'-'");
      const c = constantOf(v);
      const numeric = operand.type === 'number' ? operand.numeric : 'double';
      if (c !== undefined) return { type: 'number', node: e, value: BoundValue.number(0 - c), numeric };
      return { type: 'number', node: e, value: BoundValue.negate(v), numeric };
    },
  };

  bind(e: Expression, clause: Clause): Bound {
    return (this.handlers[e.kind] as (e: Expression, clause: Clause) => Bound)(e, clause);
  }

  /** Binds an expression that must be a condition (WHERE, AND/OR/NOT operands, SUM arguments). */
  condition(e: Expression, clause: Clause, context: string = clause): BoundPredicate {
    const b = this.bind(e, clause);
    if (b.type === 'boolean') return b.predicate;
    let hint = '';
    if (b.type === 'text') hint = `; to match a class write class = ${show(b.node)}`;
    else if (b.type === 'class') hint = "; compare it: class = 'car'";
    throw err('TYPE_MISMATCH', e, `${context} needs a condition such as class = 'car', but found ${describe(b)}${hint}`, {
      found: formatExpression(e),
    });
  }

  private asNumber(b: Bound, context: string): BoundValue {
    if (b.type === 'number') return b.value;
    if (b.type === 'aggregate') {
      throw err('UNSUPPORTED', b.node, `${context} over ${describe(b)} is not supported; select the aggregate on its own`, {
        found: formatExpression(b.node),
      });
    }
    let hint = '';
    if (b.type === 'class') hint = "; class is text: compare it with a class name, e.g. class = 'car'";
    throw err('TYPE_MISMATCH', b.node, `${context} needs a number, but found ${describe(b)}${hint}`, { found: formatExpression(b.node) });
  }

  private numberOperand(e: Expression, clause: Clause, context: string, other?: Bound): BoundValue {
    const b = this.bind(e, clause);
    if (b.type === 'text' && other !== undefined) throw this.textVersusNumber(b, other);
    return this.asNumber(b, context);
  }

  private textVersusNumber(text: BoundOf<'text'>, number: Bound): QueryError {
    const column = number.node.kind === 'identifier' ? number.node.name.toLowerCase() : undefined;
    const hint = column === 'timestamp' ? '; timestamps are seconds: timestamp BETWEEN 60 AND 120' : '';
    return err('TYPE_MISMATCH', text.node, `${describe(number)} cannot be compared with ${describe(text)}${hint}`, {
      found: formatExpression(text.node),
    });
  }

  private comparison(e: ComparisonNode, clause: Clause): Bound {
    const left = this.bind(e.left, clause);
    const right = this.bind(e.right, clause);
    for (const side of [left, right]) {
      if (side.type === 'boolean') {
        throw err('TYPE_MISMATCH', side.node, `'${e.op}' compares values, but found ${describe(side)}`, { found: formatExpression(side.node) });
      }
      if (side.type === 'aggregate') {
        throw err('INVALID_CLAUSE', side.node, `${describe(side)} cannot be compared in ${clause}; compare per-frame counts in HAVING with GROUP BY timestamp`, {
          found: formatExpression(side.node),
        });
      }
    }
    if (left.type === 'class' || right.type === 'class') {
      const other = left.type === 'class' ? right : left;
      if (other.type === 'class') throw err('TYPE_MISMATCH', e, 'comparing class with class is always true; compare it with a class name, e.g. class = \'car\'');
      if (other.type !== 'text') {
        throw err('TYPE_MISMATCH', other.node, `class is text: compare it with a class name in single quotes, e.g. class = 'car', not ${describe(other)}`, {
          found: formatExpression(other.node),
        });
      }
      if (e.op !== '=' && e.op !== '!=') {
        throw err('TYPE_MISMATCH', { span: e.opSpan }, `class can only be tested with =, != or IN, not ${e.op}`, { found: e.op, expected: ['=', '!=', 'IN'] });
      }
      return { type: 'boolean', node: e, predicate: BoundPredicate.classMatch([this.classId(other.node)], e.op === '!=') };
    }
    if (left.type === 'text' && right.type === 'text') {
      throw err('TYPE_MISMATCH', e, "comparing two strings is always true or false; compare class with a string, e.g. class = 'car'", {
        found: formatExpression(e),
      });
    }
    if (left.type === 'text') throw this.textVersusNumber(left, right);
    if (right.type === 'text') throw this.textVersusNumber(right, left);
    const l = (left as BoundOf<'number'>).value;
    const r = (right as BoundOf<'number'>).value;
    const [a, b] = [constantOf(l), constantOf(r)];
    if (a !== undefined && b !== undefined) return { type: 'boolean', node: e, predicate: BoundPredicate.constant(COMPARE[e.op](a, b)) };
    if (a !== undefined) return { type: 'boolean', node: e, predicate: BoundPredicate.compare(MIRROR[e.op], r, l) };
    return { type: 'boolean', node: e, predicate: BoundPredicate.compare(e.op, l, r) };
  }

  classId(node: StringNode): number {
    const exact = this.labels.indexOf(node.value);
    if (exact >= 0) return exact;
    const lower = node.value.toLowerCase();
    const loose = this.labels.findIndex((l) => l.toLowerCase() === lower);
    if (loose >= 0) return loose;
    const suggestions = closestNames(node.value, this.labels);
    const tail =
      suggestions.length > 0
        ? didYouMean(suggestions)
        : `; the model knows ${this.labels.length} classes${this.labels.length > 0 ? `, e.g. ${this.labels.slice(0, 3).map((l) => `'${l}'`).join(', ')}` : ''}`;
    throw err('UNKNOWN_CLASS', node, `unknown class '${short(node.value)}'${tail}`, { found: node.value, suggestions });
  }

  private unknownColumn(name: string, quoted: boolean, node: Expression): QueryError {
    const shown = quoted ? `"${name}"` : `'${name}'`;
    const label = this.labels.find((l) => l.toLowerCase() === name.toLowerCase());
    if (quoted && (label !== undefined || !/^[A-Za-z_]\w*$/.test(name))) {
      return err('UNKNOWN_COLUMN', node, `unknown column ${shown} — strings use single quotes: '${name}'`, { found: name, suggestions: [`'${name}'`] });
    }
    if (label !== undefined) {
      return err('UNKNOWN_COLUMN', node, `unknown column ${shown} — to match objects of that class write class = '${label}'`, {
        found: name,
        suggestions: [`class = '${label}'`],
      });
    }
    const suggestions = closestNames(name, COLUMN_NAMES);
    const tail = suggestions.length > 0 ? didYouMean(suggestions) : `; the columns are ${SELECT_ALL_COLUMNS.join(', ')}`;
    return err('UNKNOWN_COLUMN', node, `unknown column ${shown}${tail}`, { found: name, suggestions });
  }

  private aggregate(call: CallNode, clause: Clause): BoundOf<'aggregate'> {
    const fn = call.name.toUpperCase();
    if (!FUNCTION_NAMES.includes(fn)) {
      const column = lookupColumn(call.name);
      if (column !== undefined) {
        const hint = column.name === 'class' ? `; to test several classes write class IN ('car', 'bus')` : '';
        throw err('UNKNOWN_FUNCTION', { span: call.nameSpan }, `unknown function '${short(call.name)}': ${column.name} is a column, not a function${hint}`, {
          found: call.name,
        });
      }
      const suggestions = closestNames(call.name, FUNCTION_NAMES);
      const tail = suggestions.length > 0 ? didYouMean(suggestions) : `; the functions are ${FUNCTION_NAMES.join(', ')}`;
      throw err('UNKNOWN_FUNCTION', { span: call.nameSpan }, `unknown function '${short(call.name)}'${tail}`, { found: call.name, suggestions });
    }
    if (clause === 'aggregate argument') {
      throw err('INVALID_CLAUSE', call, `aggregates cannot be nested: ${show(call)}`, { found: formatExpression(call) });
    }
    if (clause !== 'SELECT' && clause !== 'HAVING') {
      const hint = clause === 'WHERE' ? '; WHERE filters objects: count them in SELECT, or per frame in HAVING with GROUP BY timestamp' : '';
      throw err('INVALID_CLAUSE', call, `aggregate ${show(call)} is not allowed in ${clause}${hint}`, { found: formatExpression(call) });
    }
    const star = call.args.length === 1 && call.args[0].kind === 'star';
    const args = call.args.filter((a): a is Expression => a.kind !== 'star');
    const make = (f: AggregateFunction, numeric: 'integer' | 'double', argument?: BoundValue): BoundOf<'aggregate'> => ({
      type: 'aggregate',
      node: call,
      aggregate: BoundAggregate.create(f, argument),
      numeric,
    });
    const usage = (text: string): QueryError => err('INVALID_CLAUSE', call, `${fn} ${text}`, { found: formatExpression(call) });

    if (fn === 'FCOUNT') {
      if (!star || call.distinct) throw usage('takes *: FCOUNT(*) is the number of matching objects per frame, averaged over frames');
      return make('fcount', 'double');
    }
    if (fn === 'COUNT') {
      if (star && !call.distinct) return make('count', 'integer');
      if (args.length !== 1) throw usage("takes *, one column, or DISTINCT frame: COUNT(*), COUNT(DISTINCT frame)");
      const arg = args[0];
      if (call.distinct) {
        const column = arg.kind === 'identifier' ? lookupColumn(arg.name) : undefined;
        if (column?.name === 'frame' || column?.name === 'timestamp') return make('count-distinct-frames', 'integer');
        this.bind(arg, 'aggregate argument');
        throw err('UNSUPPORTED', arg, `COUNT(DISTINCT ...) counts frames only: write COUNT(DISTINCT frame)`, { found: formatExpression(arg) });
      }
      const b = this.bind(arg, 'aggregate argument');
      if (b.type === 'boolean') {
        throw err('INVALID_CLAUSE', arg, `COUNT(${show(arg)}) would count every object; write SUM(${show(arg)}) to count the objects where it holds`, {
          found: formatExpression(arg),
          suggestions: [`SUM(${formatExpression(arg)})`],
        });
      }
      return make('count', 'integer');
    }
    // SUM, AVG, MIN, MAX
    if (call.distinct) throw err('UNSUPPORTED', call, `${fn}(DISTINCT ...) is not supported`, { found: formatExpression(call) });
    if (star || args.length !== 1) throw usage(`takes one argument: ${fn}(score), ${fn === 'SUM' || fn === 'AVG' ? `${fn}(class = 'car')` : ''}`.replace(/, $/, ''));
    const b = this.bind(args[0], 'aggregate argument');
    const lower = fn.toLowerCase() as 'sum' | 'avg' | 'min' | 'max';
    if (b.type === 'boolean' && (lower === 'sum' || lower === 'avg')) {
      return make(lower, lower === 'sum' ? 'integer' : 'double', BoundValue.indicator(b.predicate));
    }
    const value = this.asNumber(b, fn);
    const numeric = lower === 'avg' ? 'double' : (b as BoundOf<'number'>).numeric;
    return make(lower, numeric, value);
  }
}

// ---------------------------------------------------------------------------------------------

function bindVideo(source: VideoSource, context: BindContext): BoundVideo {
  if (source.kind === 'video-path') {
    const video = context.resolveVideo({ kind: 'path', path: source.path });
    if (video !== undefined) return video;
    throw err('UNKNOWN_VIDEO', source, `video file '${short(source.path)}' not found`, { found: source.path });
  }
  const direct = context.resolveVideo({ kind: 'name', name: source.name });
  if (direct !== undefined) return direct;
  const names = context.videoNames();
  const sameCase = names.filter((n) => n.toLowerCase() === source.name.toLowerCase());
  if (sameCase.length === 1) {
    const video = context.resolveVideo({ kind: 'name', name: sameCase[0] });
    if (video !== undefined) return video;
  }
  const suggestions = closestNames(source.name, names);
  const tail =
    suggestions.length > 0
      ? didYouMean(suggestions)
      : `; register it in the catalog, bind it with --video ${source.name}=path/to/file.mp4, or read a file with FROM 'path/to/file.mp4'`;
  throw err('UNKNOWN_VIDEO', source, `unknown video '${short(source.name)}'${tail}`, { found: source.name, suggestions });
}

function checkCount(clause: CountClauseNode): number {
  const name = clause.kind.toUpperCase();
  if (!Number.isInteger(clause.value) || clause.value < 0 || clause.value > Number.MAX_SAFE_INTEGER) {
    const what = clause.kind === 'limit' ? 'a number of frames or rows' : 'a number of frames';
    throw err('INVALID_CLAUSE', clause, `${name} must be a whole number, zero or more (${what}); found ${clause.value}`, {
      found: String(clause.value),
    });
  }
  return clause.value;
}

const ACCURACY_NAMES: Readonly<Record<AccuracyClause['kind'], string>> = {
  'fnr-within': 'FNR WITHIN',
  'fpr-within': 'FPR WITHIN',
  'recall-target': 'RECALL_TARGET',
  'precision-target': 'PRECISION_TARGET',
  'error-within': 'ERROR WITHIN',
  budget: 'BUDGET',
};

/** The clause that sets the same bound another way: recall = 1 - FNR. */
const SAME_BOUND: Partial<Record<AccuracyClause['kind'], AccuracyClause['kind']>> = {
  'fnr-within': 'recall-target',
  'recall-target': 'fnr-within',
};

/** ` — did you mean 5%?` for a rate written as a percentage without its `%`. */
function percentHint(value: number, prefix: string): { tail: string; suggestions: string[] } {
  if (!(value > 1 && value < 100)) return { tail: '', suggestions: [] };
  const suggestions = [`${prefix}${formatNumber(value)}%`];
  return { tail: didYouMean(suggestions, (s) => s), suggestions };
}

/**
 * Selections take FNR / FPR / RECALL / PRECISION targets, aggregates ERROR WITHIN; an aggregate whose
 * only output is COUNT(DISTINCT frame) is answered as a presence query, so it takes the rate targets too.
 */
function takesRateTargets(shape: QueryShape, outputs: readonly BoundOutput[]): boolean {
  if (shape !== 'aggregate') return true;
  return outputs.length === 1 && outputs[0].kind === 'aggregate' && outputs[0].aggregate.fn === 'count-distinct-frames';
}

/** One confidence per query: the first one written, checked against every later one. */
class ConfidenceOfQuery {
  private written: { readonly value: number; readonly span: SourceSpan } | undefined;

  add(value: number | undefined, span: SourceSpan | undefined, clause: AccuracyClause): void {
    if (value === undefined) return;
    const at = { span: span ?? clause.span };
    if (!(value > 0 && value < 1)) {
      const hint = percentHint(value, '');
      throw err('INVALID_CLAUSE', at, `confidence must be between 0 and 1: write 95% or 0.95; found ${value}${hint.tail}`, {
        found: String(value),
        suggestions: hint.suggestions,
      });
    }
    if (this.written === undefined) {
      this.written = { value, span: at.span };
      return;
    }
    if (this.written.value !== value) {
      const first = this.written.span.start;
      throw err(
        'INVALID_CLAUSE',
        at,
        `one confidence per query: ${value} here, but ${this.written.value} at line ${first.line}, column ${first.column}; every bound of a query holds at the same confidence, so state it once`,
        { found: String(value) },
      );
    }
  }

  get value(): number {
    return this.written?.value ?? DEFAULT_CONFIDENCE;
  }

  get defaulted(): boolean {
    return this.written === undefined;
  }
}

function bindAccuracy(clauses: readonly AccuracyClause[], shape: QueryShape, outputs: readonly BoundOutput[]): BoundAccuracy {
  const seen = new Map<AccuracyClause['kind'], AccuracyClause>();
  const confidence = new ConfidenceOfQuery();
  let fnr: number | undefined;
  let fpr: number | undefined;
  let precision: number | undefined;
  let budget: number | undefined;
  let errorWithin: number | undefined;
  for (const clause of clauses) {
    const name = ACCURACY_NAMES[clause.kind];
    if (seen.has(clause.kind)) throw err('INVALID_CLAUSE', clause, `${name} is given twice`, { found: name });
    const same = SAME_BOUND[clause.kind];
    const other = same === undefined ? undefined : seen.get(same);
    if (other !== undefined) {
      throw err('INVALID_CLAUSE', clause, `${name} and ${ACCURACY_NAMES[other.kind]} both bound the false-negative rate (recall = 1 - FNR); write one of them`, {
        found: name,
      });
    }
    seen.set(clause.kind, clause);
    switch (clause.kind) {
      case 'budget':
        if (!Number.isSafeInteger(clause.value) || clause.value < 1) {
          throw err('INVALID_CLAUSE', clause, `BUDGET must be a whole number of reference-detector calls, 1 or more; found ${clause.value}`, {
            found: String(clause.value),
          });
        }
        budget = clause.value;
        break;
      case 'error-within':
        if (shape !== 'aggregate') {
          throw err('INVALID_CLAUSE', clause, 'ERROR WITHIN bounds the error of an aggregate such as FCOUNT(*); this query selects frames or rows — use FNR WITHIN / FPR WITHIN', {
            found: name,
          });
        }
        if (!(clause.error > 0)) {
          throw err('INVALID_CLAUSE', { span: clause.errorSpan }, `ERROR WITHIN must be greater than 0; found ${clause.error}`, { found: String(clause.error) });
        }
        confidence.add(clause.confidence, clause.confidenceSpan, clause);
        errorWithin = clause.error;
        break;
      default: {
        if (!takesRateTargets(shape, outputs)) {
          throw err('INVALID_CLAUSE', clause, `${name} applies to queries that select frames (and to COUNT(DISTINCT frame)); bound an aggregate with ERROR WITHIN e AT CONFIDENCE p%`, {
            found: name,
          });
        }
        if (!(clause.value > 0 && clause.value < 1)) {
          const example = clause.kind === 'recall-target' || clause.kind === 'precision-target' ? '0.99 or 99%' : '0.01 or 1%';
          const hint = percentHint(clause.value, `${name} `);
          throw err('INVALID_CLAUSE', clause, `${name} must be between 0 and 1 (exclusive), e.g. ${example}; found ${clause.value}${hint.tail}`, {
            found: String(clause.value),
            suggestions: hint.suggestions,
          });
        }
        confidence.add(clause.confidence, clause.confidenceSpan, clause);
        if (clause.kind === 'fnr-within') fnr = clause.value;
        // 1 - 0.99 is 0.010000000000000009 in doubles: round to the digits a query can state.
        else if (clause.kind === 'recall-target') fnr = Number((1 - clause.value).toFixed(12));
        else if (clause.kind === 'fpr-within') fpr = clause.value;
        else precision = clause.value;
      }
    }
  }
  const error =
    errorWithin === undefined ? undefined : Object.freeze({ within: errorWithin, confidence: confidence.value, confidenceDefaulted: confidence.defaulted });
  return Object.freeze({
    fnr: fnr ?? DEFAULT_FNR,
    fnrDefaulted: fnr === undefined,
    // PRECISION_TARGET alone replaces the FPR target: no bound on the false-positive rate.
    fpr: fpr ?? (precision !== undefined ? 1 : DEFAULT_FPR),
    fprDefaulted: fpr === undefined,
    precision,
    confidence: confidence.value,
    confidenceDefaulted: confidence.defaulted,
    error,
    budget,
  });
}

type SelectEntry = { readonly item: SelectItem; readonly bound: Bound | undefined };

function isFrameLevel(value: BoundValue): boolean {
  for (const c of columnsOfValue(value)) if (COLUMNS[c].level !== 'frame') return false;
  return true;
}

function valueOutput(entry: SelectEntry): ValueOutput {
  const b = entry.bound!;
  const name = formatExpression(b.node);
  if (b.type === 'number') return BoundOutput.value(name, b.numeric, b.value);
  if (b.type === 'class') return BoundOutput.value(name, 'text', BoundValue.column('class'));
  if (b.type === 'text') {
    throw err('INVALID_CLAUSE', b.node, `cannot select the string ${show(b.node)}; to filter by class write WHERE class = ${show(b.node)}`, {
      found: formatExpression(b.node),
    });
  }
  if (b.type === 'boolean') {
    throw err('UNSUPPORTED', b.node, `selecting a condition is not supported; filter with WHERE, or count with SUM(${show(b.node)})`, {
      found: formatExpression(b.node),
    });
  }
  throw err('INVALID_CLAUSE', b.node, `${describe(b)} cannot be selected here`, { found: formatExpression(b.node) });
}

function aggregateOutput(entry: SelectEntry): AggregateOutput {
  const b = entry.bound as BoundOf<'aggregate'>;
  return BoundOutput.aggregate(formatExpression(b.node), b.numeric, b.aggregate);
}

/** Binds the HAVING clause of a per-frame query: comparisons of object counts with numbers. */
function bindHaving(e: Expression, binder: ExpressionBinder): BoundFramePredicate {
  switch (e.kind) {
    case 'and':
      return BoundFramePredicate.and(e.operands.map((o) => bindHaving(o, binder)));
    case 'or':
      return BoundFramePredicate.or(e.operands.map((o) => bindHaving(o, binder)));
    case 'not':
      return BoundFramePredicate.not(bindHaving(e.operand, binder));
    case 'comparison': {
      const left = e.left.kind === 'call';
      const right = e.right.kind === 'call';
      if (!left && !right) break;
      const [callNode, otherNode, op] = left ? [e.left as CallNode, e.right, e.op] : [e.right as CallNode, e.left, MIRROR[e.op]];
      return BoundFramePredicate.countCompare(havingCount(callNode, binder), op, havingNumber(otherNode, binder));
    }
    case 'between': {
      if (e.operand.kind !== 'call') break;
      const objects = havingCount(e.operand, binder);
      const low = havingNumber(e.low, binder);
      const high = havingNumber(e.high, binder);
      return e.negated
        ? BoundFramePredicate.or([BoundFramePredicate.countCompare(objects, '<', low), BoundFramePredicate.countCompare(objects, '>', high)])
        : BoundFramePredicate.and([BoundFramePredicate.countCompare(objects, '>=', low), BoundFramePredicate.countCompare(objects, '<=', high)]);
    }
    default:
      break;
  }
  binder.bind(e, 'HAVING');
  throw err('UNSUPPORTED', e, `HAVING compares per-frame counts with numbers, e.g. HAVING SUM(class = 'car') >= 3; found ${show(e)}`, {
    found: formatExpression(e),
  });
}

function havingCount(call: CallNode, binder: ExpressionBinder): BoundPredicate {
  const b = binder.bind(call, 'HAVING') as BoundOf<'aggregate'>;
  const { fn, argument } = b.aggregate;
  if (fn === 'count') return BoundPredicate.constant(true);
  if (fn === 'sum' && argument?.kind === 'indicator') return argument.predicate;
  throw err('UNSUPPORTED', call, `HAVING supports counts of objects: SUM(<condition>) or COUNT(*); found ${show(call)}`, {
    found: formatExpression(call),
  });
}

function havingNumber(e: Expression, binder: ExpressionBinder): number {
  const b = binder.bind(e, 'HAVING');
  if (b.type === 'number' && b.value.kind === 'number') return b.value.value;
  throw err('UNSUPPORTED', e, `HAVING compares a count with a number, e.g. SUM(class = 'car') >= 3; found ${describe(b)}`, {
    found: formatExpression(e),
  });
}

function bindGroupBy(groupBy: readonly Expression[], binder: ExpressionBinder): ('frame' | 'timestamp')[] {
  return groupBy.map((e) => {
    if (e.kind === 'identifier') {
      const column = lookupColumn(e.name);
      if (column?.name === 'frame' || column?.name === 'timestamp') return column.name;
    }
    binder.bind(e, 'GROUP BY');
    throw err('UNSUPPORTED', e, `GROUP BY supports timestamp or frame (one group per frame); found ${show(e)}`, { found: formatExpression(e) });
  });
}

function bindOrderBy(query: SelectQueryNode, shape: QueryShape, outputs: readonly BoundOutput[], binder: ExpressionBinder): BoundOrderItem[] {
  if (query.orderBy.length > 0 && shape === 'aggregate') {
    throw err('INVALID_CLAUSE', query.orderBy[0], 'ORDER BY has nothing to order: an aggregate query returns one row', { found: 'ORDER BY' });
  }
  return query.orderBy.map((item) => {
    const e = item.expression;
    if (e.kind === 'number' && Number.isInteger(e.value)) {
      // SQL's ORDER BY <n>: the n-th output column.
      const output = outputs[e.value - 1];
      if (output === undefined) {
        throw err('INVALID_CLAUSE', e, `ORDER BY ${e.value}: there is no output column ${e.value} to order by (the query has ${outputs.length})`, {
          found: String(e.value),
        });
      }
      if (output.kind === 'aggregate') {
        throw err('UNSUPPORTED', e, `ORDER BY ${e.value}: ordering by an aggregate (${output.name}) is not supported`, { found: String(e.value) });
      }
      return BoundOrderItem.create(output.value, output.type, item.direction);
    }
    const b = binder.bind(e, 'ORDER BY');
    let value: BoundValue;
    let type: ColumnType;
    if (b.type === 'number') {
      value = b.value;
      type = b.numeric;
    } else if (b.type === 'class') {
      value = BoundValue.column('class');
      type = 'text';
    } else {
      throw err('TYPE_MISMATCH', e, `ORDER BY needs a column or a number expression, found ${describe(b)}`, { found: formatExpression(e) });
    }
    if (shape !== 'select-rows' && !(b.type === 'number' && isFrameLevel(value))) {
      throw err('INVALID_CLAUSE', e, `ORDER BY ${show(e)}: this query returns frames; order them by timestamp or frame`, { found: formatExpression(e) });
    }
    return BoundOrderItem.create(value, type, item.direction);
  });
}

/**
 * Resolves and checks a parsed statement against the catalog and the reference model.
 *
 * ```ts
 * const bound = bindQuery(parseQuery("SELECT timestamp FROM traffic WHERE class = 'car'"), context);
 * bound.shape;        // 'select-frames'
 * bound.classIds;     // [2]
 * bound.accuracy;     // { fnr: 0.01, fnrDefaulted: true, fpr: 0.01, fprDefaulted: true, precision: undefined,
 *                     //   confidence: 0.95, confidenceDefaulted: true, error: undefined, budget: undefined }
 * ```
 *
 * @throws QueryError `UNKNOWN_VIDEO`, `UNKNOWN_CLASS`, `UNKNOWN_COLUMN`, `UNKNOWN_FUNCTION`,
 *   `TYPE_MISMATCH`, `INVALID_CLAUSE` or `UNSUPPORTED`, with the position of the offending text.
 */
export function bindQuery(statement: Statement, context: BindContext): BoundQuery {
  const query = statement.kind === 'explain' ? statement.query : statement;
  const explain: ExplainMode = statement.kind === 'explain' ? (statement.analyze ? 'analyze' : 'plan') : 'none';
  const binder = new ExpressionBinder(context.labels);

  const video = bindVideo(query.from, context);
  const entries: SelectEntry[] = query.selection.map((item) => ({
    item,
    bound: item.kind === 'all-columns' ? undefined : binder.bind(item, 'SELECT'),
  }));
  const where = query.where === undefined ? BoundPredicate.constant(true) : binder.condition(query.where, 'WHERE');
  const star = entries.find((e) => e.item.kind === 'all-columns');
  const aggregates = entries.filter((e) => e.bound?.type === 'aggregate');

  const { shape, outputs, groupBy, having } = query.groupBy.length > 0 ? bindGrouped(query, entries, star, binder) : bindUngrouped(query, entries, star, aggregates);

  const orderBy = bindOrderBy(query, shape, outputs, binder);
  const limit = query.limit === undefined ? undefined : checkCount(query.limit);
  const gap = bindGap(query, shape);
  const accuracy = bindAccuracy(query.accuracy, shape, outputs);

  const trees: BoundTree[] = [{ kind: 'predicate', node: where }];
  if (having !== undefined) trees.push({ kind: 'frame-predicate', node: having });
  for (const o of outputs) {
    if (o.kind === 'value') trees.push({ kind: 'value', node: o.value });
    else if (o.aggregate.argument !== undefined) trees.push({ kind: 'value', node: o.aggregate.argument });
  }
  const classIds = classIdsOf(trees);

  const common = {
    video: Object.freeze({ name: video.name, path: video.path }),
    where,
    bounds: extractFrameBounds(where),
    classIds: Object.freeze(classIds),
    classNames: Object.freeze(classIds.map((id) => context.labels[id])),
    orderBy: Object.freeze(orderBy),
    limit,
    gap,
    accuracy,
    explain,
    text: formatQuery(query),
    statement,
  };
  switch (shape) {
    case 'grouped-limit':
      return Object.freeze({ shape, ...common, groupBy: Object.freeze(groupBy), having: having!, outputs: Object.freeze(outputs) });
    case 'aggregate':
      return Object.freeze({ shape, ...common, outputs: Object.freeze(outputs as AggregateOutput[]) });
    case 'select-frames':
      return Object.freeze({ shape, ...common, outputs: Object.freeze(outputs as ValueOutput[]) });
    case 'select-rows':
      return Object.freeze({ shape, ...common, outputs: Object.freeze(outputs as ValueOutput[]) });
  }
}

interface BoundShape {
  readonly shape: QueryShape;
  readonly outputs: BoundOutput[];
  readonly groupBy: ('frame' | 'timestamp')[];
  readonly having: BoundFramePredicate | undefined;
}

/** `GROUP BY timestamp [HAVING ...]`: frame-level outputs and per-frame aggregates. */
function bindGrouped(query: SelectQueryNode, entries: readonly SelectEntry[], star: SelectEntry | undefined, binder: ExpressionBinder): BoundShape {
  const groupBy = bindGroupBy(query.groupBy, binder);
  if (star !== undefined) throw err('INVALID_CLAUSE', star.item, 'SELECT * cannot be used with GROUP BY; select timestamp or frame', { found: '*' });
  const outputs = entries.map((entry) => {
    if (entry.bound?.type === 'aggregate') {
      if (entry.bound.aggregate.fn === 'fcount') {
        throw err('INVALID_CLAUSE', entry.bound.node, 'FCOUNT(*) averages over frames; per frame (GROUP BY timestamp) use COUNT(*)', {
          found: formatExpression(entry.bound.node),
        });
      }
      return aggregateOutput(entry);
    }
    const output = valueOutput(entry);
    if (!isFrameLevel(output.value)) {
      throw err('INVALID_CLAUSE', entry.bound!.node, `${show(entry.bound!.node)} has one value per object; with GROUP BY timestamp select timestamp, frame or an aggregate such as COUNT(*)`, {
        found: formatExpression(entry.bound!.node),
      });
    }
    return output;
  });
  const having = query.having === undefined ? BoundFramePredicate.countCompare(BoundPredicate.constant(true), '>=', 1) : bindHaving(query.having, binder);
  return { shape: 'grouped-limit', outputs, groupBy, having };
}

/** No GROUP BY: an aggregate query, a frame selection or object rows. */
function bindUngrouped(query: SelectQueryNode, entries: readonly SelectEntry[], star: SelectEntry | undefined, aggregates: readonly SelectEntry[]): BoundShape {
  if (query.having !== undefined) {
    throw err('INVALID_CLAUSE', query.having, 'HAVING needs GROUP BY timestamp: HAVING filters frames, WHERE filters objects', { found: 'HAVING' });
  }
  if (aggregates.length > 0) {
    const plain = entries.find((e) => e.bound?.type !== 'aggregate');
    if (plain !== undefined) {
      const what = plain.bound === undefined ? '*' : show(plain.bound.node);
      throw err('INVALID_CLAUSE', plain.item, `cannot mix aggregates and plain columns without GROUP BY: ${what} is not an aggregate, ${show(aggregates[0]!.bound!.node)} is`, {
        found: what,
      });
    }
    return { shape: 'aggregate', outputs: entries.map(aggregateOutput), groupBy: [], having: undefined };
  }
  const values = entries.flatMap((e) => (e.bound === undefined ? SELECT_ALL_COLUMNS.map((c) => BoundOutput.value(c, COLUMNS[c].type, BoundValue.column(c as BoundColumn))) : [valueOutput(e)]));
  const frameLevel = star === undefined && values.some((v) => columnsOfValue(v.value).size > 0) && values.every((v) => isFrameLevel(v.value));
  return { shape: frameLevel ? 'select-frames' : 'select-rows', outputs: values, groupBy: [], having: undefined };
}

/** `LIMIT k GAP g`: only with LIMIT, and only on queries that return frames. */
function bindGap(query: SelectQueryNode, shape: QueryShape): number | undefined {
  if (query.gap === undefined) return undefined;
  if (query.limit === undefined) {
    throw err('INVALID_CLAUSE', query.gap, 'GAP needs LIMIT: LIMIT k GAP g returns k frames at least g frames apart', { found: 'GAP' });
  }
  if (shape !== 'select-frames' && shape !== 'grouped-limit') {
    throw err('INVALID_CLAUSE', query.gap, 'GAP applies to queries that return frames, e.g. SELECT timestamp ... LIMIT 10 GAP 300', { found: 'GAP' });
  }
  return checkCount(query.gap);
}
