import { Prisma } from '../../generated/prisma/client.js';
import { AUTH_CHANGED_CHANNEL } from '../../db/channels.js';

/**
 * Tells every gateway process that the tenant's keys or features changed, once the transaction
 * commits: NOTIFY is a statement Prisma's query API has no call for.
 */
export function notifyAuthChanged(tenantId: string): Prisma.Sql {
  return Prisma.sql`SELECT pg_notify(${AUTH_CHANGED_CHANNEL}, ${tenantId})`;
}
