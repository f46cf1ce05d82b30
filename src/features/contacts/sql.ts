import { Prisma, type Contact } from '../../generated/prisma/client.js';
import { columnList, insertRows } from '../../db/insert-rows.js';

// The contact statements Prisma's query API cannot write as one statement.

/** The contact columns this version reads and writes in raw SQL. */
export const CONTACT_COLUMNS = Object.values(Prisma.ContactScalarFieldEnum);

/**
 * Inserts whole contact rows, one statement for any number (createMany compiles per row), and
 * returns the ids inserted: the caller built the rows (newContact), so nothing else is read back.
 * `skipTaken`: a row whose email or externalId is taken is left out instead of failing them all.
 */
export function insertContacts(contacts: Contact[], options: { skipTaken?: boolean } = {}): Prisma.Sql {
  return insertRows('Contact', CONTACT_COLUMNS, contacts, ['id'], { skipConflicts: options.skipTaken });
}

/**
 * The tenant's contacts an import chunk's rows may match, by externalId or email. Each list is one
 * array parameter (`= ANY`), where Prisma's `in` sends a parameter per value and so a new statement
 * shape for every chunk size.
 */
export function contactsMatching(tenantId: string, externalIds: string[], emails: string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT ${columnList(CONTACT_COLUMNS)} FROM "Contact"
    WHERE "tenantId" = ${tenantId} AND ("externalId" = ANY(${externalIds}) OR "emailNormalized" = ANY(${emails}))`;
}
