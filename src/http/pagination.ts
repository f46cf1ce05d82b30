import { z } from 'zod';
import { PAGE_SIZE } from '../core/paging.js';

/** `?limit=` (the shared page size rule: 1–500, default 50) and `?cursor=`; the cursor is opaque. */
export const PageQuery = z.strictObject({
  limit: z.coerce.number().int().min(PAGE_SIZE.min).max(PAGE_SIZE.max).default(PAGE_SIZE.default),
  cursor: z
    .string()
    .max(200)
    .refine((c) => /^[a-z]+_[0-9A-HJKMNP-TV-Z]{26}$/.test(decodeCursor(c)), 'is not a cursor returned by this API')
    .optional(),
});
export type PageQuery = z.output<typeof PageQuery>;

// Lists are in id order; ULIDs sort by creation time, so the last id seen is the cursor.
export function encodeCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

export function decodeCursor(cursor: string): string {
  return Buffer.from(cursor, 'base64url').toString();
}

/** Prisma arguments for one page: one extra row tells whether another page follows. */
export function pageArgs(query: PageQuery) {
  return {
    where: query.cursor ? { id: { gt: decodeCursor(query.cursor) } } : {},
    orderBy: { id: 'asc' as const },
    take: query.limit + 1,
  };
}

export function page<T, R>(rows: T[], query: PageQuery, idOf: (row: T) => string, toResource: (row: T) => R) {
  const items = rows.slice(0, query.limit);
  const last = items.at(-1);
  return {
    items: items.map(toResource),
    nextCursor: rows.length > query.limit && last ? encodeCursor(idOf(last)) : null,
    count: items.length,
  };
}
