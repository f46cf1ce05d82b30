import { z } from 'zod';

/** How tenantSequence is described wherever an envelope carries it. */
export const GAPLESS = '1, 2, 3… per tenant with no gap: a jump means a missed event';

/** The envelope every event travels in (eventEnvelope in service.ts builds it): the log, webhooks and subscriptions alike. */
export const EventEnvelope = z.strictObject({
  id: z
    .string()
    .describe('evt_ followed by a ULID; the webhook-id header, the same id as in subscriptions and GET /api/v1/events'),
  type: z.string().describe('e.g. accounting.invoice.created'),
  tenantSequence: z.int().min(1).nullable().describe(`${GAPLESS}; null only for webhook test events`),
  occurredAt: z.iso.datetime(),
  correlationId: z.string().describe('The X-Correlation-Id of the request that caused the event'),
  data: z.unknown().describe('The resource as REST returns it'),
});
