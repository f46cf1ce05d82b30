import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { InvalidIdError, InvalidRequestError, ValidationError } from '../../src/core/errors.js';
import {
  decodeKeysetCursor,
  encodeKeysetCursor,
  isKeysetCursor,
  isPageSize,
  keysetAfter,
  keysetSlice,
  NOT_A_CURSOR,
  PAGE_SIZE,
  pageSize,
  pageSizeRule,
  pageSizeSchema,
} from '../../src/core/paging.js';
import { page, pageArgs, PageQuery } from '../../src/http/pagination.js';

// The one page-size rule (1 to 500, 50 when not asked, never clamped) and the keyset cursor: REST's
// base64url of the last id, GraphQL's bare id.

const CONTACT_ID = 'contact_01JAAAAAAAAAAAAAAAAAAAAAAA';
const RULE = 'must be an integer from 1 to 500 (default 50)';

describe('page size', () => {
  test('1 to 500, 50 when not asked', () => {
    expect(PAGE_SIZE).toEqual({ min: 1, max: 500, default: 50 });
    expect(pageSize(undefined, 'first')).toBe(50);
    expect(pageSize(null, 'first')).toBe(50);
    expect(pageSize(1, 'first')).toBe(1);
    expect(pageSize(500, 'first')).toBe(500);
    for (const ok of [null, undefined, 1, 250, 500]) expect(isPageSize(ok)).toBe(true);
    for (const bad of [0, -1, 501, 1.5, Number.NaN, Infinity, '10', 1_000_000_000]) expect(isPageSize(bad)).toBe(false);
  });

  test('a size out of the rule is refused with the one text, never clamped', () => {
    expect(pageSizeRule()).toBe(RULE);
    for (const bad of [0, 501, 2.5, '10']) {
      expect(() => pageSize(bad, '"first" of contacts')).toThrow(InvalidRequestError);
      expect(() => pageSize(bad, '"first" of contacts')).toThrow(
        `"first" of contacts ${RULE}; got ${JSON.stringify(bad)}.`,
      );
    }
  });

  test('as a zod schema: the same bounds and refusal, from a number or a query string', () => {
    const body = pageSizeSchema(z.number());
    const query = pageSizeSchema(z.coerce.number());
    expect(body.parse(undefined)).toBe(50);
    expect(body.parse(500)).toBe(500);
    expect(query.parse('7')).toBe(7);
    for (const [schema, bad] of [
      [body, 0],
      [body, 501],
      [body, 1.5],
      [query, '0'],
      [query, '501'],
    ] as const) {
      const result = schema.safeParse(bad);
      expect(result.success).toBe(false);
      expect(result.error!.issues.map((issue) => issue.message)).toEqual([RULE]);
    }
  });
});

describe('keyset cursor', () => {
  test('REST: the base64url of the last id, round trip', () => {
    const cursor = encodeKeysetCursor(CONTACT_ID);
    expect(cursor).toBe(Buffer.from(CONTACT_ID).toString('base64url'));
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(isKeysetCursor(cursor)).toBe(true);
    expect(decodeKeysetCursor(cursor)).toBe(CONTACT_ID);
    const jobId = 'job_01JAAAAAAAAAAAAAAAAAAAAAAB';
    expect(decodeKeysetCursor(encodeKeysetCursor(jobId))).toBe(jobId);
  });

  test('REST: what it did not hand out is validation_failed at cursor', () => {
    for (const bad of ['garbage', '', CONTACT_ID, encodeKeysetCursor('contact_short'), encodeKeysetCursor('x')]) {
      expect(isKeysetCursor(bad), bad).toBe(false);
      try {
        decodeKeysetCursor(bad);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        expect((error as ValidationError).errors).toEqual([{ path: 'cursor', message: NOT_A_CURSOR }]);
      }
    }
  });

  test("GraphQL: `after` is the bare id of the connection's kind, else invalid_id at after", () => {
    expect(keysetAfter(undefined, 'contact')).toBeUndefined();
    expect(keysetAfter(null, 'contact')).toBeUndefined();
    expect(keysetAfter(CONTACT_ID, 'contact')).toBe(CONTACT_ID);
    for (const bad of ['garbage', 'zzz', 'contact_', encodeKeysetCursor(CONTACT_ID)]) {
      expect(() => keysetAfter(bad, 'contact')).toThrow(InvalidIdError);
    }
    try {
      keysetAfter(CONTACT_ID, 'whep');
      expect.unreachable();
    } catch (error) {
      expect((error as InvalidIdError).errors![0]!.path).toBe('after');
    }
  });

  test('a page is limit rows of the limit + 1 read; the extra one says another follows', () => {
    expect(keysetSlice([1, 2, 3], 2)).toEqual({ items: [1, 2], more: true });
    expect(keysetSlice([1, 2], 2)).toEqual({ items: [1, 2], more: false });
    expect(keysetSlice([], 2)).toEqual({ items: [], more: false });
  });
});

describe('REST lists', () => {
  test('?limit= and ?cursor= under the rule; the next page starts after the cursor', () => {
    const cursor = encodeKeysetCursor(CONTACT_ID);
    expect(PageQuery.parse({})).toEqual({ limit: 50 });
    expect(PageQuery.parse({ limit: '2', cursor })).toEqual({ limit: 2, cursor });
    expect(PageQuery.safeParse({ limit: '501' }).error!.issues[0]!.message).toBe(RULE);
    expect(PageQuery.safeParse({ cursor: 'garbage' }).error!.issues[0]!.message).toBe(NOT_A_CURSOR);
    expect(pageArgs({ limit: 2, cursor })).toEqual({
      where: { id: { gt: CONTACT_ID } },
      orderBy: { id: 'asc' },
      take: 3,
    });
    expect(pageArgs({ limit: 2 })).toEqual({ where: {}, orderBy: { id: 'asc' }, take: 3 });
  });

  test('page: items, the cursor of the last one when more follow, and the count', () => {
    const rows = [
      { id: 'contact_01JAAAAAAAAAAAAAAAAAAAAAA1' },
      { id: CONTACT_ID },
      { id: 'contact_01JAAAAAAAAAAAAAAAAAAAAAA3' },
    ];
    expect(
      page(
        rows,
        { limit: 2 },
        (r) => r.id,
        (r) => r.id,
      ),
    ).toEqual({
      items: [rows[0]!.id, CONTACT_ID],
      nextCursor: encodeKeysetCursor(CONTACT_ID),
      count: 2,
    });
    expect(
      page(
        rows,
        { limit: 3 },
        (r) => r.id,
        (r) => r.id,
      ).nextCursor,
    ).toBeNull();
  });
});
