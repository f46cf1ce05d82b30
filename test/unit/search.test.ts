import { describe, expect, test } from 'vitest';
import { likeLiteral, searchArgs, searchBodySchema, type SearchField } from '../../src/core/search.js';

// The translation of a search body into Prisma arguments. Prisma's case-insensitive equals and
// contains are ILIKE patterns: the text must arrive with %, _ and \ escaped.

const FIELDS: Record<string, SearchField> = {
  email: { column: 'email', kind: 'text', nullable: true },
  status: { column: 'status', kind: 'enum', values: ['draft', 'paid'] },
  grossTotal: { column: 'grossTotal', kind: 'number' },
};
const body = (field: string, operator: string, value: unknown) =>
  searchBodySchema(FIELDS).parse({ filters: [{ field, operator, value }] });
const whereOf = (field: string, operator: string, value: unknown) =>
  searchArgs('contact', FIELDS, body(field, operator, value)).where;

describe('likeLiteral', () => {
  test('escapes %, _ and \\ with a backslash, and nothing else', () => {
    expect(likeLiteral('100%')).toBe('100\\%');
    expect(likeLiteral('snake_case')).toBe('snake\\_case');
    expect(likeLiteral('a\\')).toBe('a\\\\');
    expect(likeLiteral('%_\\%')).toBe('\\%\\_\\\\\\%');
    expect(likeLiteral("plain text 'quoted' *?[]")).toBe("plain text 'quoted' *?[]");
  });
});

describe('searchArgs', () => {
  test('is / is_not / is_any_of on text: case-insensitive equals of the escaped text', () => {
    expect(whereOf('email', 'is', '%')).toEqual({ AND: [{ email: { equals: '\\%', mode: 'insensitive' } }] });
    expect(whereOf('email', 'is_not', 'a_b')).toEqual({
      AND: [{ OR: [{ NOT: { email: { equals: 'a\\_b', mode: 'insensitive' } } }, { email: null }] }],
    });
    expect(whereOf('email', 'is_any_of', ['x\\', 'y'])).toEqual({
      AND: [
        { OR: [{ email: { equals: 'x\\\\', mode: 'insensitive' } }, { email: { equals: 'y', mode: 'insensitive' } }] },
      ],
    });
  });

  test('contains on text: the escaped text', () => {
    expect(whereOf('email', 'contains', '50%_off\\')).toEqual({
      AND: [{ email: { contains: '50\\%\\_off\\\\', mode: 'insensitive' } }],
    });
  });

  test('null, enums and numbers are compared as they are', () => {
    expect(whereOf('email', 'is', null)).toEqual({ AND: [{ email: null }] });
    expect(whereOf('status', 'is', 'draft')).toEqual({ AND: [{ status: { equals: 'draft' } }] });
    expect(whereOf('grossTotal', 'is_any_of', [1, 2.5])).toEqual({ AND: [{ grossTotal: { in: [1, 2.5] } }] });
  });
});
