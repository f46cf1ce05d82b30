import { EVENTS_CHANNEL } from '../../db/channels.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyBaseLogger } from 'fastify';
import type { Prisma } from '../../generated/prisma/client.js';
import type { Database, Query } from '../../db/database.js';
import { databaseUnavailable } from '../../db/unavailable.js';
import type { EventFacts } from './service.js';
import { relayLag } from '../../metrics.js';
import { passRunner } from '../../core/passes.js';
import type { EventBus } from './bus.js';
import { analyzeWebhookDeliveries, claimUnpublishedEvents } from './sql.js';

/** Events of one tenant per batch, and tenants per batch. */
const BATCH_SIZE = 500;
const TENANTS_PER_BATCH = 50;
/**
 * After a pass that published something, the next waits this long: under load, commits that
 * arrive meanwhile go out together in one batch instead of a pass each. A commit after a quiet
 * moment is published at once.
 */
const LINGER_MS = 2;
/**
 * PostgreSQL's autovacuum analyzes a table up to a minute after it grew; until then the planner
 * takes the deliveries table for as small as it was and sorts every due delivery for each claim.
 * So the relay analyzes it itself after creating this many, and after twice as many each time
 * after that: once the table is large, autovacuum's own analyses (at a tenth's growth) keep up,
 * and analyzing every thousand deliveries would only cost.
 */
const FIRST_ANALYZE_AFTER_DELIVERIES = 1000;

/**
 * A committed event the relay publishes, with its data: subscribers' and webhook endpoints' content
 * filters read it there, not from the log. `occurredAt` is ISO 8601 text, as the claim reads it.
 */
export type UnpublishedEvent = Omit<EventFacts, 'occurredAt'> & {
  tenantId: string;
  occurredAt: string;
  data: Prisma.JsonValue;
};

/** What scheduling a batch's deliveries did: how many it created, and what to call once they committed. */
export type ScheduledDeliveries = { created: number; committed: () => void };

/**
 * Creates the webhook deliveries of a batch inside the relay's transaction (`query` runs in it, so
 * each event gets them exactly once). Passed in by the composition root: the webhooks feature
 * depends on events, not the other way round.
 */
export type ScheduleDeliveries = (query: Query, events: UnpublishedEvent[]) => Promise<ScheduledDeliveries>;

/**
 * Publishes committed events, in order per tenant, creates their webhook deliveries, and moves the
 * tenant's cursor past them, all in one transaction per batch. Each process runs one; a batch
 * locks the cursors of the tenants it publishes (SKIP LOCKED), so relays of several processes
 * share the tenants, and a process that dies mid-batch leaves the cursor where it was for the next
 * pass (subscribers drop the resulting duplicates by tenantSequence). The log needs no mark:
 * tenantSequence is handed out under the tenant's row lock, so sequences commit in order and
 * everything up to the newest committed one can be published. Woken by NOTIFY (naming the
 * tenants) within milliseconds of a commit; polls every `pollMs` in case a notification was missed.
 */
export async function startRelay(options: RelayOptions) {
  const { database, pollMs, log } = options;
  const noteDeliveries = deliveriesAnalyzer(database, log);
  /** Tenants named by notifications since the last pass; null: look at every tenant. */
  let notified: Set<string> | null = null;
  const passes = passRunner(
    async () => {
      const tenantIds = notified && [...notified];
      notified = new Set();
      if (tenantIds?.length === 0) return;
      const published = await publishUntilDone(options, tenantIds, noteDeliveries).catch((err: unknown) => {
        notified = null;
        throw err;
      });
      if (published) await sleep(LINGER_MS);
    },
    // During a database outage the poll keeps trying; the outage is logged once, not every pass.
    (err) => databaseUnavailable(err, log) ?? log.warn({ err }, 'event relay pass failed; retrying at the next poll'),
  );
  const wake = passes.wake;
  /** Looks at every tenant: at start, on the poll, and when notifications may have been missed. */
  const wakeForAll = () => {
    notified = null;
    wake();
  };

  await database.listen(EVENTS_CHANNEL, (tenantId) => {
    if (tenantId === null) return wakeForAll();
    notified?.add(tenantId);
    wake();
  });
  const poll = setInterval(wakeForAll, pollMs);
  poll.unref();
  wakeForAll(); // what a previous process committed but did not publish

  return {
    /** Finishes the pass in progress (its locks go with its transaction) and stops. */
    async stop() {
      clearInterval(poll);
      await passes.stop();
    },
  };
}

type RelayOptions = {
  database: Database;
  bus: EventBus;
  scheduleDeliveries: ScheduleDeliveries;
  pollMs: number;
  log: FastifyBaseLogger;
};

/** Publishes batches of these tenants' events (null: any tenant's) until one is not full: how many in all. */
async function publishUntilDone(
  options: RelayOptions,
  tenantIds: string[] | null,
  noteDeliveries: (created: number) => void,
): Promise<number> {
  let published = 0;
  for (let more = true; more; ) {
    const batch = await publishBatch(options, tenantIds);
    noteDeliveries(batch.deliveries);
    published += batch.published;
    more = batch.more;
  }
  return published;
}

/** Publishes one batch: how many events, whether there may be more, and how many deliveries it created. */
async function publishBatch(
  { database, bus, scheduleDeliveries }: RelayOptions,
  tenantIds: string[] | null,
): Promise<{ published: number; more: boolean; deliveries: number }> {
  let scheduled: ScheduledDeliveries | undefined;
  // On the driver: a batch's hundreds of events with their data are rows Prisma would only convert.
  const batch = await database.transaction(async (query) => {
    // The cursors move at once; the move commits only after the publishing below succeeded.
    const events = await query<UnpublishedEvent>(claimUnpublishedEvents(tenantIds, TENANTS_PER_BATCH, BATCH_SIZE));
    if (!events.length) return { published: 0, more: false, deliveries: 0 };
    const perTenant = new Map<string, number>();
    const publishedAt = Date.now();
    for (const { tenantId, ...event } of events) {
      perTenant.set(tenantId, (perTenant.get(tenantId) ?? 0) + 1);
      const occurredAt = new Date(event.occurredAt);
      bus.publish(tenantId, { ...event, occurredAt });
      relayLag.observe(Math.max(0, publishedAt - occurredAt.getTime()) / 1000);
    }
    scheduled = await scheduleDeliveries(query, events);
    const more = perTenant.size === TENANTS_PER_BATCH || [...perTenant.values()].some((count) => count === BATCH_SIZE);
    return { published: events.length, more, deliveries: scheduled.created };
  });
  scheduled?.committed();
  return batch;
}

/** Counts the deliveries created and analyzes their table when due (see FIRST_ANALYZE_AFTER_DELIVERIES). */
function deliveriesAnalyzer(database: Database, log: FastifyBaseLogger): (created: number) => void {
  let deliveriesSinceAnalyze = 0;
  let analyzeAfter = FIRST_ANALYZE_AFTER_DELIVERIES;
  let analyzing = false;
  return (created) => {
    deliveriesSinceAnalyze += created;
    if (deliveriesSinceAnalyze < analyzeAfter || analyzing) return;
    deliveriesSinceAnalyze = 0;
    analyzeAfter *= 2;
    analyzing = true;
    database
      .query(analyzeWebhookDeliveries())
      .catch((err: unknown) => log.warn({ err }, 'analyzing the webhook deliveries failed'))
      .finally(() => (analyzing = false));
  };
}
