import { expect, test } from 'vitest';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { graphqlClient, ok } from './support/graphql.js';
import { expectProblem, sleep } from './support/problem.js';
import { startReceiver } from './support/receiver.js';
import { waitUntil } from './support/wait.js';

// Fair, truthfully counted webhook delivery, with real receivers verifying every request. Each
// process sends 4 attempts at once, at most 1 to one endpoint. A claim lasts WEBHOOK_TIMEOUT + 5 s
// = 13 s, and a claimed delivery must start within 5 s of its claim.
const TIMEOUT_MS = 8_000;
const gateway = useGateway(
  {
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    WEBHOOK_CONCURRENCY: '4',
    WEBHOOK_ENDPOINT_CONCURRENCY: '1',
    WEBHOOK_TIMEOUT: `${TIMEOUT_MS}ms`,
    WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms',
    EVENT_POLL_MS: '200',
  },
  { ownDatabase: true },
);
const gql = graphqlClient(() => gateway.url);

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

async function endpointFor(tenant: Tenant, receiver: Receiver, extra: Record<string, unknown> = {}): Promise<string> {
  const res = await api(tenant, 'POST', '/webhooks/endpoints', { url: receiver.url, ...extra });
  expect(res.status, res.text).toBe(201);
  receiver.secrets.push(res.body.secret);
  return res.body.endpointId;
}

async function createContacts(tenant: Tenant, count: number, prefix: string): Promise<void> {
  for (let i = 0; i < count; i++)
    expect((await api(tenant, 'POST', '/contacts/contacts', { email: `${prefix}${i}@example.com` })).status).toBe(201);
}

async function deliveriesOf(tenant: Tenant, endpointId: string): Promise<any[]> {
  const res = await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries?limit=500`);
  expect(res.status, res.text).toBe(200);
  return res.body.items;
}

/** POSTs the receiver got per webhook-id. */
function postsById(receiver: Receiver): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of receiver.received)
    counts.set(String(r.headers['webhook-id']), (counts.get(String(r.headers['webhook-id'])) ?? 0) + 1);
  return counts;
}

test('attemptCount is the number of POSTs the receiver got, each one logged: retried to success, and failed when the schedule is spent', async () => {
  const tenant = await createTenant(gateway.app);
  // The first event fails twice, then succeeds; the second always fails.
  let firstEventId: string | undefined;
  const receiver = await startReceiver((received) => {
    const id = String(received.headers['webhook-id']);
    firstEventId ??= id;
    const tries = receiver.received.filter((r) => r.headers['webhook-id'] === id).length;
    return id === firstEventId && tries === 3 ? { status: 204 } : { status: 500, body: 'not now' };
  });
  const endpointId = await endpointFor(tenant, receiver);
  await createContacts(tenant, 1, 'counted-a');
  await waitUntil('the receiver got 3 POSTs', () => receiver.received.length >= 3);
  await createContacts(tenant, 1, 'counted-b');

  await waitUntil(
    'both deliveries settled',
    async () => (await deliveriesOf(tenant, endpointId)).filter((d) => d.status !== 'pending').length === 2,
  );
  const deliveries = await deliveriesOf(tenant, endpointId);
  expect(deliveries.map((d) => d.status).sort()).toEqual(['failed', 'succeeded']);
  const posts = postsById(receiver);
  for (const delivery of deliveries) {
    expect(delivery.attemptCount).toBe(3);
    expect(delivery.attempts).toHaveLength(3);
    expect(posts.get(delivery.eventId)).toBe(3);
  }
  expect(receiver.received.every((r) => r.verifiedBy === 0)).toBe(true);
});

test('a claimed delivery that cannot start within its claim is handed back unsent: it keeps its retry and goes out as soon as its endpoint has room', async () => {
  const tenant = await createTenant(gateway.app);
  // One attempt at a time to this endpoint, each answered after 5.5 s: the second delivery, claimed
  // with the first, waits longer than a claim allows.
  const receiver = await startReceiver(() => ({ status: 200, body: 'ok', delayMs: 5_500 }));
  const endpointId = await endpointFor(tenant, receiver);
  await createContacts(tenant, 2, 'handed-back');

  await waitUntil(
    'both deliveries succeeded',
    async () => (await deliveriesOf(tenant, endpointId)).filter((d) => d.status === 'succeeded').length === 2,
    30_000,
  );
  const posts = postsById(receiver);
  for (const delivery of await deliveriesOf(tenant, endpointId)) {
    // Not one attempt for being claimed: one per POST.
    expect(delivery.attemptCount).toBe(1);
    expect(delivery.attempts).toHaveLength(1);
    expect(delivery.attempts[0]).toMatchObject({ statusCode: 200, responseBody: 'ok', error: null });
    expect(posts.get(delivery.eventId)).toBe(1);
  }
  // Sent when the first attempt ended, not left until its claim lapsed (13 s after it was made).
  const [first, second] = receiver.received;
  expect(second!.receivedAt - first!.receivedAt).toBeLessThan(TIMEOUT_MS);
  expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(5_000);
}, 60_000);

test("a healthy endpoint receives promptly while another tenant's slow and failing endpoints have many deliveries due", async () => {
  const busy = await createTenant(gateway.app);
  const SLOW_MS = 2_000;
  const slow = await startReceiver(() => ({ status: 200, delayMs: SLOW_MS }));
  const failing = await startReceiver(() => ({ status: 500, body: 'down' }));
  const slowEndpoint = await endpointFor(busy, slow);
  const failingEndpoint = await endpointFor(busy, failing);
  const BUSY_EVENTS = 20;
  await createContacts(busy, BUSY_EVENTS, 'busy');
  // Both have their deliveries due, and the slow one is being sent to.
  await waitUntil(
    'the busy endpoints have every delivery and the slow one a POST',
    async () => (await deliveriesOf(busy, slowEndpoint)).length === BUSY_EVENTS && slow.received.length >= 1,
  );

  const quiet = await createTenant(gateway.app);
  const healthy = await startReceiver();
  const healthyEndpoint = await endpointFor(quiet, healthy);
  const QUIET_EVENTS = 5;
  await createContacts(quiet, QUIET_EVENTS, 'quiet');
  await healthy.waitFor(QUIET_EVENTS, 10_000);

  // The slow endpoint, one attempt at a time, is far from done: the healthy one did not wait for it.
  const slowPending = (await deliveriesOf(busy, slowEndpoint)).filter((d) => d.status === 'pending');
  expect(slowPending.length).toBeGreaterThanOrEqual(BUSY_EVENTS - 5);
  // Never more than one attempt at once to one endpoint: each of the slow one's requests came after
  // the previous was answered.
  const starts = slow.received.map((r) => r.receivedAt);
  for (let i = 1; i < starts.length; i++) expect(starts[i]! - starts[i - 1]!).toBeGreaterThanOrEqual(SLOW_MS - 100);
  expect(failing.received.length).toBeGreaterThan(0);
  await waitUntil(
    'the healthy endpoint received every event',
    async () =>
      (await deliveriesOf(quiet, healthyEndpoint)).filter((d) => d.status === 'succeeded').length === QUIET_EVENTS,
  );
  for (const delivery of await deliveriesOf(quiet, healthyEndpoint))
    expect(delivery).toMatchObject({ status: 'succeeded', attemptCount: 1 });
  expect(healthy.received.every((r) => r.verifiedBy === 0)).toBe(true);

  // Out of the way of the next tests.
  await api(busy, 'DELETE', `/webhooks/endpoints/${slowEndpoint}`);
  await api(busy, 'DELETE', `/webhooks/endpoints/${failingEndpoint}`);
}, 60_000);

test('recover with since delivers the events an endpoint missed while disabled (REST), once, and only its own', async () => {
  const tenant = await createTenant(gateway.app);
  await createContacts(tenant, 1, 'before-endpoint'); // before the endpoint existed: never its own
  const receiver = await startReceiver();
  const endpointId = await endpointFor(tenant, receiver, { eventTypes: ['communication.*'] });
  await createContacts(tenant, 1, 'delivered');
  await receiver.waitFor(1);

  expect((await api(tenant, 'PATCH', `/webhooks/endpoints/${endpointId}`, { enabled: false })).body).toMatchObject({
    enabled: false,
    disabledReason: 'manual',
  });
  const disabledAt = new Date().toISOString();
  await createContacts(tenant, 2, 'missed');
  expect(
    (
      await api(tenant, 'POST', '/invoices', {
        customer: 'Acme',
        issuedDate: '2026-11-22',
        paymentTermsDays: 14,
        items: [{ description: 'Work', quantity: 1, price: 50, taxRate: 0 }],
      })
    ).status,
  ).toBe(201);
  await sleep(500); // the relay has passed these events by: no deliveries for a disabled endpoint
  expect(await deliveriesOf(tenant, endpointId)).toHaveLength(1);

  expect((await api(tenant, 'PATCH', `/webhooks/endpoints/${endpointId}`, { enabled: true })).body).toMatchObject({
    enabled: true,
    disabledReason: null,
  });
  await createContacts(tenant, 1, 'after');
  await receiver.waitFor(2);

  const recovered = await api(tenant, 'POST', `/webhooks/endpoints/${endpointId}/recover`, { since: disabledAt });
  expect(recovered).toMatchObject({ status: 202, body: { recovered: 2 } });
  await receiver.waitFor(4);
  await waitUntil('every delivery succeeded', async () =>
    (await deliveriesOf(tenant, endpointId)).every((d) => d.status === 'succeeded'),
  );

  const events = await gateway.app.services.prisma.event.findMany({
    where: { tenantId: tenant.tenantId, type: 'communication.contact.created' },
    orderBy: { tenantSequence: 'asc' },
  });
  const received = receiver.events().map((e) => e.id);
  expect(received.slice(0, 2)).toEqual([events[1]!.id, events[4]!.id]);
  expect(received.slice(2).sort()).toEqual([events[2]!.id, events[3]!.id].sort());
  expect(receiver.received.every((r) => r.verifiedBy === 0)).toBe(true);

  // Again, or from before the endpoint existed: nothing more (one delivery per event, the invoice
  // is not a type it wants, the first contact predates it).
  expect((await api(tenant, 'POST', `/webhooks/endpoints/${endpointId}/recover`, { since: disabledAt })).body).toEqual({
    recovered: 0,
  });
  expect(
    (await api(tenant, 'POST', `/webhooks/endpoints/${endpointId}/recover`, { since: '2020-01-01T00:00:00Z' })).body,
  ).toEqual({ recovered: 0 });
  await sleep(300);
  expect(receiver.received).toHaveLength(4);
});

test('recoverWebhookDeliveries(since) in GraphQL: missed events are queued while the endpoint is disabled and sent once it is enabled', async () => {
  const tenant = await createTenant(gateway.app);
  const receiver = await startReceiver();
  const endpointId = await endpointFor(tenant, receiver);
  await api(tenant, 'PATCH', `/webhooks/endpoints/${endpointId}`, { enabled: false });
  const since = new Date().toISOString();
  await createContacts(tenant, 2, 'gql-missed');

  const RECOVER = 'mutation($e: ID!, $since: DateTime!) { recoverWebhookDeliveries(endpointId: $e, since: $since) }';
  expect(ok(await gql(tenant.apiKey, RECOVER, { e: endpointId, since }))).toEqual({ recoverWebhookDeliveries: 2 });
  await sleep(500);
  expect(receiver.received).toHaveLength(0); // still disabled
  expect((await deliveriesOf(tenant, endpointId)).map((d) => d.status)).toEqual(['pending', 'pending']);

  await api(tenant, 'PATCH', `/webhooks/endpoints/${endpointId}`, { enabled: true });
  await receiver.waitFor(2);
  expect(ok(await gql(tenant.apiKey, RECOVER, { e: endpointId, since }))).toEqual({ recoverWebhookDeliveries: 0 });
  await waitUntil('every delivery succeeded', async () =>
    (await deliveriesOf(tenant, endpointId)).every((d) => d.status === 'succeeded'),
  );
  expect(receiver.received).toHaveLength(2);
});

test('the allowed range admits its addresses; every other non-public form stays refused', async () => {
  const tenant = await createTenant(gateway.app);
  expect((await api(tenant, 'POST', '/webhooks/endpoints', { url: 'http://127.0.0.1:9/hook' })).status).toBe(201);
  for (const url of [
    'http://127.0.0.2/hook',
    'http://[::127.0.0.1]/hook',
    'http://[64:ff9b::127.0.0.1]/hook',
    'http://[2002:7f00:1::1]/hook',
    'http://[fd00::1]/hook',
    'http://100.64.0.1/hook',
  ]) {
    const res = await api(tenant, 'POST', '/webhooks/endpoints', { url });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors, url).toEqual([{ path: 'url', message: expect.stringMatching(/not a public address/) }]);
  }
  expect((await api(tenant, 'GET', '/webhooks/endpoints')).body.count).toBe(1);
});
