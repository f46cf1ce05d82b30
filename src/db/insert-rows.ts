import { Prisma } from '../generated/prisma/client.js';

/**
 * A table's columns as this version knows them, for statements that would otherwise say `*`.
 * Named, a statement keeps its shape when a newer version's migration adds a column while this
 * one still runs: its prepared plan stays valid, and inserts leave the new column its default.
 */
export function columnList(columns: readonly string[]): Prisma.Sql {
  return Prisma.raw(columns.map(quoted).join(', '));
}

/**
 * One INSERT of whole rows (`columns`, keyed by column name) over a JSON array, whatever their
 * number: Prisma's createMany compiles a query as large as its batch, which cost several times the
 * insert itself. The table's own row type converts the JSON values to its columns' types. Only
 * `returning` is read back. `skipConflicts`: a row that would violate a unique constraint is left
 * out (ON CONFLICT DO NOTHING) instead of failing the statement, and is not returned. `onlyIf`: a
 * condition of the statement this insert is part of; while false, nothing is inserted.
 */
export function insertRows(
  table: string,
  columns: readonly string[],
  rows: readonly object[],
  returning: readonly string[],
  options: { skipConflicts?: boolean; onlyIf?: Prisma.Sql } = {},
): Prisma.Sql {
  const name = Prisma.raw(quoted(table));
  const list = columnList(columns);
  const conflicts = options.skipConflicts ? Prisma.sql`ON CONFLICT DO NOTHING` : Prisma.empty;
  const where = options.onlyIf ? Prisma.sql`WHERE ${options.onlyIf}` : Prisma.empty;
  return Prisma.sql`
    INSERT INTO ${name} (${list}) SELECT ${list} FROM jsonb_populate_recordset(NULL::${name}, ${JSON.stringify(rows)}::jsonb)
    ${where} ${conflicts}
    RETURNING ${columnList(returning)}`;
}

const quoted = (name: string) => `"${name}"`;
