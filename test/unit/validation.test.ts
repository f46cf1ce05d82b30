import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { ValidationError } from '../../src/core/errors.js';
import { parseInput, unstorableInputErrors, unstorableTextProblem } from '../../src/core/validation.js';

// What no domain input may hold, whichever protocol brought it (REST, GraphQL literals and variables, websockets).

describe('unstorableTextProblem', () => {
  test('refuses NUL and unpaired surrogates; accepts surrogate pairs and other control characters', () => {
    expect(unstorableTextProblem('a\u0000b')).toBe('must not contain NUL characters (U+0000)');
    expect(unstorableTextProblem('\ud800')).toBe('must not contain unpaired UTF-16 surrogates');
    expect(unstorableTextProblem('x\udc00')).toBe('must not contain unpaired UTF-16 surrogates');
    expect(unstorableTextProblem('\udc00\ud800')).toBe('must not contain unpaired UTF-16 surrogates'); // reversed pair
    expect(unstorableTextProblem('😀 \u0001\t\uFFFD é')).toBeNull();
  });
});

describe('unstorableInputErrors', () => {
  test('names every bad value and key by its path, in objects without a prototype too', () => {
    const query = Object.assign(Object.create(null), { cursor: '\u0000' });
    expect(unstorableInputErrors(query)).toEqual([
      { path: 'cursor', message: 'must not contain NUL characters (U+0000)' },
    ]);
    expect(
      unstorableInputErrors({ items: [{ description: 'ok' }, { description: '\ud800' }], data: { '\u0000': 1 } }),
    ).toEqual([
      { path: 'data.\u0000', message: 'has a key that must not contain NUL characters (U+0000)' },
      { path: 'items[1].description', message: 'must not contain unpaired UTF-16 surrogates' },
    ]);
  });

  test('nesting beyond the limit is named where it starts, without recursion', () => {
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(unstorableInputErrors({ customData: { a: deep } })).toEqual([
      { path: `customData.a${'[0]'.repeat(62)}`, message: 'nests deeper than 64 levels' },
    ]);
    expect(unstorableInputErrors([[['x']]], 3)).toEqual([]);
    expect(unstorableInputErrors([[[['x']]]], 3)).toEqual([
      { path: '[0][0][0]', message: 'nests deeper than 3 levels' },
    ]);
  });

  test('leaves Dates, numbers and other non-JSON objects alone', () => {
    expect(unstorableInputErrors({ at: new Date(0), n: 1, b: Buffer.from([0]), nothing: null })).toEqual([]);
  });
});

describe('parseInput', () => {
  test('refuses unstorable text before the schema sees it', () => {
    const schema = z.object({ firstName: z.string(), customData: z.record(z.string(), z.json()) });
    expect(() => parseInput(schema, { firstName: 'a\u0000', customData: {} })).toThrow(ValidationError);
    try {
      parseInput(schema, { firstName: 'Ada', customData: { x: '\ud800' } });
    } catch (error) {
      expect((error as ValidationError).errors).toEqual([
        { path: 'customData.x', message: 'must not contain unpaired UTF-16 surrogates' },
      ]);
    }
    expect(parseInput(schema, { firstName: 'Ada 😀', customData: { x: 'ok' } })).toEqual({
      firstName: 'Ada 😀',
      customData: { x: 'ok' },
    });
  });
});
