import { Prisma } from '../../generated/prisma/client.js';

// The invoice statements Prisma's query API cannot write as one statement.

/**
 * Counts the tenant's invoice numbers of `year` up by one and returns the new last, as one
 * INSERT … ON CONFLICT: Prisma's upsert is a database upsert only under conditions of its own,
 * else a read then a write, where two first invoices of a year would collide.
 */
export function nextInvoiceCounter(tenantId: string, year: number): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "InvoiceCounter" ("tenantId", "year", "last") VALUES (${tenantId}, ${year}, 1)
    ON CONFLICT ("tenantId", "year") DO UPDATE SET "last" = "InvoiceCounter"."last" + 1
    RETURNING "last"`;
}
