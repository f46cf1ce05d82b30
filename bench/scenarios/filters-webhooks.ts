import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { customMeasurement } from '../lib/custom-load.js';
import { processCpuMs } from '../lib/machine.js';
import { defineScenario, type BenchTenant } from '../lib/types.js';

/** Webhook endpoints of the one tenant. */
const ENDPOINTS = Math.max(1, Number(process.env.BENCH_FILTERED_ENDPOINTS ?? 10_000));
/** Events committed one at a time (each published before the next), and at once in one statement. */
const TRICKLE_EVENTS = Math.max(1, Number(process.env.BENCH_FILTER_TRICKLE_EVENTS ?? 200));
const BULK_EVENTS = Math.max(1, Number(process.env.BENCH_FILTER_BULK_EVENTS ?? 2_000));
const EVENT_TYPE = 'communication.contact.created';
/** The relay publishes a commit within milliseconds; past this, the run fails. */
const PUBLISH_TIMEOUT_MS = 120_000;

/**
 * What content filters cost the relay: one tenant with ENDPOINTS webhook endpoints, and its
 * contact events committed straight into the log (so the gateway's only work is the relay's:
 * publish, judge every endpoint, create deliveries). Measured twice on the same gateway: the
 * endpoints not wanting the events' type (the relay reads and judges them by type only), then
 * all wanting it, each with a filter of its own (`customData.erpId is E-<n>`) that the events do
 * not match (every filter evaluated, every endpoint's kept-back count raised). The gateway's CPU
 * per event, until it has published them and, filtered, written the counts of what the filters
 * kept back; the difference being what the filters add; committed one at a time (a relay pass per
 * event, the worst case) and all at once (passes of 500).
 */
export const filtersWebhooks = defineScenario({
  id: 'filters.webhooks',
  title: `relay CPU per event with ${ENDPOINTS} filtered webhook endpoints on one tenant`,
  target: {
    kind: 'limits',
    max: { 'filters add, ms/event, one at a time': 1, 'filters add, ms/event, at once': 1 },
  },

  async setup(ctx) {
    return { tenant: await ctx.createTenant('Bench filtered endpoints', ['communication']) };
  },

  // Nothing to compare with: the figures are the gateway's against itself.
  baseline: { method: 'GET', handle: async () => ({ status: 200, body: {} }) },

  async load(ctx, { tenant }) {
    return {
      kind: 'custom',
      async run({ warmup }) {
        if (ctx.side !== 'gateway' || warmup) return customMeasurement({ ok: 1, durationSeconds: 1, latenciesMs: [0] });
        const began = performance.now();
        const figures: Record<string, number> = {};
        const relay = relayOf(ctx.sql, tenant, ctx.pid);
        await setEndpoints(ctx.sql, tenant, 'by type');
        await relay.commit(10); // the relay's first pass over the endpoints
        const byType = { trickle: await relay.trickle(TRICKLE_EVENTS), bulk: await relay.bulk(BULK_EVENTS) };
        await setEndpoints(ctx.sql, tenant, 'filtered');
        await relay.commit(10); // each endpoint's filter compiled, once
        await relay.keptBackWritten(10 * ENDPOINTS);
        // Until the counts of what the filters kept back are written too: their write is part of the cost.
        const filtered = {
          trickle: await relay.trickle(TRICKLE_EVENTS, (10 + TRICKLE_EVENTS) * ENDPOINTS),
          bulk: await relay.bulk(BULK_EVENTS, (10 + TRICKLE_EVENTS + BULK_EVENTS) * ENDPOINTS),
        };
        figures['no filter, ms/event, one at a time'] = byType.trickle;
        figures['filtered, ms/event, one at a time'] = filtered.trickle;
        figures['filters add, ms/event, one at a time'] = Math.max(0, filtered.trickle - byType.trickle);
        figures['no filter, ms/event, at once'] = byType.bulk;
        figures['filtered, ms/event, at once'] = filtered.bulk;
        figures['filters add, ms/event, at once'] = Math.max(0, filtered.bulk - byType.bulk);
        const deliveries = await ctx.sql.query(
          `SELECT count(*)::int AS n FROM "WebhookDelivery" WHERE "tenantId" = $1`,
          [tenant.tenantId],
        );
        const filteredOut = await relay.keptBack();
        const events = 2 * (10 + TRICKLE_EVENTS + BULK_EVENTS);
        return {
          ...customMeasurement({
            ok: events,
            durationSeconds: (performance.now() - began) / 1000,
            latenciesMs: [filtered.trickle],
            errors:
              deliveries.rows[0].n === 0 ? [] : [`${deliveries.rows[0].n} deliveries for events no filter matches`],
          }),
          figures,
          notes: [
            `${ENDPOINTS} endpoints; ${TRICKLE_EVENTS} events one at a time, ${BULK_EVENTS} at once; gateway CPU per event (ms)`,
            `events kept back by the filters, counted: ${filteredOut} (${ENDPOINTS} × ${10 + TRICKLE_EVENTS + BULK_EVENTS} expected)`,
          ],
        };
      },
    };
  },
});

/** The tenant's endpoints: not wanting the events' type, or wanting it with a filter of their own that they do not match. */
async function setEndpoints(sql: pg.Pool, tenant: BenchTenant, mode: 'by type' | 'filtered') {
  await sql.query(`DELETE FROM "WebhookEndpoint" WHERE "tenantId" = $1`, [tenant.tenantId]);
  const filtered = mode === 'filtered';
  await sql.query(
    `INSERT INTO "WebhookEndpoint" ("id", "tenantId", "url", "eventTypes", "filters", "updatedAt")
     SELECT 'whep_bench' || lpad(n::text, 16, '0'), $1, 'http://127.0.0.1:9/hook', $2::text[],
            CASE WHEN $3 THEN jsonb_build_array(jsonb_build_object('field', 'customData.erpId', 'operator', 'is', 'value', 'E-' || n)) ELSE '[]'::jsonb END,
            now()
     FROM generate_series(1, $4::int) AS n`,
    [tenant.tenantId, filtered ? ['communication.contact.*'] : ['communication.contact.deleted'], filtered, ENDPOINTS],
  );
}

/** Commits events into the tenant's log and measures the gateway's CPU until its relay has published them. */
function relayOf(sql: pg.Pool, tenant: BenchTenant, pid: number) {
  let made = 0;
  async function commit(count: number): Promise<number> {
    const { rows } = await sql.query(
      `WITH next AS (UPDATE "Tenant" SET "eventSequence" = "eventSequence" + $2 WHERE "id" = $1 RETURNING "eventSequence")
       INSERT INTO "Event" ("id", "tenantId", "tenantSequence", "type", "occurredAt", "correlationId", "resourceType", "resourceId", "data")
       SELECT 'evt_bench' || lpad(($3 + g)::text, 17, '0'), $1, next."eventSequence" - $2 + g, $4, now(), 'bench', 'contact',
              'contact_bench' || g, jsonb_build_object('tag', 'regular', 'customData', jsonb_build_object('erpId', 'none'))
       FROM next, generate_series(1, $2::int) AS g
       RETURNING "tenantSequence"`,
      [tenant.tenantId, count, made, EVENT_TYPE],
    );
    made += count;
    const last = Math.max(...rows.map((row: { tenantSequence: number }) => row.tenantSequence));
    const deadline = Date.now() + PUBLISH_TIMEOUT_MS;
    for (;;) {
      const cursor = await sql.query(`SELECT "publishedSequence" FROM "RelayCursor" WHERE "tenantId" = $1`, [
        tenant.tenantId,
      ]);
      if (cursor.rows[0].publishedSequence >= last) return last;
      if (Date.now() > deadline)
        throw new Error(`the relay did not publish sequence ${last} within ${PUBLISH_TIMEOUT_MS} ms`);
      await sleep(1);
    }
  }
  /** The tenant's events its endpoints' filters kept from them, as written so far. */
  async function keptBack(): Promise<number> {
    const { rows } = await sql.query(
      `SELECT coalesce(sum(f."filteredOut"), 0)::bigint AS n FROM "WebhookFilteredCount" f JOIN "WebhookEndpoint" e ON e."id" = f."endpointId" WHERE e."tenantId" = $1`,
      [tenant.tenantId],
    );
    return Number(rows[0].n);
  }
  /** Waits until the gateway has written that many kept-back events (it writes them every few seconds). */
  async function keptBackWritten(expected: number): Promise<void> {
    const deadline = Date.now() + PUBLISH_TIMEOUT_MS;
    while ((await keptBack()) < expected) {
      if (Date.now() > deadline)
        throw new Error(`${expected} kept-back events not written within ${PUBLISH_TIMEOUT_MS} ms`);
      await sleep(50);
    }
  }
  /** Gateway CPU ms per event over `work`, which commits `events` events, and the write of the kept-back count, if any is expected. */
  async function cpuPerEvent(events: number, keptBackAfter: number, work: () => Promise<void>): Promise<number> {
    const before = processCpuMs(pid)!;
    await work();
    if (keptBackAfter) await keptBackWritten(keptBackAfter);
    return (processCpuMs(pid)! - before) / events;
  }
  return {
    commit,
    keptBack,
    keptBackWritten,
    trickle: (events: number, keptBackAfter = 0) =>
      cpuPerEvent(events, keptBackAfter, async () => {
        for (let i = 0; i < events; i++) await commit(1);
      }),
    bulk: (events: number, keptBackAfter = 0) =>
      cpuPerEvent(events, keptBackAfter, async () => void (await commit(events))),
  };
}
