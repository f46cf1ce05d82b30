import { DELIVERIES_CHANNEL } from '../../db/channels.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { EventEnvelope, EventFacts } from '../events/service.js';

// The webhooks feature's raw SQL, one function per statement. Each says why it bypasses Prisma's
// query API. The worker runs the claim and the record on the driver (database.query), the others
// go through $queryRaw / $executeRaw.

/**
 * An integer written into the statement's text rather than bound: with a bound LIMIT, PostgreSQL
 * never trusts a generic plan and plans every execution anew.
 */
function literal(value: number): Prisma.Sql {
  if (!Number.isSafeInteger(value)) throw new RangeError(`not an integer: ${value}`);
  return Prisma.raw(String(value));
}

/** A delivery as claimDueDeliveries answers it. */
export type ClaimedRow = {
  id: string;
  endpointId: string;
  eventId: string;
  attemptCount: number;
  /** Only test deliveries carry their envelope; the others are their event's. */
  payload: EventEnvelope | null;
};
/** An endpoint as claimDueDeliveries answers it (json: timestamps in UTC without their zone). */
export type ClaimedEndpointRow = { id: string; url: string; failingSince: string | null; secrets: string[] };
/** An event as claimDueDeliveries answers it (json: timestamps in UTC without their zone). */
export type ClaimedEventRow = Omit<EventFacts, 'occurredAt'> & { occurredAt: string; data: Prisma.JsonValue };
/** claimDueDeliveries' one row: each list null when empty. */
export type ClaimRow = {
  deliveries: ClaimedRow[] | null;
  endpoints: ClaimedEndpointRow[] | null;
  events: ClaimedEventRow[] | null;
};

/**
 * Claims up to `claimSize` due deliveries of enabled endpoints for `leaseMs`, in turns: every
 * endpoint offers its oldest due deliveries, up to two rounds (`2 × perEndpoint`) less what this
 * process `held` of it, and none if it holds a round already; each tenant's offers are numbered
 * round-robin over its endpoints, and the claim takes every tenant's first turn, then every second,
 * oldest first within a turn. Their endpoints and events come in the same statement, each once
 * however many of the claimed deliveries share it. (`= ANY(ARRAY(…))` rather than `IN (…)`, with
 * which the planner, not knowing how few ids a claim has, was seen scanning the whole event log
 * instead of looking each one up.)
 * Raw: window functions, SKIP LOCKED and one round trip for all of it; the sizes are constants of
 * the process, written into the text (see literal).
 */
export function claimDueDeliveries(claim: {
  held: ReadonlyMap<string, number>;
  leaseMs: number;
  perEndpoint: number;
  claimSize: number;
}): Prisma.Sql {
  const { held, leaseMs, perEndpoint, claimSize } = claim;
  return Prisma.sql`WITH held AS (
        SELECT * FROM unnest(${[...held.keys()]}::text[], ${[...held.values()]}::int[]) AS h("endpointId", "count")
      ), offered AS (
        SELECT due."id", e."tenantId", due."nextAttemptAt",
          row_number() OVER (PARTITION BY e."id" ORDER BY due."nextAttemptAt", due."id") AS "endpointTurn"
        FROM "WebhookEndpoint" AS e
        LEFT JOIN held AS h ON h."endpointId" = e."id"
        CROSS JOIN LATERAL (
          SELECT d."id", d."nextAttemptAt" FROM "WebhookDelivery" AS d
          WHERE d."endpointId" = e."id" AND d."status" = 'pending' AND d."nextAttemptAt" <= now()
            AND (d."claimedUntil" IS NULL OR d."claimedUntil" <= now())
          ORDER BY d."nextAttemptAt" LIMIT ${literal(2 * perEndpoint)} - coalesce(h."count", 0)
          FOR UPDATE SKIP LOCKED) AS due
        WHERE e."enabled" AND coalesce(h."count", 0) < ${literal(perEndpoint)}
      ), chosen AS (
        SELECT "id", "turn", "nextAttemptAt" FROM (
          SELECT "id", "nextAttemptAt", row_number() OVER (PARTITION BY "tenantId" ORDER BY "endpointTurn", "nextAttemptAt") AS "turn"
          FROM offered) AS turns
        ORDER BY "turn", "nextAttemptAt" LIMIT ${literal(claimSize)}
      ), claimed AS (
        UPDATE "WebhookDelivery" AS d
        SET "claimedUntil" = now() + ${leaseMs} * interval '1 millisecond'
        WHERE d."id" = ANY(ARRAY(SELECT "id" FROM chosen))
        RETURNING d."id", d."endpointId", d."eventId", d."payload", d."attemptCount")
      SELECT
        (SELECT json_agg(json_build_object('id', c."id", 'endpointId', c."endpointId", 'eventId', c."eventId",
           'attemptCount', c."attemptCount", 'payload', c."payload") ORDER BY ch."turn", ch."nextAttemptAt")
         FROM claimed AS c JOIN chosen AS ch ON ch."id" = c."id") AS "deliveries",
        (SELECT json_agg(json_build_object('id', e."id", 'url', e."url", 'failingSince', e."failingSince",
           'secrets', ARRAY(SELECT s."secret" FROM "WebhookSecret" AS s
                            WHERE s."endpointId" = e."id" AND (s."expiresAt" IS NULL OR s."expiresAt" > now())
                            ORDER BY s."createdAt" DESC)))
         FROM "WebhookEndpoint" AS e WHERE e."id" = ANY(ARRAY(SELECT "endpointId" FROM claimed))) AS "endpoints",
        (SELECT json_agg(json_build_object('id', ev."id", 'type', ev."type", 'tenantSequence', ev."tenantSequence",
           'occurredAt', ev."occurredAt", 'correlationId', ev."correlationId", 'resourceType', ev."resourceType",
           'resourceId', ev."resourceId", 'data', ev."data"))
         FROM "Event" AS ev WHERE ev."id" = ANY(ARRAY(SELECT "eventId" FROM claimed))) AS "events"`;
}

/** One attempt as recordAttempts writes it: its log row and what becomes of its delivery. */
export type AttemptRow = {
  attemptId: string;
  deliveryId: string;
  attemptedAt: string;
  durationMs: number;
  statusCode: number | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  error: string | null;
  status: string;
  nextAttemptAt: string | null;
};

/**
 * Logs a batch of attempts and moves their deliveries on, releasing their claims. Deliveries
 * deleted with their endpoint meanwhile are not updated, so their attempts are not inserted either.
 * Raw: one statement for the whole batch (an UPDATE from a set of rows, feeding the INSERT).
 */
export function recordAttempts(rows: AttemptRow[]): Prisma.Sql {
  return Prisma.sql`
      WITH attempted AS (
        SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS a(
          "attemptId" text, "deliveryId" text, "attemptedAt" timestamp(3), "durationMs" integer, "statusCode" integer,
          "responseHeaders" jsonb, "responseBody" text, "error" text, "status" text, "nextAttemptAt" timestamp(3))
      ), updated AS (
        UPDATE "WebhookDelivery" AS d
        SET "attemptCount" = d."attemptCount" + 1, "lastAttemptAt" = a."attemptedAt", "status" = a."status",
          "nextAttemptAt" = a."nextAttemptAt", "claimedUntil" = NULL
        -- The ids again as an array: the planner then reads them by primary key rather than
        -- joining the whole table to a function whose row count it cannot know.
        FROM attempted AS a WHERE d."id" = a."deliveryId" AND d."id" = ANY(${rows.map((row) => row.deliveryId)})
        RETURNING d."id"
      )
      INSERT INTO "WebhookAttempt" ("id", "deliveryId", "attemptedAt", "durationMs", "statusCode", "responseHeaders", "responseBody", "error")
      SELECT a."attemptId", a."deliveryId", a."attemptedAt", a."durationMs", a."statusCode", a."responseHeaders", a."responseBody", a."error"
      FROM attempted AS a JOIN updated AS u ON u."id" = a."deliveryId"`;
}

/**
 * Hands claimed deliveries back unsent: due again at once, with no attempt spent. Raw: the ids as
 * one array parameter, one statement text however many there are (Prisma's `in` binds one
 * parameter per id, a new text for every count).
 */
export function handBackDeliveries(ids: string[]): Prisma.Sql {
  return Prisma.sql`UPDATE "WebhookDelivery" SET "claimedUntil" = NULL WHERE "id" = ANY(${ids}) AND "status" = 'pending'`;
}

/**
 * Milliseconds until the earliest pending delivery of an enabled endpoint not in `skipped` is due
 * and unclaimed (negative when overdue, null when there is none). Raw: an aggregate over an
 * expression of two columns and now(), which Prisma's aggregate cannot express.
 */
export function msUntilNextDue(skipped: string[]): Prisma.Sql {
  return Prisma.sql`
      SELECT EXTRACT(EPOCH FROM (min(GREATEST(d."nextAttemptAt", d."claimedUntil")) - now())) * 1000 AS ms
      FROM "WebhookDelivery" AS d JOIN "WebhookEndpoint" AS e ON e."id" = d."endpointId"
      WHERE d."status" = 'pending' AND e."enabled" AND d."endpointId" <> ALL(${skipped})`;
}

/**
 * Ends an endpoint's failure run. Raw because it is bookkeeping, not a change to the endpoint:
 * Prisma's update would set updatedAt, which stays as the client left it.
 */
export function clearFailingSince(endpointId: string): Prisma.Sql {
  return Prisma.sql`UPDATE "WebhookEndpoint" SET "failingSince" = NULL WHERE "id" = ${endpointId}`;
}

/** Starts an endpoint's failure run unless one has started. Raw: bookkeeping (see clearFailingSince). */
export function startFailingSince(endpointId: string, since: Date): Prisma.Sql {
  return Prisma.sql`UPDATE "WebhookEndpoint" SET "failingSince" = ${since} WHERE "id" = ${endpointId} AND "failingSince" IS NULL`;
}

/**
 * The tenant's events of `types` since `from` for which the endpoint has no delivery, in log
 * order, with what its content filter reads. Raw: an anti-join (NOT EXISTS) over the event log, which Prisma's filters would load whole.
 */
export function eventsMissedBy(endpoint: {
  tenantId: string;
  endpointId: string;
  from: Date;
  types: readonly string[];
}): Prisma.Sql {
  const { tenantId, endpointId, from, types } = endpoint;
  return Prisma.sql`
          SELECT ev."id", ev."type", ev."resourceId", ev."correlationId", ev."data" FROM "Event" AS ev
          WHERE ev."tenantId" = ${tenantId} AND ev."occurredAt" >= ${from} AND ev."type" = ANY(${types})
            AND NOT EXISTS (SELECT 1 FROM "WebhookDelivery" AS d WHERE d."endpointId" = ${endpointId} AND d."eventId" = ev."id")
          ORDER BY ev."tenantSequence"`;
}

/**
 * Per tenant, its features and the version of its set of webhook endpoints (0 before any). Raw:
 * one round trip for both, which the relay runs for every batch.
 */
export function endpointSetVersions(tenantIds: string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT t."id" AS "tenantId", t."features", coalesce(s."version", 0)::text AS "version"
    FROM "Tenant" AS t LEFT JOIN "WebhookEndpointSet" AS s ON s."tenantId" = t."id"
    WHERE t."id" = ANY(${tenantIds})`;
}

/** A delivery to create, due at once. */
export type NewDelivery = { id: string; tenantId: string; endpointId: string; eventId: string; eventType: string };

/**
 * Creates deliveries due now, skipping any that exist (one per endpoint and event), and wakes the
 * delivery workers when it created any: how many it created (`notified` counts the wake-up as a
 * number: Prisma cannot read pg_notify's void). Raw: one
 * statement over arrays, where Prisma's createMany compiles a query as large as its rows, which for
 * a relay batch (events × endpoints) costs more than the insert itself; and ON CONFLICT DO NOTHING.
 * Written endpoint by endpoint: a claim takes a few of each endpoint's oldest, so its rows spread
 * over pages whose free room (fillfactor 90) holds their new versions and the claim's update stays
 * HOT. In the batch's event order a claim's rows filled one page, and most claims moved their row,
 * with an entry in each of the four indexes.
 */
export function insertDeliveries(deliveries: NewDelivery[]): Prisma.Sql {
  const column = <K extends keyof NewDelivery>(key: K) => deliveries.map((delivery) => delivery[key]);
  return Prisma.sql`
    WITH inserted AS (
      INSERT INTO "WebhookDelivery" ("id", "tenantId", "endpointId", "eventId", "eventType", "nextAttemptAt")
      SELECT *, now() FROM unnest(${column('id')}::text[], ${column('tenantId')}::text[], ${column('endpointId')}::text[], ${column('eventId')}::text[], ${column('eventType')}::text[])
        AS d("id", "tenantId", "endpointId", "eventId", "eventType")
      ORDER BY d."endpointId", d."id"
      ON CONFLICT DO NOTHING
      RETURNING 1)
    SELECT n."created", (SELECT count(*) FROM (SELECT pg_notify(${DELIVERIES_CHANNEL}, '') WHERE n."created" > 0) AS w)::int AS "notified"
    FROM (SELECT count(*)::int AS "created" FROM inserted) AS n`;
}

/** The enabled endpoints of these tenants, with what their filters are saved as. */
export function enabledEndpointsOf(tenantIds: string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT "id", "tenantId", "eventTypes", "filters", "anyOf" FROM "WebhookEndpoint"
    WHERE "tenantId" = ANY(${tenantIds}) AND "enabled"
    ORDER BY "id"`;
}

/**
 * Adds to the endpoints' counts of events their filters kept from them, skipping endpoints deleted
 * meanwhile. Raw: an upsert that adds rather than sets, over one JSON object of counts by endpoint
 * id in one parameter (for ten thousand endpoints, 21 ms of the relay's CPU where two bound arrays
 * took 27).
 */
export function addFilteredOut(counts: ReadonlyMap<string, number>): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "WebhookFilteredCount" ("endpointId", "filteredOut")
    SELECT c.key, c.value::bigint FROM jsonb_each_text(${JSON.stringify(Object.fromEntries(counts))}::jsonb) AS c
    JOIN "WebhookEndpoint" AS e ON e."id" = c.key
    ON CONFLICT ("endpointId") DO UPDATE SET "filteredOut" = "WebhookFilteredCount"."filteredOut" + excluded."filteredOut"`;
}

/** Wakes the delivery workers of every process. Raw: NOTIFY has no Prisma API. */
export function notifyDeliveryWorkers(): Prisma.Sql {
  return Prisma.sql`SELECT pg_notify(${DELIVERIES_CHANNEL}, '')`;
}
