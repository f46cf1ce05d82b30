import { setTimeout as sleep } from 'node:timers/promises';
import { customMeasurement } from '../lib/custom-load.js';
import { requestJson } from '../lib/http.js';
import type { BenchTenant, Measurement } from '../lib/types.js';
import { defineScenario } from '../lib/types.js';
import { deliveryKey, startReceivers, type Receivers } from '../lib/webhook-receivers.js';
import { contactFixture } from './contacts-fixtures.js';

/** Receivers, by index: one tenant's slow and failing endpoints, another tenant's healthy one. */
const SLOW = 0;
const FAILING = 1;
const HEALTHY = 2;
/** How long the slow receiver takes to answer: longer than WEBHOOK_TIMEOUT (15 s by default). */
const SLOW_ANSWER_MS = 20_000;
/** Due deliveries of each busy endpoint when the healthy events start (one import of this many contacts). */
const BUSY_EVENTS = Math.max(1, Number(process.env.BENCH_FAIRNESS_BUSY_EVENTS ?? 500));
/** Events of the healthy endpoint's tenant, one every INTERVAL_MS. */
const HEALTHY_EVENTS = Math.max(1, Number(process.env.BENCH_FAIRNESS_EVENTS ?? 100));
const INTERVAL_MS = 100;
const WARMUP_EVENTS = 20;
/** A healthy event not received within this is lost (the run then fails). */
const MAX_WAIT_MS = 60_000;
const EVENT_TYPE = 'communication.contact.created';

type State = { busy: BenchTenant; quiet: BenchTenant; receivers: Receivers; secrets: (string | undefined)[] };

/**
 * Fairness between webhook endpoints: while one tenant's endpoint answers after 20 s and its other
 * endpoint fails with 500, both with hundreds of deliveries due, another tenant's healthy endpoint
 * gets an event every 100 ms. Each event's latency from its commit to the healthy receiver, against
 * the same gateway (a fresh process, default webhook settings) with the healthy endpoint alone.
 */
export const webhooksFairness = defineScenario<State>({
  id: 'webhooks.fairness',
  title: `healthy endpoint's events next to a 20 s and a failing endpoint with ${BUSY_EVENTS} due each`,
  target: { kind: 'p99', maxRatio: 5, maxMs: 2_000 },
  env: { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' },

  async setup(ctx) {
    return {
      busy: await ctx.createTenant('Bench busy endpoints', ['communication']),
      quiet: await ctx.createTenant('Bench healthy endpoint', ['communication']),
      receivers: await startReceivers(3, (receiver) =>
        receiver === SLOW
          ? { status: 200, delayMs: SLOW_ANSWER_MS }
          : receiver === FAILING
            ? { status: 500 }
            : { status: 204 },
      ),
      secrets: [],
    };
  },

  // The baseline is the gateway itself, without the busy endpoints: what the healthy endpoint's
  // latency is when nobody else's deliveries compete with it.
  baseline: { script: 'src/main.ts' },

  async load(ctx, state) {
    const { busy, quiet, receivers, secrets } = state;
    const call = async (
      tenant: BenchTenant,
      method: 'POST' | 'GET' | 'DELETE',
      path: string,
      body?: unknown,
      correlationId?: string,
    ) => {
      const headers: Record<string, string> = {
        authorization: `Bearer ${tenant.apiKey}`,
        ...(correlationId ? { 'x-correlation-id': correlationId } : {}),
      };
      return requestJson(ctx.baseUrl, method, path, { headers, body });
    };
    const endpoint = async (tenant: BenchTenant, receiver: number) => {
      const res = await call(tenant, 'POST', '/api/v1/webhooks/endpoints', {
        url: receivers.urls[receiver],
        eventTypes: [EVENT_TYPE],
      });
      if (res.status !== 201)
        throw new Error(`creating an endpoint failed: HTTP ${res.status} ${res.text.slice(0, 500)}`);
      secrets[receiver] = res.body.secret;
      receivers.useSecrets(secrets);
      return res.body.endpointId as string;
    };
    /** Deletes every endpoint of the tenant, with its deliveries. */
    const deleteEndpoints = async (tenant: BenchTenant) => {
      const res = await call(tenant, 'GET', '/api/v1/webhooks/endpoints?limit=100');
      for (const { endpointId } of res.body.items)
        await call(tenant, 'DELETE', `/api/v1/webhooks/endpoints/${endpointId}`);
    };

    // Each side starts from no endpoints: the other side's busy deliveries are gone with theirs.
    await deleteEndpoints(busy);
    await deleteEndpoints(quiet);
    const withNeighbours = ctx.side === 'gateway';
    if (withNeighbours) {
      await endpoint(busy, SLOW);
      await endpoint(busy, FAILING);
    }
    await endpoint(quiet, HEALTHY);

    /** The busy tenant's import: BUSY_EVENTS deliveries due for each of its endpoints. */
    async function loadNeighbours(phase: string): Promise<void> {
      const contacts = Array.from({ length: BUSY_EVENTS }, (_, i) =>
        contactFixture(`${ctx.runId}-${ctx.side}-busy-${phase}-${i}`),
      );
      const res = await call(busy, 'POST', '/api/v1/contacts/contacts/import', { contacts });
      if (res.status !== 202)
        throw new Error(`the busy import was refused: HTTP ${res.status} ${res.text.slice(0, 500)}`);
      // Under way: the slow endpoint holds its attempts and the failing one is failing.
      const deadline = Date.now() + MAX_WAIT_MS;
      while (receivers.requests[SLOW]! === 0 || receivers.requests[FAILING]! < 10) {
        if (Date.now() > deadline) throw new Error('the busy endpoints received nothing');
        await sleep(50);
      }
    }

    /** One event of the healthy endpoint's tenant every INTERVAL_MS; their latency from commit to receipt. */
    async function healthyEvents(phase: string, count: number): Promise<Measurement> {
      const correlationId = `${ctx.runId}-${ctx.side}-fairness-${phase}`;
      const started = Date.now();
      for (let i = 0; i < count; i++) {
        await sleep(Math.max(0, started + i * INTERVAL_MS - Date.now()));
        const res = await call(
          quiet,
          'POST',
          '/api/v1/contacts/contacts',
          contactFixture(`${correlationId}-${i}`),
          correlationId,
        );
        if (res.status !== 201)
          throw new Error(`creating a contact failed: HTTP ${res.status} ${res.text.slice(0, 500)}`);
      }
      const { rows } = await ctx.sql.query<{ id: string; since: number }>(
        `SELECT "id", EXTRACT(EPOCH FROM "occurredAt")::float8 * 1000 AS since FROM "Event" WHERE "correlationId" = $1 AND "type" = $2`,
        [correlationId, EVENT_TYPE],
      );
      const deadline = Date.now() + MAX_WAIT_MS;
      while (rows.some((event) => !receivers.received.has(deliveryKey(HEALTHY, event.id))) && Date.now() < deadline)
        await sleep(50);
      const latencies: number[] = [];
      const lost: string[] = [];
      for (const event of rows) {
        const at = receivers.received.get(deliveryKey(HEALTHY, event.id));
        if (at === undefined) lost.push(`${event.id} never reached the healthy endpoint`);
        else latencies.push(at - event.since);
      }
      if (rows.length !== count) lost.push(`${count - rows.length} of ${count} events were not written`);
      const seconds = (Date.now() - started) / 1000;
      return customMeasurement({
        ok: latencies.length,
        durationSeconds: seconds,
        latenciesMs: latencies,
        errors: receivers.failures,
        timeouts: lost,
        notes: [
          `${latencies.length} of ${count} healthy events received, ${receivers.duplicates()} duplicates` +
            (withNeighbours
              ? `; meanwhile the slow endpoint got ${receivers.requests[SLOW]} requests and the failing one ${receivers.requests[FAILING]} (${BUSY_EVENTS} deliveries due for each)`
              : '; no other endpoints'),
        ],
      });
    }

    return {
      kind: 'custom',
      // The harness's seconds and connections do not apply: the work is a number of events.
      async run({ warmup }) {
        receivers.reset();
        const phase = warmup ? 'warmup' : 'measured';
        if (warmup) return healthyEvents(phase, WARMUP_EVENTS);
        if (withNeighbours) await loadNeighbours(phase);
        try {
          return await healthyEvents(phase, HEALTHY_EVENTS);
        } finally {
          // Nothing of this side's busy deliveries is left for the next side's process.
          await deleteEndpoints(busy);
          if (ctx.side === 'baseline') await receivers.close();
        }
      },
    };
  },
});
