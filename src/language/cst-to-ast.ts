import type { CstNode, IToken } from 'chevrotain';
import type { SourcePosition } from '../errors.js';
import {
  AllColumnsNode,
  AndNode,
  ArithmeticNode,
  BetweenNode,
  BudgetNode,
  CallNode,
  ComparisonNode,
  CountClauseNode,
  ErrorTargetNode,
  ExplainNode,
  IdentifierNode,
  InListNode,
  NegateNode,
  NotNode,
  NumberNode,
  OrderByItemNode,
  OrNode,
  RateTargetNode,
  SelectQueryNode,
  SourceSpan,
  StarNode,
  StringNode,
  VideoNameNode,
  VideoPathNode,
  type AccuracyClause,
  type ArithmeticOperator,
  type ComparisonOperator,
  type Expression,
  type RateTargetKind,
  type SelectItem,
  type Statement,
  type VideoSource,
} from './ast-node.js';
import { frameQLParser } from './parser.js';
import { queryError } from './query-error.js';
import { tokenEnd, tokenStart } from './syntax-errors.js';

/** Deepest expression tree accepted; keeps every later recursive pass far from the stack limit. */
export const MAX_EXPRESSION_DEPTH = 256;

type Children = Record<string, (CstNode | IToken)[] | undefined>;

function nodes(ctx: Children, key: string): CstNode[] {
  return (ctx[key] ?? []) as CstNode[];
}

function node(ctx: Children, key: string): CstNode {
  return nodes(ctx, key)[0];
}

function tokens(ctx: Children, key: string): IToken[] {
  return (ctx[key] ?? []) as IToken[];
}

function token(ctx: Children, key: string): IToken | undefined {
  return tokens(ctx, key)[0];
}

function tokenSpan(t: IToken): SourceSpan {
  return SourceSpan.create(tokenStart(t), tokenEnd(t));
}

function nodeSpan(cst: CstNode): SourceSpan {
  const l = cst.location!;
  const start: SourcePosition = Object.freeze({ line: l.startLine ?? 1, column: l.startColumn ?? 1, offset: l.startOffset });
  const end: SourcePosition = Object.freeze({
    line: l.endLine ?? start.line,
    column: (l.endColumn ?? start.column - 1) + 1,
    offset: (Number.isNaN(l.endOffset) ? l.startOffset - 1 : (l.endOffset ?? l.startOffset - 1)) + 1,
  });
  return SourceSpan.create(start, end);
}

function unquote(image: string, quote: string): string {
  return image.slice(1, -1).split(quote + quote).join(quote);
}

const COMPARISON_OPS: Readonly<Record<string, ComparisonOperator>> = {
  Equals: '=',
  NotEquals: '!=',
  Less: '<',
  LessEquals: '<=',
  Greater: '>',
  GreaterEquals: '>=',
};

/** The rate labels of the `accuracyClause` rule and the clauses they make. */
const RATE_TARGETS: readonly (readonly [string, RateTargetKind])[] = [
  ['fnr', 'fnr-within'],
  ['fpr', 'fpr-within'],
  ['recall', 'recall-target'],
  ['precision', 'precision-target'],
];

/** A confidence as written: its value and the span of the number. */
interface WrittenRate {
  readonly value: number;
  readonly span: SourceSpan;
}

const BaseVisitor = frameQLParser.getBaseCstVisitorConstructor<undefined, unknown>();

/**
 * Gives the recognised CST its meaning: folds signs into literals, flattens AND/OR chains,
 * normalises `95%` to 0.95 and `<>` to `!=`, and records every node's source span.
 */
class CstToAst extends BaseVisitor {
  private readonly depths = new WeakMap<object, number>();

  constructor() {
    super();
    this.validateVisitor();
  }

  private depthOf(e: object): number {
    return this.depths.get(e) ?? 1;
  }

  /** Records an expression's depth; rejects trees deeper than {@link MAX_EXPRESSION_DEPTH}. */
  private track<T extends Expression>(e: T, children: readonly object[]): T {
    let depth = 0;
    for (const c of children) depth = Math.max(depth, this.depthOf(c));
    depth += 1;
    if (depth > MAX_EXPRESSION_DEPTH) {
      throw queryError('QUERY_TOO_COMPLEX', e.span.start, `expression nested more than ${MAX_EXPRESSION_DEPTH} levels deep; simplify the query`);
    }
    this.depths.set(e, depth);
    return e;
  }

  private expr(cst: CstNode): Expression {
    return this.visit(cst) as Expression;
  }

  statement(ctx: Children): Statement {
    const query = this.visit(node(ctx, 'selectQuery')) as SelectQueryNode;
    const explain = token(ctx, 'Explain');
    if (explain === undefined) return query;
    return ExplainNode.create(query, token(ctx, 'Analyze') !== undefined, SourceSpan.join(tokenSpan(explain), query.span));
  }

  selectQuery(ctx: Children): SelectQueryNode {
    const select = token(ctx, 'Select')!;
    const parts: Parameters<typeof SelectQueryNode.create>[0] = {
      selection: this.visit(node(ctx, 'selectList')) as SelectItem[],
      from: this.visit(node(ctx, 'videoSource')) as VideoSource,
      span: tokenSpan(select),
    };
    let last: { span: SourceSpan } = parts.from;
    if (ctx.where) last = parts.where = this.expr(node(ctx, 'where'));
    if (ctx.groupBy) {
      parts.groupBy = this.visit(node(ctx, 'groupBy')) as Expression[];
      last = parts.groupBy[parts.groupBy.length - 1];
    }
    if (ctx.having) last = parts.having = this.expr(node(ctx, 'having'));
    if (ctx.orderItem) {
      parts.orderBy = nodes(ctx, 'orderItem').map((n) => this.visit(n) as OrderByItemNode);
      last = parts.orderBy[parts.orderBy.length - 1];
    }
    if (ctx.limit) {
      last = parts.limit = CountClauseNode.create(
        'limit',
        this.visit(node(ctx, 'limit')) as number,
        SourceSpan.join(tokenSpan(token(ctx, 'Limit')!), nodeSpan(node(ctx, 'limit'))),
      );
    }
    if (ctx.gap) {
      last = parts.gap = CountClauseNode.create(
        'gap',
        this.visit(node(ctx, 'gap')) as number,
        SourceSpan.join(tokenSpan(token(ctx, 'Gap')!), nodeSpan(node(ctx, 'gap'))),
      );
    }
    if (ctx.accuracyClause) {
      parts.accuracy = nodes(ctx, 'accuracyClause').map((n) => this.visit(n) as AccuracyClause);
      last = parts.accuracy[parts.accuracy.length - 1];
    }
    parts.span = SourceSpan.join(tokenSpan(select), last.span);
    return SelectQueryNode.create(parts);
  }

  selectList(ctx: Children): SelectItem[] {
    const star = token(ctx, 'Star');
    if (star !== undefined) return [AllColumnsNode.create(tokenSpan(star))];
    return this.visit(node(ctx, 'expressionList')) as Expression[];
  }

  videoSource(ctx: Children): VideoSource {
    const plain = token(ctx, 'Identifier');
    if (plain !== undefined) return VideoNameNode.create(plain.image, false, tokenSpan(plain));
    const quoted = token(ctx, 'QuotedIdentifier');
    if (quoted !== undefined) return VideoNameNode.create(unquote(quoted.image, '"'), true, tokenSpan(quoted));
    const path = token(ctx, 'StringLiteral')!;
    return VideoPathNode.create(unquote(path.image, "'"), tokenSpan(path));
  }

  orderItem(ctx: Children): OrderByItemNode {
    const expression = this.expr(node(ctx, 'expression'));
    const desc = token(ctx, 'Desc');
    const dir = desc ?? token(ctx, 'Asc');
    const span = dir === undefined ? expression.span : SourceSpan.join(expression.span, tokenSpan(dir));
    return OrderByItemNode.create(expression, desc !== undefined ? 'desc' : 'asc', dir !== undefined, span);
  }

  accuracyClause(ctx: Children): AccuracyClause {
    const first = (ctx.Fnr ?? ctx.Fpr ?? ctx.RecallTarget ?? ctx.PrecisionTarget ?? ctx.Error ?? ctx.Budget)![0] as IToken;
    const span = (end: CstNode): SourceSpan => SourceSpan.join(tokenSpan(first), nodeSpan(end));
    if (ctx.budget) return BudgetNode.create(this.visit(node(ctx, 'budget')) as number, span(node(ctx, 'budget')));
    const confidenceNode = ctx.confidence ? node(ctx, 'confidence') : undefined;
    const confidence = confidenceNode === undefined ? undefined : (this.visit(confidenceNode) as WrittenRate);
    for (const [label, kind] of RATE_TARGETS) {
      if (!ctx[label]) continue;
      const valueNode = node(ctx, label);
      return RateTargetNode.create(kind, this.visit(valueNode) as number, confidence?.value, {
        span: span(confidenceNode ?? valueNode),
        confidenceSpan: confidence?.span,
      });
    }
    const errorNode = node(ctx, 'error');
    return ErrorTargetNode.create(this.visit(errorNode) as number, confidence?.value, {
      span: span(confidenceNode ?? errorNode),
      errorSpan: nodeSpan(errorNode),
      confidenceSpan: confidence?.span,
    });
  }

  atConfidence(ctx: Children): WrittenRate {
    return this.confidenceRate(ctx);
  }

  bareConfidence(ctx: Children): WrittenRate {
    return this.confidenceRate(ctx);
  }

  private confidenceRate(ctx: Children): WrittenRate {
    const rate = node(ctx, 'rate');
    return { value: this.visit(rate) as number, span: nodeSpan(rate) };
  }

  rate(ctx: Children): number {
    const value = this.visit(node(ctx, 'signedNumber')) as number;
    if (!ctx.Percent) return value;
    // Shift the decimal point in the text, so that `99.9%` is exactly 0.999 (99.9 / 100 is not).
    const signed = node(ctx, 'signedNumber').children;
    const literal = token(signed as Children, 'NumberLiteral')!.image;
    const [mantissa, exponent = '0'] = literal.split(/[eE]/);
    const shifted = Number(`${mantissa}e${Number(exponent) - 2}`);
    return signed.Minus ? 0 - shifted : shifted;
  }

  signedNumber(ctx: Children): number {
    const literal = token(ctx, 'NumberLiteral')!;
    const value = numberValue(literal);
    return ctx.Minus ? 0 - value : value;
  }

  expressionList(ctx: Children): Expression[] {
    return nodes(ctx, 'expression').map((n) => this.expr(n));
  }

  expression(ctx: Children): Expression {
    return this.expr(node(ctx, 'orExpression'));
  }

  orExpression(ctx: Children): Expression {
    const operands = nodes(ctx, 'andExpression').map((n) => this.expr(n));
    if (operands.length === 1) return operands[0];
    return this.track(OrNode.create(operands), operands);
  }

  andExpression(ctx: Children): Expression {
    const operands = nodes(ctx, 'notExpression').map((n) => this.expr(n));
    if (operands.length === 1) return operands[0];
    return this.track(AndNode.create(operands), operands);
  }

  notExpression(ctx: Children): Expression {
    const not = token(ctx, 'Not');
    if (not === undefined) return this.expr(node(ctx, 'predicate'));
    const operand = this.expr(node(ctx, 'notExpression'));
    return this.track(NotNode.create(operand, SourceSpan.join(tokenSpan(not), operand.span)), [operand]);
  }

  predicate(ctx: Children): Expression {
    const operand = this.expr(node(ctx, 'operand'));
    if (ctx.comparisonOperator) {
      const opToken = this.visit(node(ctx, 'comparisonOperator')) as IToken;
      const right = this.expr(node(ctx, 'right'));
      const e = ComparisonNode.create(COMPARISON_OPS[opToken.tokenType.name], operand, right, undefined, tokenSpan(opToken));
      return this.track(e, [operand, right]);
    }
    const negated = ctx.Not !== undefined;
    if (ctx.Between) {
      const low = this.expr(node(ctx, 'low'));
      const high = this.expr(node(ctx, 'high'));
      return this.track(BetweenNode.create(operand, low, high, negated), [operand, low, high]);
    }
    if (ctx.In) {
      const values = this.visit(node(ctx, 'values')) as Expression[];
      const span = SourceSpan.join(operand.span, tokenSpan(token(ctx, 'RParen')!));
      return this.track(InListNode.create(operand, values, negated, span), [operand, ...values]);
    }
    return operand;
  }

  comparisonOperator(ctx: Children): IToken {
    return Object.values(ctx).flat()[0] as IToken;
  }

  additive(ctx: Children): Expression {
    return this.leftFold(ctx);
  }

  multiplicative(ctx: Children): Expression {
    return this.leftFold(ctx);
  }

  private leftFold(ctx: Children): Expression {
    const operands = nodes(ctx, 'operands').map((n) => this.expr(n));
    const operators = tokens(ctx, 'operators');
    let left = operands[0];
    for (let i = 0; i < operators.length; i++) {
      const right = operands[i + 1];
      left = this.track(ArithmeticNode.create(operators[i].image as ArithmeticOperator, left, right), [left, right]);
    }
    return left;
  }

  unary(ctx: Children): Expression {
    const sign = token(ctx, 'sign');
    if (sign === undefined) return this.expr(node(ctx, 'primary'));
    const operand = this.expr(node(ctx, 'unary'));
    const span = SourceSpan.join(tokenSpan(sign), operand.span);
    if (sign.image === '+') return operand;
    if (operand.kind === 'number') return NumberNode.create(0 - operand.value, span);
    return this.track(NegateNode.create(operand, span), [operand]);
  }

  primary(ctx: Children): Expression {
    const number = token(ctx, 'NumberLiteral');
    if (number !== undefined) return NumberNode.create(numberValue(number), tokenSpan(number));
    const string = token(ctx, 'StringLiteral');
    if (string !== undefined) return StringNode.create(unquote(string.image, "'"), tokenSpan(string));
    if (ctx.expression) return this.expr(node(ctx, 'expression'));
    return this.expr(node(ctx, 'nameOrCall'));
  }

  nameOrCall(ctx: Children): Expression {
    const plain = token(ctx, 'Identifier');
    const nameToken = plain ?? token(ctx, 'QuotedIdentifier')!;
    const name = plain !== undefined ? plain.image : unquote(nameToken.image, '"');
    const nameSpan = tokenSpan(nameToken);
    if (!ctx.LParen) return IdentifierNode.create(name, plain === undefined, nameSpan);
    const star = token(ctx, 'Star');
    const args = star !== undefined ? [StarNode.create(tokenSpan(star))] : ctx.args ? (this.visit(node(ctx, 'args')) as Expression[]) : [];
    const span = SourceSpan.join(nameSpan, tokenSpan(token(ctx, 'RParen')!));
    const call = CallNode.create(name, args, { distinct: ctx.Distinct !== undefined, span, nameSpan });
    return this.track(call, args);
  }
}

function numberValue(literal: IToken): number {
  const value = Number(literal.image);
  if (!Number.isFinite(value)) {
    throw queryError('NUMBER_OUT_OF_RANGE', tokenStart(literal), `number ${abbreviate(literal.image)} is too large`, {
      found: literal.image,
    });
  }
  return value;
}

function abbreviate(s: string): string {
  return s.length > 24 ? `${s.slice(0, 21)}...` : s;
}

const cstToAstVisitor = new CstToAst();

/** Builds the AST from a successfully recognised `statement` CST. Throws `QueryError` for bad literals or depth. */
export function cstToAst(cst: CstNode): Statement {
  return cstToAstVisitor.visit(cst) as Statement;
}
