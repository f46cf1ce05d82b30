import { describe, expect, test } from 'vitest';
import { InvalidRequestError, ValidationError } from '../../src/core/errors.js';
import { exactNumberProblem, parseJsonBody, scanJson } from '../../src/http/input.js';

// The request-body rules of src/http/input.ts: depth over the raw text, exact numbers, unstorable text.

const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);

function refusal(text: string): { error: unknown; errors?: unknown } {
  try {
    parseJsonBody(text);
  } catch (error) {
    return { error, errors: (error as ValidationError).errors };
  }
  throw new Error(`accepted: ${text.slice(0, 80)}`);
}

describe('scanJson', () => {
  test('counts nesting without recursion: 64 levels pass, 65 do not, 100 000 do not overflow the stack', () => {
    expect(scanJson(nested(64)).tooDeep).toBe(false);
    expect(scanJson(nested(65)).tooDeep).toBe(true);
    expect(scanJson(`{"a":${'{"b":'.repeat(64)}1${'}'.repeat(65)}`).tooDeep).toBe(true);
    expect(scanJson(nested(100_000)).tooDeep).toBe(true);
    expect(scanJson(nested(10), 9).tooDeep).toBe(true);
  });

  test('brackets inside strings, also after escaped quotes and backslashes, do not count', () => {
    expect(scanJson(JSON.stringify({ a: '['.repeat(1000), b: '\\"[[[[', c: ['\\'] }), 3).tooDeep).toBe(false);
  });

  test('flags numbers a double would change, not those it keeps', () => {
    for (const exact of [
      '1',
      '-0',
      '0.1',
      '149.99',
      '1.50',
      '1e2',
      '123456789012345',
      '12.5000000000000000000',
      '5e-324',
      '1.7976931348623157e308',
    ]) {
      expect(scanJson(`[${exact}]`).inexactNumber, exact).toBe(false);
    }
    for (const inexact of [
      '0.99999999999999999999',
      '1e400',
      '-1e400',
      '1e-400',
      '9007199254740993',
      '12345678901234567890',
    ]) {
      expect(scanJson(`{"n":${inexact}}`).inexactNumber, inexact).toBe(true);
    }
    // Digits inside strings are text.
    expect(scanJson('{"n":"0.99999999999999999999"}').inexactNumber).toBe(false);
  });

  test('flags \\u0000 and unpaired surrogate escapes; not escaped pairs, nor an escaped backslash followed by u0000', () => {
    expect(scanJson('{"a":"x\\u0000"}').unstorableEscape).toBe(true);
    expect(scanJson('{"a":"\\uD800"}').unstorableEscape).toBe(true);
    expect(scanJson('{"a":"\\udfff"}').unstorableEscape).toBe(true);
    expect(scanJson('{"a":"\\\\u0000"}').unstorableEscape).toBe(false);
    expect(scanJson('{"a":"\\u00e9\\u20ac"}').unstorableEscape).toBe(false);
    expect(scanJson('{"a":"\\ud83d\\ude00 \\uD83D\\uDE00"}').unstorableEscape).toBe(false); // escaped pairs
    expect(scanJson('{"a":"\\ud83d\\u0041"}').unstorableEscape).toBe(true); // a high half, then no low half
    expect(scanJson('{"a":"\\ude00\\ud83d"}').unstorableEscape).toBe(true); // reversed
  });
});

describe('exactNumberProblem', () => {
  test('is null for numbers whose double prints as the same number', () => {
    for (const text of [
      '0',
      '-0',
      '0.0',
      '1.10',
      '3.14159',
      '1E+2',
      '100e-2',
      '9007199254740992',
      '0.30000000000000004',
    ]) {
      expect(exactNumberProblem(text), text).toBeNull();
    }
  });

  test('names the number and what it would become', () => {
    expect(exactNumberProblem('0.99999999999999999999')).toBe(
      '0.99999999999999999999 cannot be represented exactly as a number (it would become 1); send it as a decimal string',
    );
    expect(exactNumberProblem('1e400')).toMatch(/^1e400 cannot be represented exactly .*Infinity/);
    expect(exactNumberProblem('1e-400')).toMatch(/it would become 0\)/);
  });
});

describe('parseJsonBody', () => {
  test('parses ordinary JSON as JSON.parse does', () => {
    const body = { firstName: 'Zoë', emoji: '😀', n: [1, 2.5, -3e2, 0.1], nested: { a: null, b: true } };
    expect(parseJsonBody(JSON.stringify(body))).toEqual(body);
    expect(parseJsonBody('{"escaped":"\\ud83d\\ude00 \\\\u0000"}')).toEqual({ escaped: '😀 \\u0000' });
  });

  test('too deep is invalid_request, checked before JSON.parse', () => {
    const { error } = refusal(nested(5000));
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toBe('The request body nests deeper than 64 levels.');
  });

  test('invalid JSON is invalid_request', () => {
    expect(refusal('{"a":').error).toBeInstanceOf(InvalidRequestError);
  });

  test('inexact numbers are validation_failed naming each path', () => {
    const { error, errors } = refusal(
      '{"items":[{"quantity":2},{"quantity":0.99999999999999999999,"price":1e400}],"n":1}',
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(errors).toEqual([
      {
        path: 'items[1].quantity',
        message: expect.stringMatching(/^0\.99999999999999999999 cannot be represented exactly/),
      },
      { path: 'items[1].price', message: expect.stringMatching(/^1e400 cannot be represented exactly/) },
    ]);
  });

  test('decimal strings stay accepted', () => {
    expect(parseJsonBody('{"quantity":"0.99999999999999999999"}')).toEqual({ quantity: '0.99999999999999999999' });
  });

  test('NUL and unpaired surrogates in values and keys are validation_failed naming each path; pairs pass', () => {
    const { error, errors } = refusal(
      '{"firstName":"a\\u0000","customData":{"k":["ok","\\ud800x"],"\\udc00":1},"emoji":"\\ud83d\\ude00"}',
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect(errors).toEqual([
      { path: 'firstName', message: 'must not contain NUL characters (U+0000)' },
      { path: 'customData.\udc00', message: 'has a key that must not contain unpaired UTF-16 surrogates' },
      { path: 'customData.k[1]', message: 'must not contain unpaired UTF-16 surrogates' },
    ]);
  });

  test('a number and a string problem in one body are both named', () => {
    expect(refusal('{"a":1e400,"b":"\\u0000"}').errors).toEqual([
      { path: 'a', message: expect.stringContaining('cannot be represented exactly') },
      { path: 'b', message: 'must not contain NUL characters (U+0000)' },
    ]);
  });
});
