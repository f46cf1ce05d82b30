import type { z } from 'zod';
import { InvalidRequestError, ValidationError } from './errors.js';
import { ID_PREFIX, type IdPrefix, isId, parseId } from './ids.js';

/** One rule for every list, REST and GraphQL alike: 1 to 500 items a page, 50 when not asked. */
export const PAGE_SIZE = { min: 1, max: 500, default: 50 } as const;

/** What a page size must be: the one refusal text of every API's page-size argument. */
export function pageSizeRule(): string {
  return `must be an integer from ${PAGE_SIZE.min} to ${PAGE_SIZE.max} (default ${PAGE_SIZE.default})`;
}

/** Whether a requested page size is allowed; null and undefined mean the default. */
export function isPageSize(value: unknown): value is number | null | undefined {
  return (
    value == null ||
    (typeof value === 'number' && Number.isInteger(value) && value >= PAGE_SIZE.min && value <= PAGE_SIZE.max)
  );
}

/** The page size asked for by `argument`, or 400 invalid_request: never clamped. */
export function pageSize(value: unknown, argument: string): number {
  if (!isPageSize(value)) throw new InvalidRequestError(`${argument} ${pageSizeRule()}; got ${JSON.stringify(value)}.`);
  return value ?? PAGE_SIZE.default;
}

/**
 * The rule as a zod schema, for sizes validated with a request (REST `?limit=`, a search body's
 * `pageSize`): `number` is how the value arrives (`z.coerce.number()` from a query string).
 */
export function pageSizeSchema(number: z.ZodNumber | z.ZodCoercedNumber) {
  const rule = pageSizeRule();
  return number.int(rule).min(PAGE_SIZE.min, rule).max(PAGE_SIZE.max, rule).default(PAGE_SIZE.default);
}

// Keyset lists page in id order: ULIDs sort by creation time, so the last id seen is the position
// and the next page is the ids after it (one extra row read tells whether there is one). The
// position travels in each API's own form: REST hands out the id base64url-encoded as an opaque
// `cursor`; a GraphQL connection's edge cursor, and so its `after`, is the bare id.

/** The refusal of a cursor this API did not hand out. */
export const NOT_A_CURSOR = 'is not a cursor returned by this API';

/** Whether `value` is an id of any kind (the ids rule of ids.ts): every keyset list is of one kind. */
const isSomeId = (value: string) => Object.values(ID_PREFIX).some((prefix) => isId(prefix, value));

/** The REST cursor of the position after `id`. */
export function encodeKeysetCursor(id: string): string {
  return Buffer.from(id).toString('base64url');
}

/** Whether `cursor` is a REST cursor this API handed out (the id of some list). */
export function isKeysetCursor(cursor: string): boolean {
  return isSomeId(Buffer.from(cursor, 'base64url').toString());
}

/** The id a REST cursor holds; 400 validation_failed (at `cursor`) when it is none this API handed out. */
export function decodeKeysetCursor(cursor: string): string {
  if (!isKeysetCursor(cursor)) throw new ValidationError([{ path: 'cursor', message: NOT_A_CURSOR }]);
  return Buffer.from(cursor, 'base64url').toString();
}

/** The id a GraphQL `after` names: an id of the connection's own kind, else 400 invalid_id. */
export function keysetAfter(after: string | null | undefined, prefix: IdPrefix): string | undefined {
  return after == null ? undefined : parseId(prefix, after, 'after');
}

/** A page of `limit` rows out of the `limit + 1` read, and whether another page follows. */
export function keysetSlice<T>(rows: readonly T[], limit: number): { items: T[]; more: boolean } {
  return { items: rows.slice(0, limit), more: rows.length > limit };
}
