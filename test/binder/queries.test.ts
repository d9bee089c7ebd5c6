import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bindQuery } from '../../src/binder/index.js';
import { formatQuery, parseQuery } from '../../src/language/index.js';
import { stripSpans } from '../language/ast-helpers.js';
import { fakeContext } from './fake-context.js';

const QUERIES_DIR = new URL('../../queries/', import.meta.url);

const files = readdirSync(QUERIES_DIR)
  .filter((f) => f.endsWith('.sql'))
  .sort()
  .map((file) => {
    const text = readFileSync(new URL(file, QUERIES_DIR), 'utf8');
    const shape = /^--\s*shape:\s*(\S+)/m.exec(text)?.[1];
    return { file, text, shape };
  });

describe('queries/*.sql', () => {
  it('holds the FRAMEQL.md examples', () => {
    expect(files.length).toBeGreaterThanOrEqual(10);
  });

  it.each(files)('$file parses, binds to its shape and round-trips', ({ file, text, shape }) => {
    expect(text.startsWith('--'), `${file} starts with a comment header`).toBe(true);
    expect(shape, `${file} names its shape`).toBeDefined();
    const statement = parseQuery(text);
    const bound = bindQuery(statement, fakeContext());
    expect(bound.shape).toBe(shape);
    expect(stripSpans(parseQuery(formatQuery(statement)))).toEqual(stripSpans(statement));
    expect(stripSpans(parseQuery(bound.text))).toEqual(stripSpans(statement.kind === 'explain' ? statement.query : statement));
  });
});
