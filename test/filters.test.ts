import { describe, expect, test } from 'vitest';
import { createTenant, graphql, http, useGateway, type Tenant } from './support/gateway.js';
import { expectProblem } from './support/problem.js';
import { startReceiver } from './support/receiver.js';
import { connectWs, eventsIn, subscribeLive, type Subscription } from './support/subscriptions.js';

// Content filters: one filter, saved on a webhook endpoint, given to a subscription (live and
// resumed with `after`) and to the events poll (REST and GraphQL), selects exactly the same events
// of a mixed stream; invalid filters are refused at their paths, everywhere.

const gateway = useGateway(
  { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128', EVENT_POLL_MS: '200' },
  { ownDatabase: true },
);

const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

/** Paid invoices of Acme, or contacts tagged vip: a field of each family, absent from the other. */
const TYPES = ['accounting.invoice.*', 'communication.contact.*'];
const FILTERS = [{ field: 'createdAt', operator: 'is_after', value: '2020-01-01' }];
const ANY_OF = [
  [
    { field: 'status', operator: 'is', value: 'paid' },
    { field: 'customer', operator: 'contains', value: 'acme' },
  ],
  [{ field: 'tag', operator: 'is', value: 'VIP' }],
];
const SELECTION = { types: TYPES, filters: FILTERS, anyOf: ANY_OF };

const EVENTS = `subscription($types: [String!], $after: ID, $filters: [EventFilterInput!], $anyOf: [[EventFilterInput!]!]) {
  events(types: $types, after: $after, filters: $filters, anyOf: $anyOf) { id type tenantSequence skipped resourceId }
}`;

/** Writes a mixed stream; answers the resource ids whose events the filter should select, by type. */
async function mixedStream(tenant: Tenant, label: string) {
  const contact = (body: object) => api(tenant, 'POST', '/contacts/contacts', body);
  const invoice = async (customer: string, then: string[]) => {
    const created = await api(tenant, 'POST', '/invoices', {
      customer,
      issuedDate: '2026-11-22',
      paymentTermsDays: 14,
      items: [{ description: 'Work', quantity: 1, price: 50, taxRate: 0 }],
    });
    for (const action of then) await api(tenant, 'POST', `/invoices/${created.body.invoiceId}/${action}`);
    return created.body.invoiceId as string;
  };
  const vip = await contact({ email: `vip-${label}@example.com`, tag: 'vip' });
  const regular = await contact({ email: `regular-${label}@example.com`, tag: 'regular' });
  await api(tenant, 'PATCH', `/contacts/contacts/${regular.body.contactId}`, { tag: 'Vip' });
  await contact({ email: `none-${label}@example.com` });
  const acme = await invoice(`Acme ${label} GmbH`, ['issue', 'pay']);
  await invoice(`Other ${label}`, ['issue', 'pay']);
  await invoice(`ACME ${label} Inc`, ['void']);
  return [
    ['communication.contact.created', vip.body.contactId],
    ['communication.contact.updated', regular.body.contactId],
    ['accounting.invoice.paid', acme],
  ];
}

/** The tenant's events, in log order, of the given type and resource pairs. */
async function idsOf(tenant: Tenant, wanted: string[][]) {
  const log = await gateway.app.services.prisma.event.findMany({
    where: { tenantId: tenant.tenantId },
    orderBy: { tenantSequence: 'asc' },
  });
  return log
    .filter((event) => wanted.some(([type, id]) => event.type === type && event.resourceId === id))
    .map((event) => event.id);
}

const ids = (subscription: Subscription) => eventsIn(subscription.results).map((event) => event.id);

describe('one filter, every channel', () => {
  test('webhook, live and resumed subscriptions, REST and GraphQL polls select exactly the same events', {
    timeout: 120_000,
  }, async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const endpoint = await api(tenant, 'POST', '/webhooks/endpoints', {
      url: receiver.url,
      eventTypes: TYPES,
      filters: FILTERS,
      anyOf: ANY_OF,
    });
    expect(endpoint.status, endpoint.text).toBe(201);
    expect(endpoint.body).toMatchObject({ eventTypes: TYPES, filters: FILTERS, anyOf: ANY_OF });
    receiver.secrets.push(endpoint.body.secret);
    const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
    const live = await subscribeLive(ws, gateway.url, EVENTS, SELECTION);
    // A subscription that will stop half-way and resume from the last event it got.
    const interrupted = await subscribeLive(ws, gateway.url, EVENTS, SELECTION);

    const first = await idsOf(tenant, await mixedStream(tenant, 'one'));
    expect(first).toHaveLength(3);
    await live.waitFor(3);
    await interrupted.waitFor(3);
    interrupted.unsubscribe();
    const second = await idsOf(tenant, await mixedStream(tenant, 'two'));
    const expected = [...first, ...second];

    const resumed = ws.subscribe(EVENTS, { ...SELECTION, after: ids(interrupted).at(-1) });
    // From the start of the log: the filter applies to the replay too.
    const replayed = ws.subscribe(EVENTS, { ...SELECTION, after: (await firstEventId(tenant))! });
    await live.waitFor(6);
    await resumed.waitFor(3);
    await receiver.waitFor(6);
    const log = await gateway.app.services.prisma.event.findMany({ where: { tenantId: tenant.tenantId } });
    await replayed.waitFor(5);

    expect(ids(live)).toEqual(expected);
    expect([...ids(interrupted), ...ids(resumed)]).toEqual(expected);
    expect(ids(replayed)).toEqual(expected.slice(1)); // the first event is the `after` itself
    expect(receiver.received.map((r) => r.headers['webhook-id'])).toEqual(expected);
    expect(receiver.received.every((r) => r.verifiedBy === 0)).toBe(true);

    const polled = await api(tenant, 'POST', '/events/search', { ...SELECTION, limit: 500 });
    expect(polled.status, polled.text).toBe(200);
    expect(polled.body.items.map((event: { id: string }) => event.id)).toEqual(expected);
    const last = log.reduce((a, b) => (a.tenantSequence > b.tenantSequence ? a : b));
    expect(polled.body).toMatchObject({
      nextCursor: null,
      examinedThrough: { eventId: last.id, tenantSequence: last.tenantSequence },
    });
    const queried = await graphql(
      gateway.url,
      tenant.apiKey,
      'query($types: [String!], $filters: [EventFilterInput!], $anyOf: [[EventFilterInput!]!]) { events(first: 100, types: $types, filters: $filters, anyOf: $anyOf) { edges { node { id } } } }',
      SELECTION,
    );
    expect(queried.errors).toBeUndefined();
    expect(queried.data.events.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual(expected);

    // `skipped` accounts for every sequence between two delivered events: no gap is unexplained.
    const delivered = eventsIn(live.results);
    for (const [i, event] of delivered.entries())
      if (i > 0) expect(event.tenantSequence - event.skipped - 1).toBe(delivered[i - 1].tenantSequence);
    const firstOfReplay = eventsIn(replayed.results)[0];
    expect(firstOfReplay.tenantSequence - firstOfReplay.skipped - 1).toBe(1);

    // The webhook filter kept every other event of its types from the endpoint, and says how many.
    const ofTypes = log.filter((event) => /^(accounting\.invoice|communication\.contact)\./.test(event.type));
    const deliveries = await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.body.endpointId}/deliveries`);
    expect(deliveries.body).toMatchObject({ count: 6, filteredOut: ofTypes.length - 6 });
    await ws.dispose();
  });

  test('the events poll pages by what it examined: few matches still move the cursor on', async () => {
    const tenant = await createTenant(gateway.app);
    await mixedStream(tenant, 'paging');
    const page = (body: object) => api(tenant, 'POST', '/events/search', { ...SELECTION, ...body });
    const one = await page({ limit: 1 });
    expect(one.body).toMatchObject({ count: 1, nextCursor: expect.any(String) });
    expect(one.body.examinedThrough.eventId).toBe(one.body.items[0].id);
    const rest = await page({ limit: 10, cursor: one.body.nextCursor });
    expect(rest.body.count).toBe(2);
    const after = await page({ after: rest.body.examinedThrough.eventId });
    expect(after.body).toEqual({ items: [], nextCursor: null, count: 0, examinedThrough: null });
  });
});

async function firstEventId(tenant: Tenant) {
  const first = await gateway.app.services.prisma.event.findFirst({
    where: { tenantId: tenant.tenantId, tenantSequence: 1 },
  });
  return first?.id;
}

describe('webhook endpoints', () => {
  test('POST …/test with a sample event answers whether the endpoint would get it, and sends nothing', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const endpoint = await api(tenant, 'POST', '/webhooks/endpoints', {
      url: receiver.url,
      eventTypes: ['accounting.invoice.paid'],
      filters: [{ field: 'grossTotal', operator: 'is_after', value: 100 }],
    });
    expect(endpoint.status, endpoint.text).toBe(201);
    const test = (event: object) =>
      api(tenant, 'POST', `/webhooks/endpoints/${endpoint.body.endpointId}/test`, { event });
    expect((await test({ type: 'accounting.invoice.paid', data: { grossTotal: 100.01 } })).body).toEqual({
      matches: true,
      typeMatches: true,
      filterMatches: true,
    });
    expect((await test({ type: 'accounting.invoice.paid', data: { grossTotal: 100 } })).body).toEqual({
      matches: false,
      typeMatches: true,
      filterMatches: false,
    });
    expect((await test({ type: 'accounting.invoice.issued', data: { grossTotal: 500 } })).body).toMatchObject({
      matches: false,
      typeMatches: false,
    });
    const graphqlAnswer = await graphql(
      gateway.url,
      tenant.apiKey,
      'query($id: ID!) { webhookWouldDeliver(endpointId: $id, type: "accounting.invoice.paid", data: { grossTotal: 250 }) { matches } }',
      { id: endpoint.body.endpointId },
    );
    expect(graphqlAnswer.data).toEqual({ webhookWouldDeliver: { matches: true } });
    // Without a body, the test event is sent as before.
    const sent = await api(tenant, 'POST', `/webhooks/endpoints/${endpoint.body.endpointId}/test`);
    expect(sent.status, sent.text).toBe(202);
    await receiver.waitFor(1);
    expect(receiver.received).toHaveLength(1);
  });

  test('a change of filter, types or state, through the API or straight in the database, applies from the next event', {
    timeout: 60_000,
  }, async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const created = await api(tenant, 'POST', '/webhooks/endpoints', {
      url: receiver.url,
      eventTypes: ['communication.contact.created'],
      filters: [{ field: 'tag', operator: 'is', value: 'vip' }],
    });
    receiver.secrets.push(created.body.secret);
    const path = `/webhooks/endpoints/${created.body.endpointId}`;
    const { prisma } = gateway.app.services;
    let made = 0;
    /** Creates a contact and waits until the relay has judged its event. */
    const contact = async (tag: string) => {
      const answer = await api(tenant, 'POST', '/contacts/contacts', { email: `c${++made}@example.com`, tag });
      const { eventSequence } = await prisma.tenant.findUniqueOrThrow({ where: { id: tenant.tenantId } });
      await expect
        .poll(
          async () =>
            (await prisma.relayCursor.findUnique({ where: { tenantId: tenant.tenantId } }))?.publishedSequence,
          {
            timeout: 20_000,
          },
        )
        .toBeGreaterThanOrEqual(eventSequence);
      return answer.body.contactId as string;
    };

    const delivered = [await contact('vip')];
    await contact('regular');
    expect(
      (await api(tenant, 'PATCH', path, { filters: [{ field: 'tag', operator: 'is', value: 'regular' }] })).status,
    ).toBe(200);
    await contact('vip');
    delivered.push(await contact('regular'));
    // As another process, an import or an operator would: not through this process's service.
    await prisma.$executeRaw`UPDATE "WebhookEndpoint" SET "enabled" = false WHERE "id" = ${created.body.endpointId}`;
    await contact('regular');
    await prisma.$executeRaw`UPDATE "WebhookEndpoint" SET "enabled" = true, "filters" = '[]', "eventTypes" = '{communication.contact.updated}' WHERE "id" = ${created.body.endpointId}`;
    await contact('regular');
    await api(tenant, 'PATCH', `/contacts/contacts/${delivered[0]}`, { tag: 'other' });
    delivered.push(delivered[0]!);

    await receiver.waitFor(3);
    const deliveries = await api(tenant, 'GET', `${path}/deliveries`);
    expect(deliveries.body.items.map((d: { eventType: string }) => d.eventType).sort()).toEqual([
      'communication.contact.created',
      'communication.contact.created',
      'communication.contact.updated',
    ]);
    expect(receiver.received.every((r) => r.verifiedBy === 0)).toBe(true);
    const resources = receiver.received.map((r) => JSON.parse(r.body).data.contactId as string);
    expect(resources.sort()).toEqual(delivered.sort());
    // Kept back: the regular one, then the vip one; none while disabled, none once the filter was gone.
    expect(deliveries.body.filteredOut).toBe(2);
  });

  test('a relay batch that fails after the filters judged its events counts what they kept back once', {
    timeout: 60_000,
  }, async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const endpoint = async (filters: object[]) => {
      const created = await api(tenant, 'POST', '/webhooks/endpoints', {
        url: receiver.url,
        eventTypes: ['communication.contact.created'],
        filters,
      });
      receiver.secrets.push(created.body.secret);
      return `/webhooks/endpoints/${created.body.endpointId}`;
    };
    const vipOnly = await endpoint([{ field: 'tag', operator: 'is', value: 'vip' }]);
    const everything = await endpoint([]);
    const { prisma } = gateway.app.services;
    // The batch's first delivery insert fails once (a sequence, since a failed transaction keeps its
    // nextval): the relay publishes the batch again at its next poll.
    const fault = `relay_fault_${tenant.tenantId.toLowerCase()}`;
    await prisma.$executeRawUnsafe(`CREATE SEQUENCE ${fault}`);
    await prisma.$executeRawUnsafe(`
      CREATE FUNCTION ${fault}() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW."tenantId" = '${tenant.tenantId}' AND nextval('${fault}') = 1 THEN RAISE EXCEPTION 'injected fault'; END IF;
        RETURN NEW;
      END $$`);
    await prisma.$executeRawUnsafe(
      `CREATE TRIGGER ${fault} BEFORE INSERT ON "WebhookDelivery" FOR EACH ROW EXECUTE FUNCTION ${fault}()`,
    );
    try {
      await api(tenant, 'POST', '/contacts/contacts', { email: 'regular@example.com', tag: 'regular' });
      await receiver.waitFor(1);
      const [{ faults }] = await prisma.$queryRawUnsafe<{ faults: bigint }[]>(
        `SELECT last_value AS faults FROM ${fault}`,
      );
      expect(Number(faults)).toBeGreaterThanOrEqual(2); // it failed once, then went through
    } finally {
      await prisma.$executeRawUnsafe(`DROP TRIGGER ${fault} ON "WebhookDelivery"`);
      await prisma.$executeRawUnsafe(`DROP FUNCTION ${fault}()`);
      await prisma.$executeRawUnsafe(`DROP SEQUENCE ${fault}`);
    }
    expect((await api(tenant, 'GET', `${everything}/deliveries`)).body).toMatchObject({ count: 1, filteredOut: 0 });
    expect((await api(tenant, 'GET', `${vipOnly}/deliveries`)).body).toMatchObject({ count: 0, filteredOut: 1 });
  });

  test('filters are saved and changed through GraphQL too, and PATCH [] removes them', async () => {
    const tenant = await createTenant(gateway.app);
    const created = await graphql(
      gateway.url,
      tenant.apiKey,
      `mutation { createWebhookEndpoint(input: { url: "http://127.0.0.1:9/hook", eventTypes: ["communication.*"], anyOf: [[{ field: "tag", operator: "is", value: "vip" }]] }) { endpoint { id filters anyOf filteredOut } } }`,
    );
    expect(created.errors).toBeUndefined();
    const { id, ...rest } = created.data.createWebhookEndpoint.endpoint;
    expect(rest).toEqual({ filters: [], anyOf: [[{ field: 'tag', operator: 'is', value: 'vip' }]], filteredOut: 0 });
    const updated = await graphql(
      gateway.url,
      tenant.apiKey,
      `mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: { filters: [{ field: "customData.erpId", operator: "is_any_of", value: ["E-1", "E-2"] }] }) { filters anyOf } }`,
      { id },
    );
    expect(updated.data.updateWebhookEndpoint).toEqual({
      filters: [{ field: 'customData.erpId', operator: 'is_any_of', value: ['E-1', 'E-2'] }],
      anyOf: [[{ field: 'tag', operator: 'is', value: 'vip' }]],
    });
    const cleared = await api(tenant, 'PATCH', `/webhooks/endpoints/${id}`, { filters: [], anyOf: [] });
    expect(cleared.body).toMatchObject({ filters: [], anyOf: [] });
  });
});

describe('invalid filters are refused with their paths, and change nothing', () => {
  const badField = { field: 'status', operator: 'is', value: 'paid' };

  test('webhook endpoints: on create, on update, and when new types no longer have the field', async () => {
    const tenant = await createTenant(gateway.app);
    const create = await api(tenant, 'POST', '/webhooks/endpoints', {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['communication.contact.*'],
      filters: [{ field: 'tag', operator: 'is', value: 'vip' }, badField],
    });
    expectProblem(create, 400, 'validation_failed', {
      errors: [{ path: 'filters[1].field', message: expect.stringContaining('unknown field "status"') }],
    });
    const badOperator = await api(tenant, 'POST', '/webhooks/endpoints', {
      url: 'http://127.0.0.1:9/hook',
      filters: [{ field: 'tag', operator: 'matches', value: 'x' }],
    });
    expectProblem(badOperator, 400, 'validation_failed');
    expect(badOperator.body.errors[0].path).toBe('filters[0].operator');
    expect((await api(tenant, 'GET', '/webhooks/endpoints')).body.count).toBe(0);

    const endpoint = await api(tenant, 'POST', '/webhooks/endpoints', {
      url: 'http://127.0.0.1:9/hook',
      eventTypes: ['communication.contact.*'],
      anyOf: [[{ field: 'tag', operator: 'is', value: 'vip' }]],
    });
    const path = `/webhooks/endpoints/${endpoint.body.endpointId}`;
    const narrowed = await api(tenant, 'PATCH', path, { eventTypes: ['accounting.*'] });
    expectProblem(narrowed, 400, 'validation_failed', {
      errors: [{ path: 'anyOf[0][0].field', message: expect.stringContaining('unknown field "tag"') }],
    });
    const badValue = await api(tenant, 'PATCH', path, {
      filters: [{ field: 'createdAt', operator: 'is_after', value: 'soon' }],
    });
    expectProblem(badValue, 400, 'validation_failed', {
      errors: [{ path: 'filters[0].value', message: expect.stringContaining('ISO-8601') }],
    });
    expect((await api(tenant, 'GET', path)).body).toMatchObject({
      eventTypes: ['communication.contact.*'],
      filters: [],
    });
  });

  test('subscriptions, typed subscriptions and the polls', async () => {
    const tenant = await createTenant(gateway.app);
    const poll = await api(tenant, 'POST', '/events/search', { types: ['communication.*'], filters: [badField] });
    expectProblem(poll, 400, 'validation_failed', {
      errors: [{ path: 'filters[0].field', message: expect.stringContaining('unknown field "status"') }],
    });
    const queried = await graphql(
      gateway.url,
      tenant.apiKey,
      'query { events(types: ["communication.*"], filters: [{ field: "status", operator: "is", value: "paid" }]) { edges { node { id } } } }',
    );
    expect(queried.errors?.[0]?.extensions).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'filters[0].field', message: expect.stringContaining('unknown field') }],
    });
    const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
    const refused = async (query: string, variables: Record<string, unknown>) => {
      const subscription = ws.subscribe(query, variables);
      await subscription.done;
      return subscription.results[0]?.errors?.[0]?.extensions;
    };
    expect(await refused(EVENTS, { types: ['communication.*'], anyOf: [[badField]] })).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'anyOf[0][0].field', message: expect.stringContaining('unknown field "status"') }],
    });
    expect(
      await refused('subscription($filters: [EventFilterInput!]) { contactChanged(filters: $filters) { id } }', {
        filters: [{ field: 'tag', operator: 'is_before', value: 'x' }],
      }),
    ).toMatchObject({ code: 'validation_failed', errors: [{ path: 'filters[0].operator' }] });
    const job = await api(tenant, 'POST', '/jobs', { resourceType: 'demo.hold', input: {} });
    expect(
      await refused(
        'subscription($id: ID!, $filters: [EventFilterInput!]) { jobUpdated(id: $id, filters: $filters) { id } }',
        {
          id: job.body.jobId,
          filters: [{ field: 'customer', operator: 'is', value: 'x' }],
        },
      ),
    ).toMatchObject({ code: 'validation_failed', errors: [{ path: 'filters[0].field' }] });
    await ws.dispose();
  });

  test('typed subscriptions filter too', async () => {
    const tenant = await createTenant(gateway.app);
    const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
    const paid = await subscribeLive(
      ws,
      gateway.url,
      'subscription { invoiceChanged(filters: [{ field: "status", operator: "is", value: "paid" }]) { type skipped } }',
    );
    await mixedStream(tenant, 'typed');
    // A last paid invoice after everything else: what arrives before it is all the stream let through.
    const last = await api(tenant, 'POST', '/invoices', {
      customer: 'Last',
      issuedDate: '2026-11-22',
      paymentTermsDays: 14,
      items: [{ description: 'Work', quantity: 1, price: 50, taxRate: 0 }],
    });
    await api(tenant, 'POST', `/invoices/${last.body.invoiceId}/issue`);
    await api(tenant, 'POST', `/invoices/${last.body.invoiceId}/pay`);
    await paid.waitFor(3);
    expect(eventsIn(paid.results, 'invoiceChanged').map((event) => event.type)).toEqual([
      'accounting.invoice.paid',
      'accounting.invoice.paid',
      'accounting.invoice.paid',
    ]);

    // A job's events from its first on (`after` an event before it), of those the filter lets through only how it ended.
    const [before] = (await api(tenant, 'GET', '/events?limit=1')).body.items;
    const job = await api(tenant, 'POST', '/contacts/contacts/import', {
      contacts: [{ email: 'job-1@example.com' }, { email: 'job-2@example.com' }],
    });
    const ended = await subscribeLive(
      ws,
      gateway.url,
      'subscription($id: ID!, $after: ID) { jobUpdated(id: $id, after: $after, filters: [{ field: "status", operator: "is_any_of", value: ["succeeded", "failed"] }]) { type skipped data { ... on Job { status } } } }',
      { id: job.body.jobId, after: before.id },
    );
    const [end] = eventsIn(await ended.waitFor(1), 'jobUpdated');
    expect(end).toMatchObject({ type: 'jobs.job.succeeded', data: { status: 'succeeded' } });
    const jobEvents = (await api(tenant, 'GET', `/events?types=jobs.*&after=${before.id}`)).body.items;
    expect(jobEvents.at(-1).type).toBe('jobs.job.succeeded');
    expect(jobEvents.length).toBeGreaterThan(1);
    await ws.dispose();
  });
});
