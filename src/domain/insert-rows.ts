import { Prisma } from '../generated/prisma/client.js';

/**
 * One INSERT of whole rows over a JSON array, whatever their number (Prisma's createMany compiles
 * a query as large as its batch, which cost several times the insert itself). `columns` are a
 * model's scalar fields; `types` gives the SQL type of those that are not text. Only `returning`
 * is read back.
 */
export function insertRows(
  table: string,
  columns: readonly string[],
  types: Readonly<Record<string, string>>,
  rows: readonly object[],
  returning: readonly string[],
): Prisma.Sql {
  const list = Prisma.raw(columns.map(quoted).join(', '));
  const typed = Prisma.raw(columns.map((column) => `${quoted(column)} ${types[column] ?? 'text'}`).join(', '));
  return Prisma.sql`
    INSERT INTO ${Prisma.raw(quoted(table))} (${list})
    SELECT ${list} FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS r(${typed})
    RETURNING ${Prisma.raw(returning.map(quoted).join(', '))}`;
}

const quoted = (name: string) => `"${name}"`;
