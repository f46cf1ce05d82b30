import { Prisma } from '../../generated/prisma/client.js';
import { columnList } from '../../db/insert-rows.js';

// The transfer feature's raw SQL, one function per statement. Raw because an export writes each
// stored row as PostgreSQL's to_jsonb renders it (every column, exact decimals, whatever columns
// later migrations add) without parsing it in JavaScript, and an import turns those objects back
// into rows with the table's own row type (jsonb_populate_record), which Prisma's query API
// cannot express. A page's rows are chosen in a subquery and only they are rendered: whatever plan
// the rows are found with (a table without statistics yet sorts them), JSON is built for one page.

/** One record line of an export page and its keyset position. */
export type ExportLine = { key: string; line: string };

/** How many rows of each record type the tenant holds, for an export's progress. */
export function countTenantRows(tenantId: string): Prisma.Sql {
  return Prisma.sql`
    SELECT
      (SELECT count(*)::int FROM "Application" WHERE "tenantId" = ${tenantId}) AS "application",
      (SELECT count(*)::int FROM "SellerProfile" WHERE "tenantId" = ${tenantId}) AS "sellerProfile",
      (SELECT count(*)::int FROM "Contact" WHERE "tenantId" = ${tenantId}) AS "contact",
      (SELECT count(*)::int FROM "Invoice" WHERE "tenantId" = ${tenantId}) AS "invoice",
      (SELECT count(*)::int FROM "InvoiceCounter" WHERE "tenantId" = ${tenantId}) AS "invoiceCounter",
      (SELECT count(*)::int FROM "WebhookEndpoint" WHERE "tenantId" = ${tenantId}) AS "webhookEndpoint",
      (SELECT count(*)::int FROM "Runner" WHERE "tenantId" = ${tenantId}) AS "runner",
      (SELECT count(*)::int FROM "Event" WHERE "tenantId" = ${tenantId}) AS "event"`;
}

/** A page of the tenant's applications (names only: keys never leave an installation). */
export function applicationLines(tenantId: string, afterId: string, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT a."id" AS "key", jsonb_build_object('type', 'application', 'row', to_jsonb(a) - 'tenantId')::text AS "line"
    FROM (SELECT * FROM "Application" WHERE "tenantId" = ${tenantId} AND "id" > ${afterId} ORDER BY "id" LIMIT ${limit}) a
    ORDER BY a."id"`;
}

/** The tenant's seller profile (one row at most; its logo as PostgreSQL writes bytea in JSON: "\\x…" hex). */
export function sellerProfileLines(tenantId: string, afterTenantId: string): Prisma.Sql {
  return Prisma.sql`
    SELECT p."tenantId" AS "key", jsonb_build_object('type', 'sellerProfile', 'row', to_jsonb(p) - 'tenantId')::text AS "line"
    FROM "SellerProfile" p WHERE p."tenantId" = ${tenantId} AND p."tenantId" > ${afterTenantId}`;
}

/** A page of the tenant's contacts, by id (the (tenantId, id) index). */
export function contactLines(tenantId: string, afterId: string, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT c."id" AS "key", jsonb_build_object('type', 'contact', 'row', to_jsonb(c) - 'tenantId')::text AS "line"
    FROM (SELECT * FROM "Contact" WHERE "tenantId" = ${tenantId} AND "id" > ${afterId} ORDER BY "id" LIMIT ${limit}) c
    ORDER BY c."id"`;
}

/** A page of the tenant's invoices, each with its lines in position order. */
export function invoiceLines(tenantId: string, afterId: string, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT i."id" AS "key", jsonb_build_object(
      'type', 'invoice',
      'row', to_jsonb(i) - 'tenantId',
      'lines', COALESCE((SELECT jsonb_agg(to_jsonb(l) ORDER BY l."position") FROM "InvoiceLine" l WHERE l."invoiceId" = i."id"), '[]'::jsonb)
    )::text AS "line"
    FROM (SELECT * FROM "Invoice" WHERE "tenantId" = ${tenantId} AND "id" > ${afterId} ORDER BY "id" LIMIT ${limit}) i
    ORDER BY i."id"`;
}

/** The tenant's invoice number counters (one a year). */
export function invoiceCounterLines(tenantId: string, afterYear: string, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT n."year"::text AS "key", jsonb_build_object('type', 'invoiceCounter', 'row', to_jsonb(n) - 'tenantId')::text AS "line"
    FROM (SELECT * FROM "InvoiceCounter" WHERE "tenantId" = ${tenantId} AND "year" > ${Number(afterYear || 0)}
      ORDER BY "year" LIMIT ${limit}) n
    ORDER BY n."year"`;
}

/** A page of webhook endpoints; their signing secrets only when `withSecrets`. */
export function webhookEndpointLines(
  tenantId: string,
  afterId: string,
  limit: number,
  withSecrets: boolean,
): Prisma.Sql {
  return Prisma.sql`
    SELECT w."id" AS "key", (jsonb_build_object('type', 'webhookEndpoint', 'row', to_jsonb(w) - 'tenantId') ||
      CASE WHEN ${withSecrets} THEN jsonb_build_object('secrets', COALESCE(
        (SELECT jsonb_agg(to_jsonb(s) ORDER BY s."createdAt", s."id") FROM "WebhookSecret" s WHERE s."endpointId" = w."id"),
        '[]'::jsonb)) ELSE '{}'::jsonb END)::text AS "line"
    FROM (SELECT * FROM "WebhookEndpoint" WHERE "tenantId" = ${tenantId} AND "id" > ${afterId} ORDER BY "id" LIMIT ${limit}) w
    ORDER BY w."id"`;
}

/** A page of runners: their metadata, and their key's hash only when `withSecrets`. */
export function runnerLines(tenantId: string, afterId: string, limit: number, withSecrets: boolean): Prisma.Sql {
  return Prisma.sql`
    SELECT r."id" AS "key", jsonb_build_object('type', 'runner',
      'row', to_jsonb(r) - 'tenantId' - CASE WHEN ${withSecrets} THEN '' ELSE 'keyHash' END)::text AS "line"
    FROM (SELECT * FROM "Runner" WHERE "tenantId" = ${tenantId} AND "id" > ${afterId} ORDER BY "id" LIMIT ${limit}) r
    ORDER BY r."id"`;
}

/** A page of the event log, in tenantSequence order. */
export function eventLines(tenantId: string, afterSequence: string, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT e."tenantSequence"::text AS "key", jsonb_build_object('type', 'event', 'row', to_jsonb(e) - 'tenantId')::text AS "line"
    FROM (SELECT * FROM "Event" WHERE "tenantId" = ${tenantId} AND "tenantSequence" > ${Number(afterSequence || 0)}
      ORDER BY "tenantSequence" LIMIT ${limit}) e
    ORDER BY e."tenantSequence"`;
}

/** The columns a table has in this database, for inserts that name what both the file and the table hold. */
export function tableColumns(table: string): Prisma.Sql {
  return Prisma.sql`
    SELECT attname AS "name" FROM pg_attribute
    WHERE attrelid = to_regclass(${`"${table}"`}) AND attnum > 0 AND NOT attisdropped ORDER BY attnum`;
}

/**
 * Inserts the `row` of each record line (a JSON array of them) into `table`, owned by `tenantId`;
 * `extra` is merged into each row (a runner's unusable key hash). A row whose key (its id; the
 * tenant for a seller profile) is already stored is left as it is, so importing a file again
 * writes nothing. Answers the keys inserted, as `id`.
 */
export function insertRecords(
  table: string,
  columns: readonly string[],
  records: string,
  tenantId: string,
  options: { extra?: Prisma.Sql; key?: 'id' | 'tenantId' } = {},
): Prisma.Sql {
  const extra = options.extra ?? Prisma.sql`'{}'::jsonb`;
  const key = Prisma.raw(`"${options.key ?? 'id'}"`);
  const name = Prisma.raw(`"${table}"`);
  const list = columnList(columns);
  return Prisma.sql`
    INSERT INTO ${name} (${list})
    SELECT ${list} FROM jsonb_array_elements(${records}::jsonb) AS x("record"),
      LATERAL jsonb_populate_record(NULL::${name}, (x."record"->'row') || jsonb_build_object('tenantId', ${tenantId}::text) || ${extra}) AS r
    ON CONFLICT (${key}) DO NOTHING
    RETURNING ${key} AS "id"`;
}

/**
 * What insertRecords merges into a runner: its own key hash when `allowed` and the file has it,
 * else an unusable one (no key hashes to it), so a tenant cannot mint runner keys by import.
 */
export function unusableKeyHash(allowed: boolean): Prisma.Sql {
  return Prisma.sql`CASE WHEN ${allowed} AND x."record"->'row' ? 'keyHash' THEN '{}'::jsonb
    ELSE jsonb_build_object('keyHash', 'imported-without-key:' || gen_random_uuid()::text) END`;
}

/**
 * Inserts the children listed under `field` of each record (an invoice's `lines`, an endpoint's
 * `secrets`) whose parent is one of `parentIds` (inserted just now), pointed at that parent.
 */
export function insertChildRecords(
  table: string,
  columns: readonly string[],
  records: string,
  field: string,
  parentColumn: string,
  parentIds: string[],
): Prisma.Sql {
  const name = Prisma.raw(`"${table}"`);
  const list = columnList(columns);
  return Prisma.sql`
    INSERT INTO ${name} (${list})
    SELECT ${list} FROM jsonb_array_elements(${records}::jsonb) AS x("record"),
      LATERAL jsonb_array_elements(COALESCE(x."record"->${field}, '[]'::jsonb)) AS c("child"),
      LATERAL jsonb_populate_record(NULL::${name}, c."child" || jsonb_build_object(${parentColumn}::text, x."record"->'row'->'id')) AS r
    WHERE x."record"->'row'->>'id' = ANY(${parentIds}::text[])
    ON CONFLICT ("id") DO NOTHING`;
}

/** Which of `ids` the tenant holds in `table` (a row not inserted was already there, or is another tenant's). */
export function idsOfTenant(table: string, tenantId: string, ids: string[]): Prisma.Sql {
  return Prisma.sql`SELECT "id" FROM ${Prisma.raw(`"${table}"`)} WHERE "tenantId" = ${tenantId} AND "id" = ANY(${ids}::text[])`;
}

/**
 * Sets the tenant's invoice number counters to at least the file's (never back: numbers already
 * handed out stay taken). Answers the years whose counter changed.
 */
export function raiseInvoiceCounters(records: string, tenantId: string): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "InvoiceCounter" ("tenantId", "year", "last")
    SELECT ${tenantId}, r."year", r."last" FROM jsonb_array_elements(${records}::jsonb) AS x("record"),
      LATERAL jsonb_to_record(x."record"->'row') AS r("year" int, "last" int)
    ON CONFLICT ("tenantId", "year") DO UPDATE SET "last" = EXCLUDED."last" WHERE "InvoiceCounter"."last" < EXCLUDED."last"
    RETURNING "year"`;
}

/** The tenant's log position, its row locked so no event of the tenant is appended meanwhile. */
export function lockTenantLog(tenantId: string): Prisma.Sql {
  return Prisma.sql`SELECT "eventSequence" FROM "Tenant" WHERE "id" = ${tenantId} FOR UPDATE`;
}

/** How far the relays published the tenant's log; no row while a relay holds it (SKIP LOCKED). */
export function lockRelayCursor(tenantId: string): Prisma.Sql {
  return Prisma.sql`SELECT "publishedSequence" FROM "RelayCursor" WHERE "tenantId" = ${tenantId} FOR UPDATE SKIP LOCKED`;
}

/**
 * Appends the file's events the log does not hold yet after `sequence`, in their original order,
 * with their ids, times and data; answers the ids appended. (The Event trigger's NOTIFY finds
 * nothing to publish: the caller moves the relay cursor past them.)
 */
export function appendImportedEvents(
  columns: readonly string[],
  records: string,
  tenantId: string,
  sequence: number,
): Prisma.Sql {
  const list = columnList(columns);
  const values = Prisma.raw(
    columns.map((column) => (column === 'tenantSequence' ? `${sequence} + r."n"` : `r."${column}"`)).join(', '),
  );
  return Prisma.sql`
    WITH fresh AS (
      SELECT e.* FROM jsonb_array_elements(${records}::jsonb) AS x("record"),
        LATERAL jsonb_populate_record(NULL::"Event", (x."record"->'row') || jsonb_build_object('tenantId', ${tenantId}::text)) AS e
      WHERE NOT EXISTS (SELECT 1 FROM "Event" o WHERE o."id" = e."id")),
    r AS (SELECT fresh.*, row_number() OVER (ORDER BY fresh."tenantSequence", fresh."id") AS "n" FROM fresh)
    INSERT INTO "Event" (${list}) SELECT ${values} FROM r
    RETURNING "id"`;
}

/** Moves the tenant's log and its relay cursor together past imported events, which are history, not news. */
export function advanceLogAndCursor(tenantId: string, sequence: number): Prisma.Sql {
  return Prisma.sql`
    WITH log AS (UPDATE "Tenant" SET "eventSequence" = ${sequence} WHERE "id" = ${tenantId})
    UPDATE "RelayCursor" SET "publishedSequence" = ${sequence} WHERE "tenantId" = ${tenantId}`;
}
