import { Webhook } from 'standardwebhooks';
import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { failed, graphqlClient, ok, type GqlResult } from './support/graphql.js';
import { expectProblem, sleep } from './support/problem.js';
import { startReceiver, type Received } from './support/receiver.js';
import { waitUntil } from './support/wait.js';

// The webhook management surface through GraphQL (POST /graphql), with real receivers that verify
// every request with the standardwebhooks package, and every result compared with what REST
// (/api/v1/webhooks/…) reports about the same endpoint and deliveries.

// On PostgreSQL this file's gateway gets a database of its own (as db.test.ts does). A delivery
// worker claims the due deliveries of every tenant in its database: in the shared one, gateways of
// other suites running alongside (other WEBHOOK_* settings) would attempt this file's deliveries,
// and this gateway would send deliveries that earlier runs left pending to 127.0.0.1 ports that
// may by now belong to this file's receivers.
const gateway = useGateway(
  {
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32,::1/128',
    WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms',
    WEBHOOK_TIMEOUT: '1s',
    EVENT_POLL_MS: '200',
  },
  { ownDatabase: true },
);

type Receiver = Awaited<ReturnType<typeof startReceiver>>;
const gql = graphqlClient(() => gateway.url);

const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

async function createContact(tenant: Tenant, email: string): Promise<string> {
  const res = await api(tenant, 'POST', '/contacts/contacts', { email });
  expect(res.status, res.text).toBe(201);
  return res.body.contactId;
}

async function createInvoice(tenant: Tenant): Promise<string> {
  const res = await api(tenant, 'POST', '/invoices', {
    customer: 'Acme',
    issuedDate: '2026-11-22',
    paymentTermsDays: 14,
    items: [{ description: 'Work', quantity: 1, price: 50, taxRate: 0 }],
  });
  expect(res.status, res.text).toBe(201);
  return res.body.invoiceId;
}

const ENDPOINT = 'id url description eventTypes filters anyOf enabled disabledReason createdAt updatedAt';
const DELIVERY =
  'id eventId eventType status attemptCount nextAttemptAt lastAttemptAt createdAt attempts { attemptedAt durationMs statusCode responseHeaders responseBody error }';
const PAGE_INFO = 'pageInfo { hasNextPage hasPreviousPage startCursor endCursor }';

const CREATE = `mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret endpoint { ${ENDPOINT} } } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(id: $id, input: $input) { ${ENDPOINT} } }`;
const DELIVERIES = `query($id: ID!, $first: Int, $after: String, $status: WebhookDeliveryStatus, $eventType: String) {
  webhookEndpoint(id: $id) { deliveries(first: $first, after: $after, status: $status, eventType: $eventType) { edges { cursor node { ${DELIVERY} } } ${PAGE_INFO} } }
}`;

/** Creates an endpoint for the receiver through GraphQL; the receiver then accepts its secret. */
async function endpointFor(tenant: Tenant, receiver: Receiver, input: Record<string, unknown> = {}) {
  const created = ok(
    await gql(tenant.apiKey, CREATE, { input: { url: receiver.url, ...input } }),
  ).createWebhookEndpoint;
  receiver.secrets.push(created.secret);
  return created as { secret: string; endpoint: Record<string, any> & { id: string } };
}

/** The GraphQL endpoint in REST's shape. */
const endpointAsRest = ({ id, ...fields }: Record<string, unknown>) => ({ endpointId: id, ...fields });

/** The GraphQL delivery in REST's shape. */
const deliveryAsRest = (endpointId: string, { id, ...fields }: Record<string, unknown>) => ({
  deliveryId: id,
  endpointId,
  ...fields,
});

/** One page of an endpoint's deliveries through GraphQL. */
async function gqlDeliveries(
  tenant: Tenant,
  endpointId: string,
  args: { first?: number; after?: string; status?: string; eventType?: string } = {},
) {
  return ok(await gql(tenant.apiKey, DELIVERIES, { id: endpointId, ...args })).webhookEndpoint.deliveries as {
    edges: { cursor: string; node: Record<string, any> & { id: string } }[];
    pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor: string | null; endCursor: string | null };
  };
}

/** Every delivery of an endpoint as REST lists it (all pages), with an optional ?status=&eventType= filter. */
async function restDeliveries(tenant: Tenant, endpointId: string, filter: Record<string, string> = {}) {
  const items: any[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '100', ...filter, ...(cursor ? { cursor } : {}) });
    const res = await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries?${query}`);
    expect(res.status, res.text).toBe(200);
    items.push(...res.body.items);
    cursor = res.body.nextCursor;
  } while (cursor);
  return items;
}

/** Asserts GraphQL and REST list the same deliveries, field for field, for the same filter. */
async function expectSurfacesAgree(
  tenant: Tenant,
  endpointId: string,
  filter: { status?: string; eventType?: string } = {},
) {
  const viaGraphQL = await gqlDeliveries(tenant, endpointId, { first: 500, ...filter });
  const viaRest = await restDeliveries(tenant, endpointId, filter);
  expect(viaGraphQL.edges.map((e) => deliveryAsRest(endpointId, e.node))).toEqual(viaRest);
  expect(viaGraphQL.edges.map((e) => e.cursor)).toEqual(viaRest.map((d) => d.deliveryId));
  return viaRest;
}

/** Whether `secret` verifies this request, checked with the standardwebhooks Webhook class itself. */
function verifies(secret: string, received: Received): boolean {
  let payload: unknown;
  try {
    payload = new Webhook(secret).verify(
      received.body,
      Object.fromEntries(Object.entries(received.headers).map(([k, v]) => [k, String(v)])),
    );
  } catch {
    return false;
  }
  expect(payload).toEqual(JSON.parse(received.body));
  return true;
}

const bodyOf = (received: Received) => JSON.parse(received.body);
const idsOf = (receiver: Receiver) => receiver.received.map((r) => r.headers['webhook-id']);

describe('endpoints', () => {
  test('createWebhookEndpoint answers the endpoint and a whsec_ secret; a delivery then arrives verified, and REST agrees', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const created = ok(
      await gql(tenant.apiKey, CREATE, { input: { url: receiver.url, description: 'GraphQL receiver' } }),
    ).createWebhookEndpoint;
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(created.endpoint).toEqual({
      id: expect.stringMatching(/^whep_[0-9A-Z]{26}$/),
      url: receiver.url,
      description: 'GraphQL receiver',
      eventTypes: ['*'],
      filters: [],
      anyOf: [],
      enabled: true,
      disabledReason: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const viaRest = await api(tenant, 'GET', `/webhooks/endpoints/${created.endpoint.id}`);
    expect(viaRest.body).toEqual(endpointAsRest(created.endpoint));
    expect(viaRest.text).not.toContain('whsec_');
    receiver.secrets.push(created.secret);

    const contactId = await createContact(tenant, 'gql-hook@example.com');
    const [request] = await receiver.waitFor(1);
    expect(request!.verifiedBy).toBe(0);
    expect(verifies(created.secret, request!)).toBe(true);
    const [event] = (await api(tenant, 'GET', '/events')).body.items;
    expect(bodyOf(request!)).toEqual(event);
    expect(event).toMatchObject({ type: 'communication.contact.created', data: { contactId } });
    expect(request!.headers['webhook-id']).toBe(event.id);

    await waitUntil(
      'the delivery has succeeded',
      async () => (await restDeliveries(tenant, created.endpoint.id))[0]?.status === 'succeeded',
    );
    const [delivery] = await expectSurfacesAgree(tenant, created.endpoint.id);
    expect(delivery).toMatchObject({
      eventId: event.id,
      eventType: 'communication.contact.created',
      status: 'succeeded',
      attemptCount: 1,
      nextAttemptAt: null,
    });
    expect(delivery.attempts).toEqual([expect.objectContaining({ statusCode: 204, error: null })]);
  });

  test('webhookEndpoints pages oldest first with first/after; webhookEndpoint(id) reads one; both as REST lists them', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const made = [];
    for (const eventTypes of [
      ['*'],
      ['accounting.*'],
      ['communication.contact.created', 'communication.contact.deleted'],
    ]) {
      made.push((await endpointFor(tenant, receiver, { eventTypes, description: eventTypes.join(' ') })).endpoint);
    }
    const LIST = `query($first: Int, $after: String) { webhookEndpoints(first: $first, after: $after) { edges { cursor node { ${ENDPOINT} } } ${PAGE_INFO} } }`;
    const first = ok(await gql(tenant.apiKey, LIST, { first: 2 })).webhookEndpoints;
    expect(first.edges.map((e: any) => e.node)).toEqual(made.slice(0, 2));
    expect(first.edges.map((e: any) => e.cursor)).toEqual(made.slice(0, 2).map((e) => e.id));
    expect(first.pageInfo).toEqual({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: made[0]!.id,
      endCursor: made[1]!.id,
    });
    const second = ok(await gql(tenant.apiKey, LIST, { first: 2, after: first.pageInfo.endCursor })).webhookEndpoints;
    expect(second.edges.map((e: any) => e.node)).toEqual(made.slice(2));
    expect(second.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: made[2]!.id,
      endCursor: made[2]!.id,
    });
    const all = ok(await gql(tenant.apiKey, LIST, {})).webhookEndpoints;
    expect(all.edges.map((e: any) => e.node)).toEqual(made);

    const viaRest = await api(tenant, 'GET', '/webhooks/endpoints');
    expect(viaRest.body).toEqual({ items: made.map(endpointAsRest), nextCursor: null, count: 3 });
    for (const endpoint of made) {
      expect(
        ok(
          await gql(tenant.apiKey, `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`, { id: endpoint.id }),
        ).webhookEndpoint,
      ).toEqual(endpoint);
    }
  });

  test('updateWebhookEndpoint: narrowing eventTypes changes what is delivered; enabled false stops deliveries, true resumes them', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    // A second endpoint that wants everything: once it has an event, the relay has decided that
    // event's deliveries for every endpoint (one transaction), so an absence is final.
    const witness = await startReceiver();
    await endpointFor(tenant, witness);
    const { endpoint } = await endpointFor(tenant, receiver, { description: 'narrowed' });

    const narrowed = ok(
      await gql(tenant.apiKey, UPDATE, { id: endpoint.id, input: { eventTypes: ['accounting.*'] } }),
    ).updateWebhookEndpoint;
    expect(narrowed).toMatchObject({
      id: endpoint.id,
      url: receiver.url,
      description: 'narrowed',
      eventTypes: ['accounting.*'],
      enabled: true,
    });
    await createContact(tenant, 'narrow@example.com');
    const invoice1 = await createInvoice(tenant);
    await witness.waitFor(2);
    await receiver.waitFor(1);
    expect(receiver.events().map((e) => [e.type, e.data.invoiceId])).toEqual([
      ['accounting.invoice.created', invoice1],
    ]);
    expect((await restDeliveries(tenant, endpoint.id)).map((d) => d.eventType)).toEqual(['accounting.invoice.created']);

    const disabled = ok(
      await gql(tenant.apiKey, UPDATE, { id: endpoint.id, input: { enabled: false } }),
    ).updateWebhookEndpoint;
    expect(disabled).toMatchObject({ eventTypes: ['accounting.*'], enabled: false, disabledReason: 'manual' });
    expect((await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.id}`)).body).toEqual(endpointAsRest(disabled));
    const invoice2 = await createInvoice(tenant);
    await witness.waitFor(3);
    await sleep(300);
    expect(receiver.received).toHaveLength(1);

    // Explicit nulls leave fields unchanged, except description, which null clears.
    const enabled = ok(
      await gql(tenant.apiKey, UPDATE, {
        id: endpoint.id,
        input: { enabled: true, url: null, eventTypes: null, description: null },
      }),
    ).updateWebhookEndpoint;
    expect(enabled).toMatchObject({
      url: receiver.url,
      description: null,
      eventTypes: ['accounting.*'],
      enabled: true,
      disabledReason: null,
    });
    const invoice3 = await createInvoice(tenant);
    await receiver.waitFor(2);
    await witness.waitFor(4);
    expect(receiver.events().map((e) => e.data.invoiceId)).toEqual([invoice1, invoice3]);
    expect(receiver.received.every((r) => r.verifiedBy === 0)).toBe(true);
    expect(witness.events().some((e) => e.data.invoiceId === invoice2)).toBe(true);

    await waitUntil(
      '2 deliveries have succeeded',
      async () => (await restDeliveries(tenant, endpoint.id, { status: 'succeeded' })).length === 2,
    );
    const deliveries = await expectSurfacesAgree(tenant, endpoint.id);
    expect(deliveries.map((d) => d.eventId)).toEqual(idsOf(receiver));
    const final = ok(
      await gql(tenant.apiKey, `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`, { id: endpoint.id }),
    ).webhookEndpoint;
    // updatedAt is left out here: every delivery attempt moves it (see the updatedAt test below).
    expect({ ...final, updatedAt: undefined }).toEqual({ ...enabled, updatedAt: undefined });
    expect((await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.id}`)).body).toEqual(endpointAsRest(final));
  });

  // BUG (src/features/webhooks/worker.ts, record()): every attempt writes the endpoint row (failingSince,
  // even when it stays null), and Prisma's @updatedAt then moves the endpoint's updatedAt.
  test('a delivery is not a change to its endpoint: updatedAt moves only when the endpoint is updated', async () => {
    const tenant = await createTenant(gateway.app);
    let healthy = true;
    const receiver = await startReceiver(() => ({ status: healthy ? 200 : 500 }));
    const { endpoint } = await endpointFor(tenant, receiver);
    const ENDPOINT_QUERY = `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`;

    await createContact(tenant, 'succeeds@example.com');
    await waitUntil(
      '1 delivery has succeeded',
      async () => (await restDeliveries(tenant, endpoint.id, { status: 'succeeded' })).length === 1,
    );
    healthy = false;
    await createContact(tenant, 'fails@example.com');
    await waitUntil(
      '1 delivery has failed',
      async () => (await restDeliveries(tenant, endpoint.id, { status: 'failed' })).length === 1,
    );

    const now = ok(await gql(tenant.apiKey, ENDPOINT_QUERY, { id: endpoint.id })).webhookEndpoint;
    expect((await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.id}`)).body).toEqual(endpointAsRest(now));
    expect(now).toEqual(endpoint);
  });

  test('deleteWebhookEndpoint answers the id; the endpoint, its delivery log and its deliveries are gone', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const witness = await startReceiver();
    await endpointFor(tenant, witness);
    const { endpoint } = await endpointFor(tenant, receiver);
    await createContact(tenant, 'before-delete@example.com');
    await receiver.waitFor(1);
    // The attempt recorded first: a delete racing the recording is the next test.
    await waitUntil(
      'the delivery has succeeded',
      async () => (await restDeliveries(tenant, endpoint.id))[0]?.status === 'succeeded',
    );

    expect(
      ok(await gql(tenant.apiKey, 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id: endpoint.id })),
    ).toEqual({ deleteWebhookEndpoint: endpoint.id });
    failed(
      await gql(tenant.apiKey, `query($id: ID!) { webhookEndpoint(id: $id) { id } }`, { id: endpoint.id }),
      'not_found',
      'webhookEndpoint',
    );
    failed(
      await gql(tenant.apiKey, 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id: endpoint.id }),
      'not_found',
      'deleteWebhookEndpoint',
    );
    expectProblem(await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.id}`), 404, 'not_found');
    expectProblem(await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.id}/deliveries`), 404, 'not_found');
    const listed = ok(
      await gql(tenant.apiKey, '{ webhookEndpoints { edges { node { id } } } }'),
    ).webhookEndpoints.edges.map((e: any) => e.node.id);
    expect(listed).not.toContain(endpoint.id);
    expect((await api(tenant, 'GET', '/webhooks/endpoints')).body.items.map((e: any) => e.endpointId)).toEqual(listed);

    await createContact(tenant, 'after-delete@example.com');
    await witness.waitFor(2);
    await sleep(300);
    expect(receiver.received).toHaveLength(1);
  });

  // BUG (src/features/webhooks/service.ts delete() vs src/features/webhooks/worker.ts record()): on PostgreSQL the
  // delete locks the endpoint row and then, by ON DELETE CASCADE, its deliveries, while record()
  // locks the delivery row and then updates the endpoint row. When they meet, PostgreSQL detects a
  // deadlock (40P01), Prisma throws P2034 and the delete answers internal_error (REST: 500).
  test('deleteWebhookEndpoint succeeds while an attempt of the endpoint is being recorded', async () => {
    const tenant = await createTenant(gateway.app);
    for (let round = 0; round < 5; round++) {
      let deleting: Promise<GqlResult> | undefined;
      let endpointId = '';
      // The receiver answers at once and, as its answer goes out, the endpoint is deleted: the
      // gateway is then recording that attempt.
      const receiver = await startReceiver(() => {
        if (!deleting) {
          deleting = gql(tenant.apiKey, 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id: endpointId });
          deleting.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled
        }
        return { status: 200 };
      });
      endpointId = (await endpointFor(tenant, receiver)).endpoint.id;
      await createContact(tenant, `race${round}@example.com`);
      await receiver.waitFor(1);
      await waitUntil('the receiver has started the deletion', async () => deleting !== undefined);
      const result = await deleting!;
      expect(result.errors, `round ${round}: ${JSON.stringify(result.errors)}`).toBeUndefined();
      expect(result.data).toEqual({ deleteWebhookEndpoint: endpointId });
      expectProblem(await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}`), 404, 'not_found');
    }
  });
});

describe('deliveries', () => {
  test('endpoint.deliveries lists attempts, filters by status and eventType, pages with first/after, exactly as REST', async () => {
    const tenant = await createTenant(gateway.app);
    // Contact events fail (500 on each of the 3 scheduled attempts), invoice events succeed.
    const receiver = await startReceiver((r) =>
      bodyOf(r).type.startsWith('communication.') ? { status: 500, body: 'nope' } : { status: 200, body: 'ok' },
    );
    const { endpoint } = await endpointFor(tenant, receiver);
    await createContact(tenant, 'd1@example.com');
    await createInvoice(tenant);
    await createContact(tenant, 'd2@example.com');
    await createInvoice(tenant);
    await waitUntil('all 4 deliveries are settled', async () => {
      const all = await restDeliveries(tenant, endpoint.id);
      return all.length === 4 && all.every((d) => d.status !== 'pending');
    });

    const all = await expectSurfacesAgree(tenant, endpoint.id);
    expect(all.map((d) => [d.eventType, d.status, d.attemptCount])).toEqual([
      ['communication.contact.created', 'failed', 3],
      ['accounting.invoice.created', 'succeeded', 1],
      ['communication.contact.created', 'failed', 3],
      ['accounting.invoice.created', 'succeeded', 1],
    ]);
    for (const delivery of all) {
      const failing = delivery.status === 'failed';
      expect(delivery.attempts).toHaveLength(failing ? 3 : 1);
      for (const attempt of delivery.attempts) {
        expect(attempt).toMatchObject({
          statusCode: failing ? 500 : 200,
          responseBody: failing ? 'nope' : 'ok',
          error: null,
        });
        expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
      }
      expect(delivery.lastAttemptAt).toBe(delivery.attempts.at(-1).attemptedAt);
      expect(delivery.nextAttemptAt).toBeNull();
    }
    // Every attempt reached the receiver with the event id as webhook-id.
    expect(idsOf(receiver).sort()).toEqual(all.flatMap((d) => Array(d.attemptCount).fill(d.eventId)).sort());
    expect(receiver.received.every((r) => r.verifiedBy === 0)).toBe(true);

    const idsFor = async (filter: { status?: string; eventType?: string }) =>
      (await gqlDeliveries(tenant, endpoint.id, filter)).edges.map((e) => e.node.id);
    const [c1, i1, c2, i2] = all.map((d) => d.deliveryId);
    for (const [filter, expected] of [
      [{ status: 'failed' }, [c1, c2]],
      [{ status: 'succeeded' }, [i1, i2]],
      [{ status: 'pending' }, []],
      [{ eventType: 'accounting.*' }, [i1, i2]],
      [{ eventType: 'communication.contact.created' }, [c1, c2]],
      [{ eventType: 'communication.contact.deleted' }, []],
      [{ status: 'failed', eventType: 'communication.*' }, [c1, c2]],
      [{ status: 'succeeded', eventType: 'communication.*' }, []],
    ] as const) {
      expect(await idsFor(filter), JSON.stringify(filter)).toEqual(expected);
      await expectSurfacesAgree(tenant, endpoint.id, filter);
    }

    // first/after, one by one, visits every delivery once in REST's order.
    const visited: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await gqlDeliveries(tenant, endpoint.id, { first: 1, after });
      expect(page.edges).toHaveLength(1);
      visited.push(page.edges[0]!.node.id);
      expect(page.pageInfo).toMatchObject({
        hasPreviousPage: false,
        startCursor: page.edges[0]!.cursor,
        endCursor: page.edges[0]!.cursor,
      });
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor!;
    }
    expect(visited).toEqual([c1, i1, c2, i2]);
    const restPage = (await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.id}/deliveries?limit=3`)).body;
    const gqlPage = await gqlDeliveries(tenant, endpoint.id, { first: 3 });
    expect(gqlPage.edges.map((e) => e.node.id)).toEqual(restPage.items.map((d: any) => d.deliveryId));
    expect(gqlPage.pageInfo.hasNextPage).toBe(restPage.nextCursor !== null);
    const filtered = await gqlDeliveries(tenant, endpoint.id, { status: 'failed', first: 1 });
    expect(filtered.edges.map((e) => e.node.id)).toEqual([c1]);
    expect(filtered.pageInfo.hasNextPage).toBe(true);
    const filteredNext = await gqlDeliveries(tenant, endpoint.id, {
      status: 'failed',
      first: 1,
      after: filtered.pageInfo.endCursor!,
    });
    expect(filteredNext.edges.map((e) => e.node.id)).toEqual([c2]);
    expect(filteredNext.pageInfo.hasNextPage).toBe(false);
  });

  test('retryWebhookDelivery: a failed delivery gets a new attempt, which the receiver gets with the same webhook-id', async () => {
    const tenant = await createTenant(gateway.app);
    let healthy = false;
    const receiver = await startReceiver(() => ({ status: healthy ? 200 : 500 }));
    const { endpoint } = await endpointFor(tenant, receiver);
    await createContact(tenant, 'retry@example.com');
    await waitUntil(
      'the delivery has failed',
      async () => (await restDeliveries(tenant, endpoint.id))[0]?.status === 'failed',
    );
    const [failedDelivery] = await expectSurfacesAgree(tenant, endpoint.id);
    expect(failedDelivery).toMatchObject({ attemptCount: 3 });
    expect(receiver.received).toHaveLength(3);

    healthy = true;
    const retried = ok(
      await gql(
        tenant.apiKey,
        `mutation($e: ID!, $d: ID!) { retryWebhookDelivery(endpointId: $e, deliveryId: $d) { ${DELIVERY} } }`,
        { e: endpoint.id, d: failedDelivery.deliveryId },
      ),
    ).retryWebhookDelivery;
    expect(retried).toMatchObject({
      id: failedDelivery.deliveryId,
      eventId: failedDelivery.eventId,
      eventType: 'communication.contact.created',
    });
    expect(['pending', 'succeeded']).toContain(retried.status);
    const requests = await receiver.waitFor(4);
    await waitUntil(
      'the delivery has succeeded',
      async () => (await restDeliveries(tenant, endpoint.id))[0]?.status === 'succeeded',
    );

    expect(requests).toHaveLength(4);
    expect(new Set(idsOf(receiver))).toEqual(new Set([failedDelivery.eventId]));
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    expect(requests.every((r) => r.verifiedBy === 0)).toBe(true);
    const [delivery] = await expectSurfacesAgree(tenant, endpoint.id);
    expect(delivery).toMatchObject({ status: 'succeeded', attemptCount: 4, nextAttemptAt: null });
    expect(delivery.attempts.map((a: any) => a.statusCode)).toEqual([500, 500, 500, 200]);
  });

  test('recoverWebhookDeliveries(since) re-sends the failed deliveries created since then, and only those', async () => {
    const tenant = await createTenant(gateway.app);
    let healthy = false;
    const receiver = await startReceiver(() => ({ status: healthy ? 200 : 500 }));
    const { endpoint } = await endpointFor(tenant, receiver);
    const RECOVER = 'mutation($e: ID!, $since: DateTime!) { recoverWebhookDeliveries(endpointId: $e, since: $since) }';

    await createContact(tenant, 'old@example.com');
    await waitUntil(
      '1 delivery has failed',
      async () => (await restDeliveries(tenant, endpoint.id, { status: 'failed' })).length === 1,
    );
    await createContact(tenant, 'new1@example.com');
    await createContact(tenant, 'new2@example.com');
    await waitUntil(
      '3 deliveries have failed',
      async () => (await restDeliveries(tenant, endpoint.id, { status: 'failed' })).length === 3,
    );
    const [old, new1, new2] = await expectSurfacesAgree(tenant, endpoint.id);
    expect(receiver.received).toHaveLength(9); // the retry schedule, 3 attempts, exhausted for each

    healthy = true;
    const recovered = ok(await gql(tenant.apiKey, RECOVER, { e: endpoint.id, since: new1.createdAt }));
    expect(recovered).toEqual({ recoverWebhookDeliveries: 2 });
    await waitUntil(
      '2 deliveries have succeeded',
      async () => (await restDeliveries(tenant, endpoint.id, { status: 'succeeded' })).length === 2,
    );
    await sleep(300);

    const resent = receiver.received.slice(9);
    expect(resent.map((r) => r.headers['webhook-id']).sort()).toEqual([new1.eventId, new2.eventId].sort());
    expect(resent.every((r) => r.verifiedBy === 0)).toBe(true);
    for (const request of resent) {
      const earlier = receiver.received
        .slice(0, 9)
        .filter((r) => r.headers['webhook-id'] === request.headers['webhook-id']);
      expect(earlier).toHaveLength(3);
      expect(earlier.every((r) => r.body === request.body)).toBe(true);
    }
    const after = await expectSurfacesAgree(tenant, endpoint.id);
    expect(after.map((d) => [d.deliveryId, d.status, d.attemptCount])).toEqual([
      [old.deliveryId, 'failed', 3],
      [new1.deliveryId, 'succeeded', 4],
      [new2.deliveryId, 'succeeded', 4],
    ]);
    expect((await gqlDeliveries(tenant, endpoint.id, { status: 'failed' })).edges.map((e) => e.node.id)).toEqual([
      old.deliveryId,
    ]);

    // Nothing failed since then any more; an earlier `since` takes the old one too.
    expect(ok(await gql(tenant.apiKey, RECOVER, { e: endpoint.id, since: new1.createdAt }))).toEqual({
      recoverWebhookDeliveries: 0,
    });
    expect(ok(await gql(tenant.apiKey, RECOVER, { e: endpoint.id, since: old.createdAt }))).toEqual({
      recoverWebhookDeliveries: 1,
    });
    await waitUntil(
      '3 deliveries have succeeded',
      async () => (await restDeliveries(tenant, endpoint.id, { status: 'succeeded' })).length === 3,
    );
    expect(receiver.received.at(-1)!.headers['webhook-id']).toBe(old.eventId);
  });

  test('sendTestWebhook delivers a verified "webhooks.endpoint.test" event that is not in the event log', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(tenant, receiver);
    const sent = ok(
      await gql(tenant.apiKey, `mutation($e: ID!) { sendTestWebhook(endpointId: $e) { ${DELIVERY} } }`, {
        e: endpoint.id,
      }),
    ).sendTestWebhook;
    expect(sent).toMatchObject({
      id: expect.stringMatching(/^whdel_/),
      eventId: expect.stringMatching(/^evt_[0-9A-Z]{26}$/),
      eventType: 'webhooks.endpoint.test',
    });
    expect(['pending', 'succeeded']).toContain(sent.status);

    const [request] = await receiver.waitFor(1);
    expect(request!.verifiedBy).toBe(0);
    expect(verifies(receiver.secrets[0]!, request!)).toBe(true);
    expect(request!.headers['webhook-id']).toBe(sent.eventId);
    expect(bodyOf(request!)).toEqual({
      id: sent.eventId,
      type: 'webhooks.endpoint.test',
      tenantSequence: null,
      occurredAt: expect.any(String),
      correlationId: expect.any(String),
      data: { endpointId: endpoint.id, message: expect.any(String) },
    });
    expect((await api(tenant, 'GET', '/events')).body.count).toBe(0);
    await waitUntil(
      'the delivery has succeeded',
      async () => (await restDeliveries(tenant, endpoint.id))[0]?.status === 'succeeded',
    );
    const [delivery] = await expectSurfacesAgree(tenant, endpoint.id, { eventType: 'webhooks.endpoint.test' });
    expect(delivery).toMatchObject({
      deliveryId: sent.id,
      eventId: sent.eventId,
      status: 'succeeded',
      attemptCount: 1,
    });
    expect(receiver.received).toHaveLength(1);
  });

  test('rotateWebhookSecret: the next delivery carries two v1 signatures; the old secret alone and the new secret alone each verify it', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const { endpoint, secret: oldSecret } = await endpointFor(tenant, receiver);
    await createContact(tenant, 'before-rotation@example.com');
    const [before] = await receiver.waitFor(1);
    expect(String(before!.headers['webhook-signature']).split(' ')).toHaveLength(1);

    const rotated = ok(
      await gql(
        tenant.apiKey,
        `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret endpoint { ${ENDPOINT} } } }`,
        { id: endpoint.id },
      ),
    ).rotateWebhookSecret;
    expect(rotated.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(rotated.secret).not.toBe(oldSecret);
    expect(rotated.endpoint).toMatchObject({ id: endpoint.id, url: endpoint.url, enabled: true });
    expect((await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.id}`)).text).not.toContain('whsec_');

    await createContact(tenant, 'after-rotation@example.com');
    const [, after] = await receiver.waitFor(2);
    const signatures = String(after!.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(2);
    expect(signatures.every((s) => /^v1,[A-Za-z0-9+/]+=*$/.test(s))).toBe(true);
    // A receiver that knows only the old secret, and one that knows only the new one.
    expect(verifies(oldSecret, after!)).toBe(true);
    expect(verifies(rotated.secret, after!)).toBe(true);
    expect(verifies(`whsec_${Buffer.alloc(32, 7).toString('base64')}`, after!)).toBe(false);
    // Each signature is the one its secret makes for this id, timestamp and body.
    const { 'webhook-id': id, 'webhook-timestamp': timestamp } = after!.headers;
    const signedBy = (secret: string) =>
      new Webhook(secret).sign(String(id), new Date(Number(timestamp) * 1000), after!.body);
    expect(new Set(signatures)).toEqual(new Set([signedBy(oldSecret), signedBy(rotated.secret)]));
    expect(verifies(rotated.secret, before!)).toBe(false);
  });
});

describe('errors carry the REST codes', () => {
  test('validation_failed for a bad url or an unknown event type, with the same field errors REST reports; nothing is created', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(tenant, receiver);
    const cases: [Record<string, unknown>, string][] = [
      [{ url: 'ftp://example.com/hook' }, 'url'],
      [{ url: 'not a url' }, 'url'],
      [{ url: receiver.url, eventTypes: ['accounting.invoice.exploded'] }, 'eventTypes[0]'],
      [{ url: receiver.url, eventTypes: ['communication.*', 'nothing.*'] }, 'eventTypes[1]'],
      [{ url: receiver.url, eventTypes: [] }, 'eventTypes'],
    ];
    for (const [input, field] of cases) {
      const error = failed(await gql(tenant.apiKey, CREATE, { input }), 'validation_failed', 'createWebhookEndpoint');
      expect(error.extensions.status).toBe(400);
      expect(
        error.extensions.errors.map((e: any) => e.path),
        JSON.stringify(input),
      ).toContain(field);
      const viaRest = await api(tenant, 'POST', '/webhooks/endpoints', input);
      expectProblem(viaRest, 400, 'validation_failed');
      expect(error.extensions.errors).toEqual(viaRest.body.errors);

      const { url: _url, ...update } = input;
      const patch = field === 'url' ? input : update;
      const updateError = failed(
        await gql(tenant.apiKey, UPDATE, { id: endpoint.id, input: patch }),
        'validation_failed',
        'updateWebhookEndpoint',
      );
      const patchViaRest = await api(tenant, 'PATCH', `/webhooks/endpoints/${endpoint.id}`, patch);
      expectProblem(patchViaRest, 400, 'validation_failed');
      expect(updateError.extensions.errors).toEqual(patchViaRest.body.errors);
    }
    const listed = ok(
      await gql(tenant.apiKey, `{ webhookEndpoints { edges { node { ${ENDPOINT} } } } }`),
    ).webhookEndpoints.edges.map((e: any) => e.node);
    expect(listed).toEqual([endpoint]);
  });

  test('invalid_id for a malformed id, on every field that takes one', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(tenant, receiver);
    const since = new Date().toISOString();
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['query($id: ID!) { webhookEndpoint(id: $id) { id } }', 'webhookEndpoint', { id: 'whep_123' }, 'id'],
      [
        'query($id: ID!) { webhookEndpoint(id: $id) { id } }',
        'webhookEndpoint',
        { id: 'contact_01J0000000000000000000000' },
        'id',
      ],
      [UPDATE, 'updateWebhookEndpoint', { id: 'nope', input: { enabled: false } }, 'id'],
      ['mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', 'deleteWebhookEndpoint', { id: 'whep_' }, 'id'],
      ['mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }', 'rotateWebhookSecret', { id: 'x' }, 'id'],
      ['mutation($e: ID!) { sendTestWebhook(endpointId: $e) { id } }', 'sendTestWebhook', { e: 'whep_nope' }, 'id'],
      [
        'mutation($e: ID!, $s: DateTime!) { recoverWebhookDeliveries(endpointId: $e, since: $s) }',
        'recoverWebhookDeliveries',
        { e: 'whep_nope', s: since },
        'id',
      ],
      [
        'mutation($e: ID!, $d: ID!) { retryWebhookDelivery(endpointId: $e, deliveryId: $d) { id } }',
        'retryWebhookDelivery',
        { e: endpoint.id, d: 'whdel_nope' },
        'deliveryId',
      ],
    ];
    for (const [query, field, variables, path] of cases) {
      const error = failed(await gql(tenant.apiKey, query, variables), 'invalid_id', field);
      expect(error.extensions.status).toBe(400);
      expect(error.extensions.errors.map((e: any) => e.path)).toEqual([path]);
    }
    expectProblem(await api(tenant, 'GET', '/webhooks/endpoints/whep_123'), 400, 'invalid_id');
    expectProblem(
      await api(tenant, 'POST', `/webhooks/endpoints/${endpoint.id}/deliveries/whdel_nope/retry`),
      400,
      'invalid_id',
    );
    // Nothing happened to the real endpoint.
    expect(
      ok(await gql(tenant.apiKey, `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`, { id: endpoint.id }))
        .webhookEndpoint,
    ).toEqual(endpoint);
    expect(receiver.received).toHaveLength(0);
  });

  test("not_found for another tenant's endpoint or delivery, which stays untouched", async () => {
    const [owner, other] = await Promise.all([createTenant(gateway.app), createTenant(gateway.app)]);
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(owner, receiver);
    const otherReceiver = await startReceiver();
    const { endpoint: otherEndpoint } = await endpointFor(other, otherReceiver);
    await createContact(owner, 'mine@example.com');
    await receiver.waitFor(1);
    await waitUntil(
      'the delivery has succeeded',
      async () => (await restDeliveries(owner, endpoint.id))[0]?.status === 'succeeded',
    );
    const [delivery] = await restDeliveries(owner, endpoint.id);
    const ENDPOINT_QUERY = `query($id: ID!) { webhookEndpoint(id: $id) { ${ENDPOINT} } }`;
    const before = ok(await gql(owner.apiKey, ENDPOINT_QUERY, { id: endpoint.id })).webhookEndpoint;
    const since = '2020-01-01T00:00:00Z';

    const cases: [string, string, Record<string, unknown>][] = [
      ['query($id: ID!) { webhookEndpoint(id: $id) { id } }', 'webhookEndpoint', { id: endpoint.id }],
      [UPDATE, 'updateWebhookEndpoint', { id: endpoint.id, input: { enabled: false } }],
      ['mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', 'deleteWebhookEndpoint', { id: endpoint.id }],
      ['mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }', 'rotateWebhookSecret', { id: endpoint.id }],
      ['mutation($e: ID!) { sendTestWebhook(endpointId: $e) { id } }', 'sendTestWebhook', { e: endpoint.id }],
      [
        'mutation($e: ID!, $s: DateTime!) { recoverWebhookDeliveries(endpointId: $e, since: $s) }',
        'recoverWebhookDeliveries',
        { e: endpoint.id, s: since },
      ],
      [
        'mutation($e: ID!, $d: ID!) { retryWebhookDelivery(endpointId: $e, deliveryId: $d) { id } }',
        'retryWebhookDelivery',
        { e: endpoint.id, d: delivery.deliveryId },
      ],
      // The other tenant's own endpoint with the owner's delivery id.
      [
        'mutation($e: ID!, $d: ID!) { retryWebhookDelivery(endpointId: $e, deliveryId: $d) { id } }',
        'retryWebhookDelivery',
        { e: otherEndpoint.id, d: delivery.deliveryId },
      ],
    ];
    for (const [query, field, variables] of cases) {
      const error = failed(await gql(other.apiKey, query, variables), 'not_found', field);
      expect(error.extensions.status).toBe(404);
    }
    expectProblem(await api(other, 'GET', `/webhooks/endpoints/${endpoint.id}`), 404, 'not_found');
    expectProblem(
      await api(other, 'GET', `/webhooks/endpoints/${otherEndpoint.id}/deliveries/${delivery.deliveryId}`),
      404,
      'not_found',
    );
    const listed = ok(
      await gql(other.apiKey, '{ webhookEndpoints { edges { node { id } } } }'),
    ).webhookEndpoints.edges.map((e: any) => e.node.id);
    expect(listed).toEqual([otherEndpoint.id]);
    expect((await gqlDeliveries(other, otherEndpoint.id)).edges).toEqual([]);

    // The owner's endpoint is as it was: enabled, one secret, one delivery with one attempt, no test or retry sent.
    expect(ok(await gql(owner.apiKey, ENDPOINT_QUERY, { id: endpoint.id })).webhookEndpoint).toEqual(before);
    expect(before).toEqual({ ...endpoint, updatedAt: expect.any(String) });
    await sleep(300);
    expect(receiver.received).toHaveLength(1);
    expect(otherReceiver.received).toHaveLength(0);
    const [unchanged] = await expectSurfacesAgree(owner, endpoint.id);
    expect(unchanged).toEqual(delivery);
    await createContact(owner, 'still-mine@example.com');
    const [, next] = await receiver.waitFor(2);
    expect(String(next!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(next!.verifiedBy).toBe(0);
  });

  test('unauthorized without a key or with a bad one', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(tenant, receiver);
    for (const key of [undefined, 'nilo_ak_not-a-real-key']) {
      failed(await gql(key, '{ webhookEndpoints { edges { node { id } } } }'), 'unauthorized', 'webhookEndpoints');
      failed(
        await gql(key, `query($id: ID!) { webhookEndpoint(id: $id) { id } }`, { id: endpoint.id }),
        'unauthorized',
        'webhookEndpoint',
      );
      failed(await gql(key, CREATE, { input: { url: receiver.url } }), 'unauthorized', 'createWebhookEndpoint');
      failed(
        await gql(key, 'mutation($id: ID!) { deleteWebhookEndpoint(id: $id) }', { id: endpoint.id }),
        'unauthorized',
        'deleteWebhookEndpoint',
      );
      failed(
        await gql(key, `mutation($e: ID!) { sendTestWebhook(endpointId: $e) { id } }`, { e: endpoint.id }),
        'unauthorized',
        'sendTestWebhook',
      );
    }
    expectProblem(await http(gateway.url, 'GET', '/api/v1/webhooks/endpoints'), 401, 'unauthorized');
    expect((await api(tenant, 'GET', '/webhooks/endpoints')).body.items.map((e: any) => e.endpointId)).toEqual([
      endpoint.id,
    ]);
    await sleep(300);
    expect(receiver.received).toHaveLength(0);
  });

  test('last and before answer invalid_request on both connections: they page forwards only', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(tenant, receiver);
    for (const args of ['last: 1', `before: "${endpoint.id}"`, `first: 1, before: "${endpoint.id}"`]) {
      const error = failed(
        await gql(tenant.apiKey, `{ webhookEndpoints(${args}) { edges { node { id } } } }`),
        'invalid_request',
        'webhookEndpoints',
      );
      expect(error.extensions.status).toBe(400);
      const nested = await gql(
        tenant.apiKey,
        `query($id: ID!) { webhookEndpoint(id: $id) { id deliveries(${args}) { edges { node { id } } } } }`,
        { id: endpoint.id },
      );
      expect(nested.errors, JSON.stringify(nested)).toHaveLength(1);
      expect(nested.errors![0]!.extensions).toMatchObject({
        code: 'invalid_request',
        status: 400,
        correlationId: nested.correlationId,
      });
      expect(nested.errors![0]!.path).toEqual(['webhookEndpoint', 'deliveries']);
    }
  });

  // `after` must be an id of the connection's own kind (forwardPage in src/graphql/pages.ts), so
  // "garbage" cannot silently start over from the first page, nor "zzz" answer an empty one.
  test('a malformed after cursor is refused on both connections, not read as a position', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const { endpoint } = await endpointFor(tenant, receiver);
    await endpointFor(tenant, receiver);
    expectProblem(await api(tenant, 'GET', '/webhooks/endpoints?cursor=garbage'), 400, 'validation_failed');
    for (const after of ['garbage', 'zzz', 'whep_']) {
      const listed = await gql(
        tenant.apiKey,
        'query($after: String) { webhookEndpoints(first: 1, after: $after) { edges { node { id } } } }',
        { after },
      );
      expect(
        listed.errors?.[0]?.extensions,
        `webhookEndpoints(after: "${after}") answered ${JSON.stringify(listed.data)}`,
      ).toMatchObject({ code: expect.stringMatching(/^invalid_(id|request)$/), status: 400 });
      const deliveries = await gql(
        tenant.apiKey,
        'query($id: ID!, $after: String) { webhookEndpoint(id: $id) { deliveries(after: $after) { edges { node { id } } } } }',
        { id: endpoint.id, after },
      );
      expect(
        deliveries.errors?.[0]?.extensions,
        `deliveries(after: "${after}") answered ${JSON.stringify(deliveries.data)}`,
      ).toMatchObject({ code: expect.stringMatching(/^invalid_(id|request)$/), status: 400 });
    }
  });
});
