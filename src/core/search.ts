import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError } from './errors.js';
import { Filter as SharedFilter, filterProblems, type FilterField, type FilterOperator } from './filters.js';
import { NOT_A_CURSOR, pageSizeSchema } from './paging.js';

// POST …/search, shared by every searchable resource: the body schema (one per resource, so an
// unknown field or operator is a 400 naming it and the allowed ones), the Prisma `where` and
// `orderBy` it stands for, and the opaque cursor. The filters are the filter language of
// filters.ts (its operators, kinds of fields, values and semantics), ANDed; here they become SQL.
// Sorting always ends with `id` ascending as the tie-breaker; empty values sort last.

export type SearchField = FilterField & {
  /** The Prisma column the field stands for. */
  column: string;
};

const DATE = /^\d{4}-\d{2}-\d{2}$/;

const list = (values: readonly string[]) => values.join(', ');

/** The body of POST …/search for one resource; the route validates with it and the service again. */
export function searchBodySchema(fields: Record<string, SearchField>) {
  const names = Object.keys(fields);
  const fieldName = z.string().refine((f) => Object.hasOwn(fields, f), {
    error: (issue) => `unknown field ${JSON.stringify(issue.input)}; allowed fields: ${list(names)}`,
    abort: true,
  });
  const Filter = SharedFilter.extend({ field: fieldName.describe(`One of: ${list(names)}`) }).superRefine(
    (filter, ctx) => {
      const spec = fields[filter.field];
      if (!spec) return;
      for (const { path, message } of filterProblems(filter.field, spec, filter))
        ctx.addIssue({ code: 'custom', path, message });
    },
  );
  const Sort = z.strictObject({
    field: fieldName.describe(`One of: ${list(names)}`),
    direction: z.enum(['asc', 'desc'], { error: 'must be "asc" or "desc"' }).default('asc'),
  });
  return z.strictObject({
    filters: z.array(Filter).max(50).default([]),
    sort: z.array(Sort).max(5).default([]),
    pageSize: pageSizeSchema(z.number()),
    cursor: z.string().max(500).optional(),
  });
}

export type SearchBody = z.output<ReturnType<typeof searchBodySchema>>;

type Where = Record<string, unknown>;

/** The Prisma `where`, `orderBy`, `skip` and `take` (one extra row: is there a next page?) of a validated body. */
export function searchArgs(resource: string, fields: Record<string, SearchField>, body: SearchBody) {
  const where: Where = { AND: body.filters.map((f) => filterWhere(fields[f.field]!, f.operator, f.value)) };
  const orderBy: Where[] = body.sort.map(({ field, direction }) => {
    const spec = fields[field]!;
    return { [spec.column]: spec.nullable ? { sort: direction, nulls: 'last' } : direction };
  });
  orderBy.push({ id: 'asc' });
  const offset = body.cursor === undefined ? 0 : decodeSearchCursor(resource, body);
  return { where, orderBy, skip: offset, take: body.pageSize + 1 };
}

/** One page of rows fetched with searchArgs, in the GET lists' shape. */
export function searchPage<T, R>(resource: string, body: SearchBody, rows: T[], toResource: (row: T) => R) {
  const items = rows.slice(0, body.pageSize);
  const offset = body.cursor === undefined ? 0 : decodeSearchCursor(resource, body);
  return {
    items: items.map(toResource),
    nextCursor: rows.length > body.pageSize ? encodeSearchCursor(resource, body, offset + items.length) : null,
    count: items.length,
  };
}

function filterWhere(spec: SearchField, operator: FilterOperator, value: unknown): Where {
  const col = spec.column;
  const text = spec.kind === 'text';
  const eq = (v: unknown): Where => {
    if (v === null) return { [col]: null };
    if (text) return { [col]: { equals: likeLiteral(v as string), mode: 'insensitive' } };
    return { [col]: { equals: toDb(spec, v) } };
  };
  switch (operator) {
    case 'is':
      return eq(value);
    case 'is_not':
      if (value === null) return { NOT: { [col]: null } };
      // "is not X" includes rows where the field is empty (SQL would drop them).
      return spec.nullable ? { OR: [{ NOT: eq(value) }, { [col]: null }] } : { NOT: eq(value) };
    case 'contains':
      return { [col]: { contains: likeLiteral(value as string), mode: 'insensitive' } };
    case 'is_any_of':
    case 'includes_any_of': {
      const values = value as unknown[];
      return text ? { OR: values.map(eq) } : { [col]: { in: values.map((v) => toDb(spec, v)) } };
    }
    case 'is_before':
      return { [col]: { lt: toDb(spec, value) } };
    case 'is_after':
      return { [col]: { gt: toDb(spec, value) } };
  }
}

/**
 * Prisma turns case-insensitive `equals` and `contains` into ILIKE patterns without escaping them:
 * escaped, `%` and `_` match themselves rather than any text, and a trailing `\` is no broken pattern.
 */
export function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, '\\$&');
}

function toDb(spec: SearchField, value: unknown): unknown {
  if (spec.kind === 'date' || spec.kind === 'datetime') {
    const s = value as string;
    return new Date(DATE.test(s) ? `${s}T00:00:00Z` : s);
  }
  return value;
}

// The cursor is the offset of the next row, bound to the query (resource, filters, sort, page
// size) that produced it: a cursor of another query is a 400, never a surprising page. Not a
// keyset cursor (src/core/paging.ts): a sort by any field has no single id to continue after.
function queryHash(resource: string, body: SearchBody): string {
  const { cursor: _cursor, ...query } = body;
  return createHash('sha256')
    .update(JSON.stringify([resource, query]))
    .digest('base64url')
    .slice(0, 16);
}

function encodeSearchCursor(resource: string, body: SearchBody, offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset, q: queryHash(resource, body) })).toString('base64url');
}

function decodeSearchCursor(resource: string, body: SearchBody): number {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(body.cursor!, 'base64url').toString());
  } catch {
    parsed = undefined;
  }
  const cursor = parsed as { o?: unknown; q?: unknown } | undefined;
  if (!cursor || typeof cursor !== 'object' || !Number.isSafeInteger(cursor.o) || (cursor.o as number) < 0) {
    throw new ValidationError([{ path: 'cursor', message: NOT_A_CURSOR }]);
  }
  if (cursor.q !== queryHash(resource, body)) {
    throw new ValidationError([
      { path: 'cursor', message: 'belongs to a different search; send the same filters, sort and pageSize' },
    ]);
  }
  return cursor.o as number;
}
