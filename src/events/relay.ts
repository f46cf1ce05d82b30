import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database.js';
import type { EventFacts } from '../domain/events.js';
import { scheduleDeliveries } from '../domain/webhooks.js';
import { passRunner } from '../passes.js';
import type { EventBus } from './bus.js';

/** The trigger on "Event" NOTIFYs this channel when events commit (prisma/migrations). */
export const EVENTS_CHANNEL = 'nilo_events';
const BATCH_SIZE = 500;
/**
 * PostgreSQL's autovacuum analyzes a table up to a minute after it grew; until then the planner
 * takes the deliveries table for as small as it was and sorts every due delivery for each claim.
 * So the relay analyzes it itself after creating this many.
 */
const ANALYZE_AFTER_DELIVERIES = 1000;

type UnpublishedEvent = EventFacts & { tenantId: string };

/**
 * Publishes committed events, oldest first per tenant, creates their webhook deliveries, and
 * marks them published, all in one transaction per batch. Each process
 * runs one; a pass locks the rows it publishes (SKIP LOCKED), so relays of several processes
 * share the work, and a process that dies mid-pass leaves its rows unpublished for the next pass
 * (subscribers drop the resulting duplicates by tenantSequence). Woken by NOTIFY within
 * milliseconds of a commit; polls every `pollMs` in case a notification was missed.
 */
export async function startRelay(options: { database: Database; bus: EventBus; pollMs: number; log: FastifyBaseLogger }) {
  const { database, bus, pollMs, log } = options;
  let deliveriesSinceAnalyze = 0;
  let analyzing = false;
  function noteDeliveries(created: number) {
    deliveriesSinceAnalyze += created;
    if (deliveriesSinceAnalyze < ANALYZE_AFTER_DELIVERIES || analyzing) return;
    deliveriesSinceAnalyze = 0;
    analyzing = true;
    database.prisma
      .$executeRaw`ANALYZE "WebhookDelivery"`
      .catch((err: unknown) => log.warn({ err }, 'analyzing the webhook deliveries failed'))
      .finally(() => (analyzing = false));
  }

  async function publishBatch(): Promise<number> {
    let deliveries = 0;
    const published = await database.prisma.$transaction(async (tx) => {
      // Marked published at once; the mark commits only after the publishing below succeeded.
      const events = await tx.$queryRaw<UnpublishedEvent[]>`
        WITH published AS (
          UPDATE "Event" SET "publishedAt" = now()
          WHERE "id" IN (
            SELECT "id" FROM "Event" WHERE "publishedAt" IS NULL
            ORDER BY "tenantId", "tenantSequence" LIMIT ${BATCH_SIZE}
            FOR UPDATE SKIP LOCKED)
          RETURNING "id", "tenantId", "tenantSequence", "type", "occurredAt", "correlationId", "resourceType", "resourceId")
        SELECT * FROM published ORDER BY "tenantId", "tenantSequence"`;
      if (!events.length) return 0;
      for (const { tenantId, ...event } of events) bus.publish(tenantId, { ...event, occurredAt: new Date(event.occurredAt) });
      deliveries = await scheduleDeliveries(tx, events);
      return events.length;
    });
    noteDeliveries(deliveries);
    return published;
  }

  // A pass publishes batches until none is full.
  const passes = passRunner(
    async () => {
      while ((await publishBatch()) === BATCH_SIZE);
    },
    (err) => log.warn({ err }, 'event relay pass failed; retrying at the next poll'),
  );
  const wake = passes.wake;

  await database.listen(EVENTS_CHANNEL, wake);
  const poll = setInterval(wake, pollMs);
  poll.unref();
  wake(); // what a previous process committed but did not publish

  return {
    /** Finishes the pass in progress (its locks go with its transaction) and stops. */
    async stop() {
      clearInterval(poll);
      await passes.stop();
    },
  };
}
