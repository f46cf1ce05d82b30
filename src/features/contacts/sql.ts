import { Prisma, type Contact } from '../../generated/prisma/client.js';
import { columnList, insertRows } from '../../db/insert-rows.js';

// The contact statements Prisma's query API cannot write as one statement.

/** The contact columns this version reads and writes in raw SQL. */
export const CONTACT_COLUMNS = Object.values(Prisma.ContactScalarFieldEnum);

/** The contact columns that are timestamps: `firstContacts` sends them as text in JavaScript's ISO form. */
export const CONTACT_TIMESTAMPS: readonly string[] = ['createdAt', 'updatedAt'] satisfies (keyof Contact)[];

/**
 * A tenant's first `take` contacts by id, only `columns` (of CONTACT_COLUMNS, "id" among them), as
 * plain rows: timestamps as text (see CONTACT_TIMESTAMPS), JSON columns as JSON. Not built into
 * one JSON value by PostgreSQL: json_build_object and json_agg tripled the statement's execution
 * time (0.15 against 0.05 ms for 50 rows), more than the driver spends on the rows.
 */
export function firstContacts(tenantId: string, columns: readonly string[], take: number): Prisma.Sql {
  const read = columns.map((column) =>
    CONTACT_TIMESTAMPS.includes(column)
      ? `to_char("Contact"."${column}", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "${column}"`
      : `"Contact"."${column}"`,
  );
  return Prisma.sql`
    SELECT ${Prisma.raw(read.join(', '))} FROM "Contact" WHERE "tenantId" = ${tenantId} ORDER BY "id" LIMIT ${take}`;
}

/**
 * Inserts whole contact rows, one statement for any number (createMany compiles per row), and
 * returns the ids inserted: the caller built the rows (newContact), so nothing else is read back.
 * `skipTaken`: a row whose email or externalId is taken is left out instead of failing them all.
 */
export function insertContacts(contacts: Contact[], options: { skipTaken?: boolean } = {}): Prisma.Sql {
  return insertRows('Contact', CONTACT_COLUMNS, contacts, ['id'], { skipConflicts: options.skipTaken });
}

/**
 * The ids of the tenant's contacts with one of these externalIds or emails: one lookup in the
 * unique index of each value. Each list is one array parameter, where Prisma's `in` sends a
 * parameter per value and so a new statement shape for every chunk size; joined rather than
 * `= ANY(…) OR = ANY(…)`, whose generic plan (prepared statements) may read all the tenant's
 * contacts and compare each with every value: while the table's statistics say the tenant has few,
 * that grew with each chunk of a large import.
 */
function idsMatching(tenantId: string, externalIds: string[], emails: string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT c."id" FROM unnest(${externalIds}::text[]) AS k("value")
      JOIN "Contact" c ON c."tenantId" = ${tenantId} AND c."externalId" = k."value"
    UNION
    SELECT c."id" FROM unnest(${emails}::text[]) AS k("value")
      JOIN "Contact" c ON c."tenantId" = ${tenantId} AND c."emailNormalized" = k."value"`;
}

/** The tenant's contacts an import chunk's rows may match, by externalId or email. */
export function contactsMatching(tenantId: string, externalIds: string[], emails: string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT ${columnList(CONTACT_COLUMNS)} FROM "Contact"
    WHERE "id" IN (${idsMatching(tenantId, externalIds, emails)})`;
}

/**
 * An import chunk as new contacts (one row each, as built), in one statement: unless a stored
 * contact of the tenant has one of their externalIds or emails, inserts them, records the job's
 * progress (`progressUpdate`, given that condition) and appends `events` (see eventsWithChange:
 * the contacts' and then the progress's); otherwise writes nothing. Answers how many stored
 * contacts matched, and whether the job's row changed (0 with none matched: the job was lost).
 * Raw: atomic without a transaction, and one round trip per chunk.
 */
export function insertNewContactsWithProgress(
  tenantId: string,
  contacts: Contact[],
  progressUpdate: (onlyIf: Prisma.Sql) => Prisma.Sql,
  events: Prisma.Sql,
): Prisma.Sql {
  const externalIds = contacts.map((c) => c.externalId).filter((v): v is string => Boolean(v));
  const emails = contacts.map((c) => c.emailNormalized).filter((v): v is string => Boolean(v));
  const written = { onlyIf: Prisma.sql`EXISTS (SELECT FROM changed)` };
  return Prisma.sql`
    WITH matched AS (${idsMatching(tenantId, externalIds, emails)}),
    changed AS (${progressUpdate(Prisma.sql`NOT EXISTS (SELECT FROM matched)`)}),
    written AS (${insertRows('Contact', CONTACT_COLUMNS, contacts, ['id'], written)}),
    ${events}
    SELECT (SELECT count(*) FROM matched)::int AS "matched", (SELECT count(*) FROM changed)::int AS "changed"`;
}
