import { CstParser, type CstNode, type IToken } from 'chevrotain';
import {
  ALL_TOKENS,
  Analyze,
  And,
  Asc,
  At,
  Between,
  Budget,
  By,
  Comma,
  Confidence,
  Desc,
  Distinct,
  Equals,
  ErrorKeyword,
  Explain,
  Fnr,
  Fpr,
  From,
  Gap,
  Greater,
  GreaterEquals,
  Group,
  Having,
  Identifier,
  In,
  Less,
  LessEquals,
  Limit,
  LParen,
  Minus,
  Not,
  NotEquals,
  NumberLiteral,
  Or,
  Order,
  Percent,
  Plus,
  PrecisionTarget,
  QuotedIdentifier,
  RecallTarget,
  RParen,
  Select,
  Semicolon,
  Slash,
  Star,
  StringLiteral,
  Where,
  Within,
} from './tokens.js';
import { frameQLErrorProvider } from './syntax-errors.js';

/**
 * The FrameQL grammar. It only recognises: meaning is given by `cst-to-ast.ts`. Error recovery is
 * off; errors are collected in `errors` and turned into one `QueryError` by `syntax-errors.ts`.
 */
export class FrameQLParser extends CstParser {
  constructor() {
    super([...ALL_TOKENS], {
      maxLookahead: 3,
      recoveryEnabled: false,
      nodeLocationTracking: 'full',
      errorMessageProvider: frameQLErrorProvider,
    });
    this.performSelfAnalysis();
  }

  statement = this.RULE('statement', () => {
    this.OPTION(() => {
      this.CONSUME(Explain);
      this.OPTION2(() => this.CONSUME(Analyze));
    });
    this.SUBRULE(this.selectQuery);
    this.OPTION3(() => this.CONSUME(Semicolon));
  });

  selectQuery = this.RULE('selectQuery', () => {
    this.CONSUME(Select);
    this.SUBRULE(this.selectList);
    this.CONSUME(From);
    this.SUBRULE(this.videoSource);
    this.OPTION(() => {
      this.CONSUME(Where);
      this.SUBRULE(this.expression, { LABEL: 'where' });
    });
    this.OPTION2(() => {
      this.CONSUME(Group);
      this.CONSUME(By);
      this.SUBRULE(this.expressionList, { LABEL: 'groupBy' });
    });
    this.OPTION3(() => {
      this.CONSUME(Having);
      this.SUBRULE2(this.expression, { LABEL: 'having' });
    });
    this.OPTION4(() => {
      this.CONSUME(Order);
      this.CONSUME2(By);
      this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.orderItem) });
    });
    this.OPTION5(() => {
      this.CONSUME(Limit);
      this.SUBRULE(this.signedNumber, { LABEL: 'limit' });
    });
    this.OPTION6(() => {
      this.CONSUME(Gap);
      this.SUBRULE2(this.signedNumber, { LABEL: 'gap' });
    });
    this.MANY(() => this.SUBRULE(this.accuracyClause));
  });

  selectList = this.RULE('selectList', () => {
    this.OR([{ ALT: () => this.CONSUME(Star) }, { ALT: () => this.SUBRULE(this.expressionList) }]);
  });

  videoSource = this.RULE('videoSource', () => {
    this.OR([
      { ALT: () => this.CONSUME(Identifier) },
      { ALT: () => this.CONSUME(QuotedIdentifier) },
      { ALT: () => this.CONSUME(StringLiteral) },
    ]);
  });

  orderItem = this.RULE('orderItem', () => {
    this.SUBRULE(this.expression);
    this.OPTION(() => {
      this.OR([{ ALT: () => this.CONSUME(Asc) }, { ALT: () => this.CONSUME(Desc) }]);
    });
  });

  accuracyClause = this.RULE('accuracyClause', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Fnr);
          this.CONSUME(Within);
          this.SUBRULE(this.rate, { LABEL: 'fnr' });
          this.OPTION(() => this.SUBRULE(this.atConfidence, { LABEL: 'confidence' }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(Fpr);
          this.CONSUME2(Within);
          this.SUBRULE2(this.rate, { LABEL: 'fpr' });
          this.OPTION2(() => this.SUBRULE2(this.atConfidence, { LABEL: 'confidence' }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(RecallTarget);
          this.SUBRULE3(this.rate, { LABEL: 'recall' });
          this.OPTION3(() => this.SUBRULE(this.bareConfidence, { LABEL: 'confidence' }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(PrecisionTarget);
          this.SUBRULE4(this.rate, { LABEL: 'precision' });
          this.OPTION4(() => this.SUBRULE2(this.bareConfidence, { LABEL: 'confidence' }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(ErrorKeyword);
          this.CONSUME3(Within);
          this.SUBRULE(this.signedNumber, { LABEL: 'error' });
          this.OPTION5(() => this.SUBRULE3(this.atConfidence, { LABEL: 'confidence' }));
        },
      },
      {
        ALT: () => {
          this.CONSUME(Budget);
          this.SUBRULE2(this.signedNumber, { LABEL: 'budget' });
        },
      },
    ]);
  });

  /** `AT CONFIDENCE p`, after `FNR WITHIN`, `FPR WITHIN` and `ERROR WITHIN`. */
  atConfidence = this.RULE('atConfidence', () => {
    this.CONSUME(At);
    this.CONSUME(Confidence);
    this.SUBRULE(this.rate);
  });

  /** `CONFIDENCE p`, after AIDB's `RECALL_TARGET` and `PRECISION_TARGET`. */
  bareConfidence = this.RULE('bareConfidence', () => {
    this.CONSUME(Confidence);
    this.SUBRULE(this.rate);
  });

  /** A number, optionally a percentage: `0.95` or `95%`. */
  rate = this.RULE('rate', () => {
    this.SUBRULE(this.signedNumber);
    this.OPTION(() => this.CONSUME(Percent));
  });

  signedNumber = this.RULE('signedNumber', () => {
    this.OPTION(() => {
      this.OR([{ ALT: () => this.CONSUME(Minus) }, { ALT: () => this.CONSUME(Plus) }]);
    });
    this.CONSUME(NumberLiteral);
  });

  expressionList = this.RULE('expressionList', () => {
    this.AT_LEAST_ONE_SEP({ SEP: Comma, DEF: () => this.SUBRULE(this.expression) });
  });

  expression = this.RULE('expression', () => {
    this.SUBRULE(this.orExpression);
  });

  orExpression = this.RULE('orExpression', () => {
    this.AT_LEAST_ONE_SEP({ SEP: Or, DEF: () => this.SUBRULE(this.andExpression) });
  });

  andExpression = this.RULE('andExpression', () => {
    this.AT_LEAST_ONE_SEP({ SEP: And, DEF: () => this.SUBRULE(this.notExpression) });
  });

  notExpression = this.RULE('notExpression', () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Not);
          this.SUBRULE(this.notExpression);
        },
      },
      { ALT: () => this.SUBRULE(this.predicate) },
    ]);
  });

  predicate = this.RULE('predicate', () => {
    this.SUBRULE(this.additive, { LABEL: 'operand' });
    this.OPTION(() => {
      this.OR([
        {
          ALT: () => {
            this.SUBRULE(this.comparisonOperator);
            this.SUBRULE2(this.additive, { LABEL: 'right' });
          },
        },
        {
          ALT: () => {
            this.OPTION2(() => this.CONSUME(Not));
            this.CONSUME(Between);
            this.SUBRULE3(this.additive, { LABEL: 'low' });
            this.CONSUME(And);
            this.SUBRULE4(this.additive, { LABEL: 'high' });
          },
        },
        {
          ALT: () => {
            this.OPTION3(() => this.CONSUME2(Not));
            this.CONSUME(In);
            this.CONSUME(LParen);
            this.SUBRULE(this.expressionList, { LABEL: 'values' });
            this.CONSUME(RParen);
          },
        },
      ]);
    });
  });

  comparisonOperator = this.RULE('comparisonOperator', () => {
    this.OR([
      { ALT: () => this.CONSUME(Equals) },
      { ALT: () => this.CONSUME(NotEquals) },
      { ALT: () => this.CONSUME(LessEquals) },
      { ALT: () => this.CONSUME(GreaterEquals) },
      { ALT: () => this.CONSUME(Less) },
      { ALT: () => this.CONSUME(Greater) },
    ]);
  });

  additive = this.RULE('additive', () => {
    this.SUBRULE(this.multiplicative, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(Plus, { LABEL: 'operators' }) }, { ALT: () => this.CONSUME(Minus, { LABEL: 'operators' }) }]);
      this.SUBRULE2(this.multiplicative, { LABEL: 'operands' });
    });
  });

  multiplicative = this.RULE('multiplicative', () => {
    this.SUBRULE(this.unary, { LABEL: 'operands' });
    this.MANY(() => {
      this.OR([{ ALT: () => this.CONSUME(Star, { LABEL: 'operators' }) }, { ALT: () => this.CONSUME(Slash, { LABEL: 'operators' }) }]);
      this.SUBRULE2(this.unary, { LABEL: 'operands' });
    });
  });

  unary = this.RULE('unary', () => {
    this.OR([
      {
        ALT: () => {
          this.OR2([{ ALT: () => this.CONSUME(Minus, { LABEL: 'sign' }) }, { ALT: () => this.CONSUME(Plus, { LABEL: 'sign' }) }]);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.primary) },
    ]);
  });

  primary = this.RULE('primary', () => {
    this.OR([
      { ALT: () => this.CONSUME(NumberLiteral) },
      { ALT: () => this.CONSUME(StringLiteral) },
      {
        ALT: () => {
          this.CONSUME(LParen);
          this.SUBRULE(this.expression);
          this.CONSUME(RParen);
        },
      },
      { ALT: () => this.SUBRULE(this.nameOrCall) },
    ]);
  });

  nameOrCall = this.RULE('nameOrCall', () => {
    this.OR([{ ALT: () => this.CONSUME(Identifier) }, { ALT: () => this.CONSUME(QuotedIdentifier) }]);
    this.OPTION(() => {
      this.CONSUME(LParen);
      this.OPTION2(() => {
        this.OR2([
          { ALT: () => this.CONSUME(Star) },
          {
            ALT: () => {
              this.CONSUME(Distinct);
              this.SUBRULE(this.expressionList, { LABEL: 'args' });
            },
          },
          { ALT: () => this.SUBRULE2(this.expressionList, { LABEL: 'args' }) },
        ]);
      });
      this.CONSUME(RParen);
    });
  });
}

/** The one parser instance; `input` is reset for every query. */
export const frameQLParser = new FrameQLParser();

/** Parses `tokens` from the start rule; returns the CST and the errors collected (not thrown). */
export function recognise(tokens: IToken[]): CstNode {
  frameQLParser.input = tokens;
  return frameQLParser.statement();
}
