export * from './ast-node.js';
export { parseQuery, MAX_NESTING_DEPTH } from './parse-query.js';
export { MAX_EXPRESSION_DEPTH } from './cst-to-ast.js';
export { formatQuery, formatExpression, formatName, formatString, formatNumber } from './format-query.js';
export { QUERY_ERROR_CODES, type QueryErrorCode, queryError, didYouMean, listAlternatives } from './query-error.js';
export { closestNames } from './suggest.js';
export { RESERVED_WORDS } from './tokens.js';
