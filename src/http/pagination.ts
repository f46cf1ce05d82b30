import { z } from 'zod';
import {
  decodeKeysetCursor,
  encodeKeysetCursor,
  isKeysetCursor,
  keysetSlice,
  NOT_A_CURSOR,
  pageSizeSchema,
} from '../core/paging.js';

/** `?limit=` (the shared page size rule: 1–500, default 50) and `?cursor=`; the cursor is opaque. */
export const PageQuery = z.strictObject({
  limit: pageSizeSchema(z.coerce.number()),
  cursor: z.string().max(200).refine(isKeysetCursor, NOT_A_CURSOR).optional(),
});
export type PageQuery = z.output<typeof PageQuery>;

/** Prisma arguments for one page: one extra row tells whether another page follows. */
export function pageArgs(query: PageQuery) {
  return {
    where: query.cursor ? { id: { gt: decodeKeysetCursor(query.cursor) } } : {},
    orderBy: { id: 'asc' as const },
    take: query.limit + 1,
  };
}

export function page<T, R>(rows: T[], query: PageQuery, idOf: (row: T) => string, toResource: (row: T) => R) {
  const { items, more } = keysetSlice(rows, query.limit);
  const last = items.at(-1);
  return {
    items: items.map(toResource),
    nextCursor: more && last ? encodeKeysetCursor(idOf(last)) : null,
    count: items.length,
  };
}
