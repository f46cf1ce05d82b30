import { describe, expect, test, vi } from 'vitest';
import type { Tenant } from './support/gateway.js';
import { sleep } from './support/problem.js';
import {
  gatewayEnvironments,
  killGateway,
  startGateway,
  stopGateway,
  type GatewayProcess,
} from './support/processes.js';
import { startReceiver, type Received } from './support/receiver.js';
import { waitUntil } from './support/wait.js';

// Real gateway processes: starting one (PGlite's initdb, migrations) takes seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

// A gateway process killed (SIGKILL) mid-delivery: after a restart on the same database every
// event is delivered, none lost; duplicates carry the same webhook-id. Embedded (a PGlite folder
// of its own) unless DATABASE_URL is set.
//
// Slow by design: a delivery claimed by the killed process is due again only when its claim lease
// ends, WEBHOOK_TIMEOUT + 5 s after the claim (CLAIM_GRACE_MS in src/features/webhooks/policy.ts).

const { environment, createTenantIn } = gatewayEnvironments();

const WEBHOOK_TIMEOUT_MS = 5_000;
const CLAIM_GRACE_MS = 5_000;
const HOLD_MS = 1_500;
const EVENTS = 10;

async function api(gateway: GatewayProcess, tenant: Tenant, method: string, path: string, body?: unknown) {
  const res = await fetch(`${gateway.url}/api/v1${path}`, {
    method,
    headers: {
      authorization: `Bearer ${tenant.apiKey}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : undefined };
}

describe('SIGKILL mid-delivery', () => {
  test('after a restart every event is delivered, none lost; duplicates carry the same webhook-id and body', async () => {
    const env = environment({
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      WEBHOOK_TIMEOUT: `${WEBHOOK_TIMEOUT_MS}ms`,
      WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms,200ms,200ms',
      EVENT_POLL_MS: '200',
    });
    const tenant = await createTenantIn(env);

    // Holds every request ~1.5 s, then answers 200; remembers which answers really went out.
    const answered = new Set<Received>();
    const receiver = await startReceiver((received) => ({
      status: 200,
      delayMs: HOLD_MS,
      stream: (res) => {
        res.on('finish', () => answered.add(received));
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('ok');
      },
    }));
    const inFlight = () => receiver.received.filter((r) => !answered.has(r) && Date.now() - r.receivedAt < HOLD_MS);

    const first = await startGateway(env);
    const created = await api(first, tenant, 'POST', '/webhooks/endpoints', {
      url: receiver.url,
      description: 'crash receiver',
    });
    expect(created.status, created.text).toBe(201);
    receiver.secrets.push(created.body.secret);
    const endpointId: string = created.body.endpointId;

    const contactIds: string[] = [];
    for (let i = 0; i < EVENTS; i++) {
      const res = await api(first, tenant, 'POST', '/contacts/contacts', { email: `crash${i}@example.com` });
      expect(res.status, res.text).toBe(201);
      contactIds.push(res.body.contactId);
    }

    // Kill the process while at least one of its requests is held by the receiver, unanswered.
    await waitUntil('a request of the first process is held, unanswered', async () => inFlight().length > 0, 10_000, {
      intervalMs: 20,
      context: () => first.output(),
    });
    await killGateway(first);
    const killedAt = Date.now();
    const answeredBeforeKill = new Set(answered);
    // Who sent a request: its webhook-timestamp is when it was signed, by the killed process
    // before killedAt, by the restarted one after (a request written just before the kill may
    // still be read by the receiver after it).
    const fromKilled = (r: Received) => Number(r.headers['webhook-timestamp']) * 1000 <= killedAt;
    expect(receiver.received.filter((r) => !answeredBeforeKill.has(r)).length).toBeGreaterThanOrEqual(1);
    expect(first.proc.signalCode).toBe('SIGKILL');

    const second = await startGateway(env);
    try {
      const events = (await api(second, tenant, 'GET', '/events?limit=100')).body.items as {
        id: string;
        type: string;
        data: { contactId: string };
      }[];
      expect(events).toHaveLength(EVENTS);
      expect(events.map((e) => e.type)).toEqual(Array(EVENTS).fill('communication.contact.created'));
      expect(events.map((e) => e.data.contactId)).toEqual(contactIds);
      const eventIds = events.map((e) => e.id);

      // Every event received and answered 200 at least once (claims of the killed process lapse
      // only after their lease), then every delivery recorded as succeeded.
      const leaseMs = WEBHOOK_TIMEOUT_MS + CLAIM_GRACE_MS;
      const answeredIds = () => new Set([...answered].map((r) => r.headers['webhook-id']));
      await waitUntil(
        'every event was answered 200',
        async () => eventIds.every((id) => answeredIds().has(id)),
        leaseMs + 30_000,
        { intervalMs: 20, context: () => second.output() },
      );
      const deliveries = async () =>
        (await api(second, tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries?limit=100`)).body
          .items as any[];
      await waitUntil(
        'every delivery is recorded as succeeded',
        async () => (await deliveries()).filter((d) => d.status === 'succeeded').length === EVENTS,
        10_000,
        { intervalMs: 20, context: () => second.output() },
      );
      await sleep(500); // nothing more should arrive
      const killed = receiver.received.filter(fromKilled);
      const restarted = receiver.received.filter((r) => !fromKilled(r));
      expect(killed.length).toBeGreaterThanOrEqual(1);
      expect(restarted.every((r) => r.receivedAt > killedAt)).toBe(true);

      // Every event id received; every request verified with the endpoint's secret.
      const byId = new Map<string, Received[]>();
      for (const r of receiver.received)
        byId.set(String(r.headers['webhook-id']), [...(byId.get(String(r.headers['webhook-id'])) ?? []), r]);
      expect([...byId.keys()].sort()).toEqual([...eventIds].sort());
      expect(receiver.received.map((r) => r.verifiedBy)).toEqual(receiver.received.map(() => 0));

      // Duplicates: same webhook-id, same body (the event envelope). Each process sent an event at
      // most once, so a duplicate is one request of the killed process and one of the restarted.
      for (const [id, requests] of byId) {
        expect(new Set(requests.map((r) => r.body)).size, `bodies for ${id}`).toBe(1);
        expect(JSON.parse(requests[0]!.body)).toEqual(events.find((e) => e.id === id));
        expect(requests.filter(fromKilled).length, `requests for ${id} from the killed process`).toBeLessThanOrEqual(1);
        expect(
          requests.filter((r) => !fromKilled(r)).length,
          `requests for ${id} from the restarted process`,
        ).toBeLessThanOrEqual(1);
      }
      // What the killed process had sent but not been answered was sent again, after its claim
      // lapsed; the rest (never sent, or still unclaimed) went out once, from the restarted process.
      for (const held of killed.filter((r) => !answeredBeforeKill.has(r))) {
        const again = restarted.filter((r) => r.headers['webhook-id'] === held.headers['webhook-id']);
        expect(again, `re-sent ${held.headers['webhook-id']}`).toHaveLength(1);
        expect(again[0]!.body).toBe(held.body);
        expect(again[0]!.receivedAt - held.receivedAt).toBeGreaterThanOrEqual(leaseMs - 1_000);
      }
      expect(byId.size).toBe(EVENTS);

      // REST on the restarted process: one delivery per event, each succeeded with a 200 last.
      const final = await deliveries();
      expect(final.map((d) => d.eventId).sort()).toEqual([...eventIds].sort());
      for (const delivery of final) {
        expect(delivery).toMatchObject({
          endpointId,
          eventType: 'communication.contact.created',
          status: 'succeeded',
          nextAttemptAt: null,
        });
        expect(delivery.attempts.at(-1)).toMatchObject({ statusCode: 200, responseBody: 'ok', error: null });
        // Only the restarted process logged an attempt, and attemptCount counts logged attempts:
        // a claim is none, and a request the killed process could not log is not counted.
        expect(delivery.attempts).toHaveLength(1);
        expect(delivery.attemptCount).toBe(1);
      }
    } finally {
      await stopGateway(second);
    }
  }, 180_000); // startGateway allows 120 s for a fresh embedded folder; the lease alone is 35 s.
});

describe('SIGTERM with claimed deliveries not yet sent', () => {
  test('the stopping process hands them back: the next one sends them at once, each counted as one attempt', async () => {
    // A claim lasts WEBHOOK_TIMEOUT + 5 s = 65 s: were they not handed back, the next process
    // could send them only after that.
    const env = environment({
      WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
      WEBHOOK_TIMEOUT: '60s',
      WEBHOOK_CONCURRENCY: '1', // claims four rounds of one, sends one at a time
      EVENT_POLL_MS: '200',
    });
    const tenant = await createTenantIn(env);
    const receiver = await startReceiver(() => ({ status: 200, body: 'ok', delayMs: 2_000 }));

    const first = await startGateway(env);
    const created = await api(first, tenant, 'POST', '/webhooks/endpoints', {
      url: receiver.url,
      description: 'stop receiver',
    });
    expect(created.status, created.text).toBe(201);
    receiver.secrets.push(created.body.secret);
    const endpointId: string = created.body.endpointId;
    for (let i = 0; i < 4; i++)
      expect((await api(first, tenant, 'POST', '/contacts/contacts', { email: `stop${i}@example.com` })).status).toBe(
        201,
      );

    // The first request is held by the receiver; the other three are claimed meanwhile.
    await waitUntil('the receiver holds the first request', async () => receiver.received.length === 1, 10_000, {
      intervalMs: 20,
      context: () => first.output(),
    });
    await sleep(500);
    await stopGateway(first); // waits for the attempt in flight
    const stoppedAt = Date.now();
    expect(receiver.received).toHaveLength(1);

    const second = await startGateway(env);
    try {
      const deliveries = async () =>
        (await api(second, tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries?limit=100`)).body
          .items as any[];
      await waitUntil(
        'the four deliveries are recorded as succeeded',
        async () => (await deliveries()).filter((d) => d.status === 'succeeded').length === 4,
        40_000,
        { intervalMs: 20, context: () => second.output() },
      );
      expect(Date.now() - stoppedAt).toBeLessThan(45_000);
      expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(4);
      expect(receiver.received).toHaveLength(4);
      for (const delivery of await deliveries()) {
        expect(delivery.attemptCount).toBe(1);
        expect(delivery.attempts).toHaveLength(1);
        expect(delivery.attempts[0]).toMatchObject({ statusCode: 200, responseBody: 'ok', error: null });
      }
    } finally {
      await stopGateway(second);
    }
  }, 180_000);
});
