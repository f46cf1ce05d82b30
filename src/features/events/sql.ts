import { Prisma } from '../../generated/prisma/client.js';

// The events feature's raw SQL, one function per statement. Each says why it bypasses Prisma's
// query API; callers run it with $queryRaw / $executeRaw, or on the driver (Database.query).

/** A row of appendedEvents: one event of the log, before its sequence is known. */
export type AppendedEvent = {
  id: string;
  type: string;
  resourceType: string;
  resourceId: string;
  correlationId: string;
  data: Prisma.InputJsonValue;
};

/**
 * The `kept`, `next` and `appended` CTEs that append events to the log. Raw because the tenant's
 * counter bump and the inserts must be one statement: bumping the counter row locks it until
 * commit, which makes tenantSequence gapless and ordered by commit. `kept` narrows the events
 * (say, to the rows a write returned); the counter moves by as many as are kept, and not at all
 * (no lock) when none is. A trigger NOTIFYs the relays.
 */
function appendedEvents(
  tenantId: string,
  events: AppendedEvent[],
  keep: Prisma.Sql = Prisma.sql`TRUE`,
  more: Prisma.Sql = Prisma.empty,
): Prisma.Sql {
  const rows = events.map((event, index) => ({ n: index + 1, ...event }));
  return Prisma.sql`
    kept AS (
      SELECT e.*, row_number() OVER (ORDER BY e."n") AS "k"
      FROM (SELECT * FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS e("n" int, "id" text, "type" text, "resourceType" text, "resourceId" text, "correlationId" text, "data" jsonb)
        ${more}) e
      WHERE ${keep}
    ),
    next AS (
      UPDATE "Tenant" SET "eventSequence" = "eventSequence" + (SELECT count(*) FROM kept)
      WHERE "id" = ${tenantId} AND EXISTS (SELECT FROM kept)
      RETURNING "eventSequence" - (SELECT count(*) FROM kept) AS "before"
    ),
    appended AS (
      INSERT INTO "Event" ("id", "tenantId", "tenantSequence", "type", "occurredAt", "correlationId", "resourceType", "resourceId", "data")
      SELECT e."id", ${tenantId}, next."before" + e."k", e."type", ${new Date()}::timestamp, e."correlationId", e."resourceType", e."resourceId", e."data"
      FROM next, kept e
    )`;
}

/** Appends events to the log (raw: see appendedEvents). */
export function appendEvents(tenantId: string, events: AppendedEvent[]): Prisma.Sql {
  return Prisma.sql`WITH ${appendedEvents(tenantId, events)} SELECT 1`;
}

/**
 * Runs `write` (an INSERT … RETURNING) and appends events in the same statement, returning what
 * `write` returned (raw: one statement is atomic without a transaction, see appendedEvents).
 */
export function writeAndAppendEvents(write: Prisma.Sql, tenantId: string, events: AppendedEvent[]): Prisma.Sql {
  return Prisma.sql`WITH written AS (${write}), ${appendedEvents(tenantId, events)} SELECT * FROM written`;
}

/**
 * Like writeAndAppendEvents, for a write that may skip rows (INSERT … ON CONFLICT DO NOTHING
 * RETURNING "id"…): only the events of the rows it returned (resourceId = "id") are appended.
 */
export function writeAndAppendEventsOfWritten(
  write: Prisma.Sql,
  tenantId: string,
  events: AppendedEvent[],
): Prisma.Sql {
  const keep = Prisma.sql`e."resourceId" IN (SELECT "id" FROM written)`;
  return Prisma.sql`WITH written AS (${write}), ${appendedEvents(tenantId, events, keep)} SELECT * FROM written`;
}

/**
 * The CTEs that append, only when the statement's CTE `changed` (an UPDATE … RETURNING rows that
 * each name their event, as for changeAndAppendEvents, all of `tenantId`: a job's progress) changed
 * a row, `events` and then the events its rows name (ids `changedEventIds`, one per row it may
 * return). For a statement whose work counts only along with that change: the rest of its writes
 * are to check `EXISTS (SELECT FROM changed)` too. Raw: see appendedEvents.
 */
export function appendedEventsWithChange(tenantId: string, events: AppendedEvent[], changedEventIds: string[]) {
  const changedEvents = Prisma.sql`
    UNION ALL
    SELECT ${events.length} + row_number() OVER (ORDER BY c."eventResourceId"), (${changedEventIds}::text[])[row_number() OVER (ORDER BY c."eventResourceId")],
           c."eventType", c."eventResourceType", c."eventResourceId", c."correlationId", c."eventData"
    FROM changed c`;
  return appendedEvents(tenantId, events, Prisma.sql`EXISTS (SELECT FROM changed)`, changedEvents);
}

/**
 * Locks up to `tenantLimit` relay cursors that have unpublished events (of `tenantIds`; null: any
 * tenant's), moves them past up to `eventLimit` events each and returns those events with their
 * data (the content filters of subscribers and webhook endpoints read it), `occurredAt` as ISO 8601
 * text (the relay runs it on the driver). Raw because Prisma has no FOR UPDATE … SKIP LOCKED, and
 * it all is one round trip per batch.
 */
export function claimUnpublishedEvents(
  tenantIds: string[] | null,
  tenantLimit: number,
  eventLimit: number,
): Prisma.Sql {
  return Prisma.sql`
    WITH cursor AS (
      SELECT c."tenantId", c."publishedSequence" FROM "RelayCursor" c JOIN "Tenant" t ON t."id" = c."tenantId"
      WHERE t."eventSequence" > c."publishedSequence" AND (${tenantIds}::text[] IS NULL OR c."tenantId" = ANY(${tenantIds}::text[]))
      LIMIT ${tenantLimit}
      FOR UPDATE OF c SKIP LOCKED),
    batch AS (
      SELECT e.* FROM cursor c CROSS JOIN LATERAL (
        SELECT "id", "tenantId", "tenantSequence", "type", to_char("occurredAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "occurredAt",
               "correlationId", "resourceType", "resourceId", "data" FROM "Event"
        WHERE "tenantId" = c."tenantId" AND "tenantSequence" > c."publishedSequence"
        ORDER BY "tenantSequence" LIMIT ${eventLimit}) e),
    advanced AS (
      UPDATE "RelayCursor" c SET "publishedSequence" = b."last"
      FROM (SELECT "tenantId", max("tenantSequence") AS "last" FROM batch GROUP BY "tenantId") b
      WHERE c."tenantId" = b."tenantId")
    SELECT * FROM batch ORDER BY "tenantId", "tenantSequence"`;
}

/** Refreshes the planner's statistics of the deliveries table (raw: Prisma has no ANALYZE). */
export function analyzeWebhookDeliveries(): Prisma.Sql {
  return Prisma.sql`ANALYZE "WebhookDelivery"`;
}

/**
 * Runs `change` (an UPDATE … RETURNING) and appends one event per row it returned, in the same
 * statement, returning what `change` returned. Each row names its event in the columns
 * "tenantId", "correlationId", "eventType", "eventResourceType", "eventResourceId" and "eventData"
 * (built by `change` from the row as changed), so events of rows nobody knew beforehand (a claim)
 * need no second statement. Rows may be several tenants': their counter rows are locked in id
 * order, so two such statements cannot deadlock (FOR NO KEY UPDATE, the lock the counter's UPDATE
 * takes anyway: FOR UPDATE would also hold off every insert whose foreign key names the tenant);
 * a tenant's events are numbered by resource id.
 * `eventIds` holds an id for each row `change` may return. Raw: see appendedEvents.
 */
export function changeAndAppendEvents(change: Prisma.Sql, eventIds: string[]): Prisma.Sql {
  return Prisma.sql`
    WITH changed AS (${change}),
    numbered AS (
      SELECT c."tenantId", c."correlationId", c."eventType", c."eventResourceType", c."eventResourceId", c."eventData",
             row_number() OVER (ORDER BY c."tenantId", c."eventResourceId") AS "n",
             row_number() OVER (PARTITION BY c."tenantId" ORDER BY c."eventResourceId") AS "k",
             count(*) OVER (PARTITION BY c."tenantId") AS "of"
      FROM changed c),
    locked AS (
      SELECT t."id" FROM "Tenant" t WHERE t."id" IN (SELECT "tenantId" FROM changed) ORDER BY t."id" FOR NO KEY UPDATE),
    next AS (
      UPDATE "Tenant" t SET "eventSequence" = t."eventSequence" + c."of"
      FROM locked l JOIN (SELECT DISTINCT "tenantId", "of" FROM numbered) c ON c."tenantId" = l."id"
      WHERE t."id" = l."id"
      RETURNING t."id", t."eventSequence" - c."of" AS "before"),
    appended AS (
      INSERT INTO "Event" ("id", "tenantId", "tenantSequence", "type", "occurredAt", "correlationId", "resourceType", "resourceId", "data")
      SELECT (${eventIds}::text[])[e."n"], e."tenantId", next."before" + e."k", e."eventType", ${new Date()}, e."correlationId",
             e."eventResourceType", e."eventResourceId", e."eventData"
      FROM numbered e JOIN next ON next."id" = e."tenantId")
    SELECT * FROM changed`;
}
