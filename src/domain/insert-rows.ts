import { Prisma } from '../generated/prisma/client.js';

/**
 * One INSERT of whole rows (every column, keyed by column name) over a JSON array, whatever their
 * number: Prisma's createMany compiles a query as large as its batch, which cost several times the
 * insert itself. The table's own row type converts the JSON values to its columns' types. Only
 * `returning` is read back.
 */
export function insertRows(table: string, rows: readonly object[], returning: '*' | readonly string[]): Prisma.Sql {
  const name = Prisma.raw(quoted(table));
  const read = Prisma.raw(returning === '*' ? '*' : returning.map(quoted).join(', '));
  return Prisma.sql`
    INSERT INTO ${name} SELECT * FROM jsonb_populate_recordset(NULL::${name}, ${JSON.stringify(rows)}::jsonb)
    RETURNING ${read}`;
}

const quoted = (name: string) => `"${name}"`;
