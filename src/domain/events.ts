import type { Prisma } from '../generated/prisma/client.js';
import type { AuthContext } from '../auth/context.js';
import { newId } from './ids.js';

export const EVENT_TYPES = [
  'communication.contact.created',
  'communication.contact.updated',
  'communication.contact.deleted',
  'accounting.invoice.created',
  'accounting.invoice.issued',
  'accounting.invoice.paid',
  'accounting.invoice.voided',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type NewEvent = {
  type: EventType;
  resourceType: 'contact' | 'invoice';
  resourceId: string;
  /** The resource as GET returns it after the change. */
  data: Prisma.InputJsonObject;
};

/**
 * Appends an event to the outbox inside the caller's transaction, in one statement. Bumping the
 * tenant's counter row locks it until commit, which makes tenantSequence gapless and ordered by
 * commit. Call it last in a transaction so the lock is held briefly.
 */
export async function recordEvent(tx: Prisma.TransactionClient, auth: AuthContext, event: NewEvent): Promise<void> {
  await tx.$executeRaw`
    WITH next AS (
      UPDATE "Tenant" SET "eventSequence" = "eventSequence" + 1 WHERE "id" = ${auth.tenantId} RETURNING "eventSequence"
    )
    INSERT INTO "Event" ("id", "tenantId", "tenantSequence", "type", "occurredAt", "correlationId", "resourceType", "resourceId", "data")
    SELECT ${newId('evt')}, ${auth.tenantId}, next."eventSequence", ${event.type}, ${new Date()}, ${auth.correlationId},
           ${event.resourceType}, ${event.resourceId}, ${JSON.stringify(event.data)}::jsonb
    FROM next`;
}
