import { setTimeout as sleep } from 'node:timers/promises';
import { customMeasurement } from '../lib/custom-load.js';
import { requestJson } from '../lib/http.js';
import { defineScenario, type Measurement } from '../lib/types.js';
import { deliveryKey, startReceivers, type Receivers } from '../lib/webhook-receivers.js';
import type { BaselineDelivery } from '../webhook-baseline-server.js';
import { contactFixture } from './contacts-fixtures.js';

const RECEIVERS = 10;
/** Deliveries of the measured run: every receiver gets every event, so events = deliveries ÷ receivers. */
const DELIVERIES = Math.max(RECEIVERS, Number(process.env.BENCH_WEBHOOK_EVENTS ?? 10_000));
const EVENTS = Math.ceil(DELIVERIES / RECEIVERS);
const WARMUP_EVENTS = Math.max(1, Math.round(EVENTS / 10));
/** Deliveries in flight: the gateway's WEBHOOK_CONCURRENCY (its default), and the baseline sender's. */
const CONCURRENCY = Math.max(1, Number(process.env.BENCH_WEBHOOK_CONCURRENCY ?? 10));
/** Waiting for deliveries ends when nothing arrived for this long (a failed attempt is retried after 5 s). */
const IDLE_TIMEOUT_MS = 20_000;
const EVENT_TYPE = 'communication.contact.created';

/** A delivery a run expects: to which receiver, of which event, and since when it could be sent (epoch ms). */
type Expected = { receiver: number; eventId: string; since: number };
/** What the gateway delivered in a run: the baseline sends the same bodies on the same schedule. */
type Sent = { expected: Expected[]; bodies: Map<string, string> };

/**
 * Signed webhook delivery: one contacts.import writes EVENTS contact.created events (one commit
 * per 500 rows) for a tenant with RECEIVERS endpoints, so each event goes to every receiver.
 * Deliveries per second and commit-to-receipt latency, against a bare undici sender of the same
 * signed bodies with the same concurrency.
 */
export const webhooksDelivery = defineScenario({
  id: 'webhooks.delivery',
  title: `${EVENTS} events to each of ${RECEIVERS} webhook receivers`,
  target: { kind: 'throughput', minRatio: 0.5 },
  env: { WEBHOOK_CONCURRENCY: String(CONCURRENCY), WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8' },

  async setup(ctx) {
    return {
      tenant: await ctx.createTenant('Bench webhooks', ['communication']),
      receivers: await startReceivers(RECEIVERS),
      secrets: [] as string[],
      /** By phase (warmup, measured), from the gateway's runs. */
      sent: new Map<string, Sent>(),
    };
  },

  baseline: { script: 'bench/webhook-baseline-server.ts' },

  async load(ctx, state) {
    const { tenant, receivers, secrets, sent } = state;
    const authorization = `Bearer ${tenant.apiKey}`;
    if (ctx.side === 'gateway') {
      for (const url of receivers.urls) {
        const res = await requestJson(ctx.baseUrl, 'POST', '/api/v1/webhooks/endpoints', {
          headers: { authorization },
          body: { url, eventTypes: [EVENT_TYPE] },
        });
        if (res.status !== 201)
          throw new Error(`creating the endpoint for ${url} failed: HTTP ${res.status} ${res.text.slice(0, 500)}`);
        secrets.push(res.body.secret);
      }
      receivers.useSecrets(secrets);
    }

    /** One import of `events` new contacts; each contact.created event goes to every receiver. */
    async function viaGateway(phase: string, events: number): Promise<Expected[]> {
      // The import's events carry its request's correlation id.
      const correlationId = `${ctx.runId}-webhooks-${phase}`;
      const contacts = Array.from({ length: events }, (_, i) => contactFixture(`${correlationId}-${i}`));
      const res = await requestJson(ctx.baseUrl, 'POST', '/api/v1/contacts/contacts/import', {
        headers: { authorization, 'x-correlation-id': correlationId },
        body: { contacts },
      });
      if (res.status !== 202) throw new Error(`the import was refused: HTTP ${res.status} ${res.text.slice(0, 500)}`);
      await waitForReceipts(receivers, events * RECEIVERS);
      // Commit time: the event's occurredAt, taken in its transaction just before the commit.
      const { rows } = await ctx.sql.query<{ id: string; since: number }>(
        `SELECT "id", EXTRACT(EPOCH FROM "occurredAt")::float8 * 1000 AS since FROM "Event" WHERE "correlationId" = $1 AND "type" = $2`,
        [correlationId, EVENT_TYPE],
      );
      if (rows.length !== events) throw new Error(`the import wrote ${rows.length} of ${events} ${EVENT_TYPE} events`);
      const expected = rows.flatMap((event) =>
        receivers.urls.map((_, receiver) => ({ receiver, eventId: event.id, since: event.since })),
      );
      sent.set(phase, { expected, bodies: new Map(receivers.bodies) });
      return expected;
    }

    /** The gateway's deliveries of the same run, each sent no earlier than its event's commit was after the first. */
    async function viaBaseline(phase: string): Promise<Expected[]> {
      const { expected, bodies } = sent.get(phase)!;
      const first = expected.reduce((min, e) => Math.min(min, e.since), Infinity);
      const deliveries: BaselineDelivery[] = expected.map((e) => ({
        url: receivers.urls[e.receiver]!,
        secret: secrets[e.receiver]!,
        eventId: e.eventId,
        body: bodies.get(e.eventId)!,
        delayMs: e.since - first,
      }));
      const res = await requestJson(ctx.baseUrl, 'POST', '/send', { body: { deliveries } });
      if (res.status !== 202)
        throw new Error(`the baseline sender refused: HTTP ${res.status} ${res.text.slice(0, 500)}`);
      const start: number = res.body.start;
      await waitForReceipts(receivers, expected.length);
      return expected.map((e) => ({ ...e, since: start + e.since - first }));
    }

    return {
      kind: 'custom',
      // The harness's seconds and connections do not apply: the work is a number of deliveries.
      async run({ warmup }) {
        const phase = warmup ? 'warmup' : 'measured';
        receivers.reset();
        try {
          return measurement(
            receivers,
            ctx.side === 'gateway'
              ? await viaGateway(phase, warmup ? WARMUP_EVENTS : EVENTS)
              : await viaBaseline(phase),
          );
        } finally {
          if (ctx.side === 'baseline' && !warmup) await receivers.close();
        }
      },
    };
  },
});

async function waitForReceipts(receivers: Receivers, count: number): Promise<void> {
  while (receivers.received.size < count && Date.now() - receivers.lastReceiptAt() < IDLE_TIMEOUT_MS) await sleep(50);
}

/** Deliveries per second from the first commit to the last receipt; latency per delivery from its commit. */
function measurement(receivers: Receivers, expected: Expected[]): Measurement {
  const latencies: number[] = [];
  const lost: string[] = [];
  let lastReceipt = -Infinity;
  for (const e of expected) {
    const at = receivers.received.get(deliveryKey(e.receiver, e.eventId));
    if (at === undefined) {
      lost.push(`${e.eventId} never reached receiver ${e.receiver}`);
      continue;
    }
    latencies.push(at - e.since);
    lastReceipt = Math.max(lastReceipt, at);
  }
  const firstCommit = expected.reduce((min, e) => Math.min(min, e.since), Infinity);
  const lastCommit = expected.reduce((max, e) => Math.max(max, e.since), -Infinity);
  const received = expected.length - lost.length;
  const firstReceipt = Math.min(...receivers.received.values());
  return customMeasurement({
    ok: received,
    durationSeconds: received ? (lastReceipt - firstCommit) / 1000 : 0,
    latenciesMs: latencies,
    errors: receivers.failures,
    timeouts: lost,
    notes: [
      `${received} of ${expected.length} deliveries received, ${lost.length} lost, ${receivers.duplicates()} duplicates; ` +
        `the events committed within ${(lastCommit - firstCommit).toFixed(0)} ms`,
      // Where the time went: before the first delivery arrived (the gateway's relay creates the
      // deliveries, its worker claims them), then sending.
      `first delivery ${(firstReceipt - firstCommit).toFixed(0)} ms after the first commit, last ${(lastReceipt - firstCommit).toFixed(0)} ms after it`,
    ],
  });
}
