import WebSocket from 'ws';
import { afterAll, describe, expect, test, vi } from 'vitest';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { sleep } from './support/problem.js';
import { waitUntil } from './support/wait.js';
import {
  connectWs,
  eventsIn,
  liveStreams,
  subscribeLive,
  type Subscription,
  type WsConnection,
} from './support/subscriptions.js';

const gateway = useGateway();
const connections: WsConnection[] = [];
afterAll(async () => {
  await Promise.all(connections.map((c) => c.dispose()));
});

function connect(
  tenant: Tenant | undefined,
  params: Record<string, unknown> | undefined = tenant ? { authorization: `Bearer ${tenant.apiKey}` } : undefined,
) {
  const connection = connectWs(gateway.url, params);
  connections.push(connection);
  return connection;
}

const createContact = (tenant: Tenant, email: string) =>
  http(gateway.url, 'POST', '/api/v1/contacts/contacts', { key: tenant.apiKey, body: { email } });
const createInvoice = (tenant: Tenant) =>
  http(gateway.url, 'POST', '/api/v1/invoices', {
    key: tenant.apiKey,
    body: {
      customer: 'Acme',
      issuedDate: '2026-11-22',
      paymentTermsDays: 30,
      items: [{ description: 'Work', quantity: 1, price: 100, taxRate: 20 }],
    },
  });

const EVENTS = `subscription($types: [String!], $after: ID) {
  events(types: $types, after: $after) { id type tenantSequence resourceType resourceId correlationId occurredAt snapshot data { __typename ... on Contact { id email } ... on Invoice { id number } ... on DeletedResource { id resourceType } } }
}`;
const SEQUENCES = `subscription($types: [String!], $after: ID) { events(types: $types, after: $after) { id type tenantSequence resourceId } }`;

/** Subscribes and waits until the gateway has the stream live. */
const subscribed = (connection: WsConnection, query: string, variables?: Record<string, unknown>) =>
  subscribeLive(connection, gateway.url, query, variables);

/** A subscription refused when it starts: one result with the errors, then completion. */
async function refusal(subscription: Subscription) {
  await subscription.done;
  expect(subscription.results).toHaveLength(1);
  expect(subscription.results[0]!.data).toBeUndefined();
  return subscription.results[0]!.errors!;
}

async function storedEvents(tenant: Tenant) {
  return gateway.app.services.prisma.event.findMany({
    where: { tenantId: tenant.tenantId },
    orderBy: { tenantSequence: 'asc' },
  });
}

describe('events subscription', () => {
  test('a committed change reaches the subscriber with the envelope of the durable log', async () => {
    const tenant = await createTenant(gateway.app);
    const sub = await subscribed(connect(tenant), EVENTS);
    const created = await createContact(tenant, 'live@example.com');
    expect(created.status).toBe(201);
    const [event] = eventsIn(await sub.waitFor(1));
    const [stored] = await storedEvents(tenant);
    expect(event).toEqual({
      id: stored!.id,
      type: 'communication.contact.created',
      tenantSequence: 1,
      resourceType: 'contact',
      resourceId: created.body.contactId,
      correlationId: created.headers.get('x-correlation-id'),
      occurredAt: stored!.occurredAt.toISOString(),
      snapshot: created.body,
      data: { __typename: 'Contact', id: created.body.contactId, email: 'live@example.com' },
    });
  });

  test('data is read now with the selection; a deleted resource resolves to DeletedResource with its snapshot kept', async () => {
    const tenant = await createTenant(gateway.app);
    const sub = await subscribed(connect(tenant), EVENTS);
    const created = await createContact(tenant, 'gone@example.com');
    expect(
      (await http(gateway.url, 'DELETE', `/api/v1/contacts/contacts/${created.body.contactId}`, { key: tenant.apiKey }))
        .status,
    ).toBe(204);
    const events = eventsIn(await sub.waitFor(2));
    expect(events.map((e) => e.type)).toEqual(['communication.contact.created', 'communication.contact.deleted']);
    expect(events[1].data).toEqual({
      __typename: 'DeletedResource',
      id: created.body.contactId,
      resourceType: 'contact',
    });
    expect(events[1].snapshot.email).toBe('gone@example.com');
    // Replayed after the deletion, the created event's data is gone too, while its snapshot stays.
    const replay = await subscribed(connect(tenant), EVENTS, { after: null });
    const log = await storedEvents(tenant);
    const resumed = await subscribed(connect(tenant), EVENTS, { after: log[0]!.id });
    await createContact(tenant, 'next@example.com');
    const [deleted] = eventsIn(await resumed.waitFor(1));
    expect(deleted).toMatchObject({
      type: 'communication.contact.deleted',
      data: { __typename: 'DeletedResource' },
      snapshot: { email: 'gone@example.com' },
    });
    expect(eventsIn(await replay.waitFor(1))[0].snapshot.email).toBe('next@example.com');
  });

  test('data is read once: its fields do not read the row again (which fails once it is deleted)', async () => {
    const tenant = await createTenant(gateway.app);
    const sub = await subscribed(
      connect(tenant),
      'subscription { events { data { ... on Contact { id email fullName } } } }',
    );
    const { contact } = gateway.app.services.prisma;
    const reads = vi.spyOn(contact, 'findUnique');
    const rereads = vi.spyOn(contact, 'findUniqueOrThrow');
    await createContact(tenant, 'once@example.com');
    const [event] = eventsIn(await sub.waitFor(1));
    const calls = { reads: reads.mock.calls.map(([args]) => args), rereads: rereads.mock.calls.length };
    reads.mockRestore();
    rereads.mockRestore();
    expect(event.data).toMatchObject({ email: 'once@example.com', fullName: null });
    expect(calls.rereads).toBe(0);
    expect(calls.reads).toEqual([{ where: { id: event.data.id } }]);
  });

  test('types filter by exact type and wildcard; invoices resolve as Invoice', async () => {
    const tenant = await createTenant(gateway.app);
    const ws = connect(tenant);
    const invoicesOnly = await subscribed(ws, EVENTS, { types: ['accounting.*'] });
    const contactsCreated = await subscribed(ws, EVENTS, { types: ['communication.contact.created'] });
    const contact = await createContact(tenant, 'filter@example.com');
    await http(gateway.url, 'PATCH', `/api/v1/contacts/contacts/${contact.body.contactId}`, {
      key: tenant.apiKey,
      body: { firstName: 'Ann' },
    });
    const invoice = await createInvoice(tenant);
    const [invoiceEvent] = eventsIn(await invoicesOnly.waitFor(1));
    expect(invoiceEvent).toMatchObject({
      type: 'accounting.invoice.created',
      tenantSequence: 3,
      data: { __typename: 'Invoice', id: invoice.body.invoiceId, number: invoice.body.invoiceNumber },
    });
    expect(eventsIn(await contactsCreated.waitFor(1)).map((e) => e.tenantSequence)).toEqual([1]);
    await sleep(300);
    expect(invoicesOnly.results).toHaveLength(1);
    expect(contactsCreated.results).toHaveLength(1);
  });

  test('resume: 50 changes made while disconnected arrive exactly once, in order, then live ones', async () => {
    const tenant = await createTenant(gateway.app);
    const first = connect(tenant);
    const before = await subscribed(first, SEQUENCES);
    await createContact(tenant, 'seen@example.com');
    const [lastSeen] = eventsIn(await before.waitFor(1));
    await first.dispose();

    for (let i = 0; i < 50; i++) await createContact(tenant, `missed${i}@example.com`);
    const resumed = await subscribed(connect(tenant), SEQUENCES, { after: lastSeen.id });
    const replayed = eventsIn(await resumed.waitFor(50));
    expect(replayed.map((e) => e.tenantSequence)).toEqual(Array.from({ length: 50 }, (_, i) => i + 2));
    const stored = await storedEvents(tenant);
    expect(replayed.map((e) => e.id)).toEqual(stored.slice(1).map((e) => e.id));

    const live = await createContact(tenant, 'after@example.com');
    const all = eventsIn(await resumed.waitFor(51));
    expect(all[50]).toMatchObject({ tenantSequence: 52, resourceId: live.body.contactId });
    await sleep(300);
    expect(resumed.results).toHaveLength(51);
  });

  test('resume while changes keep committing: no gap and no duplicate by tenantSequence', async () => {
    const tenant = await createTenant(gateway.app);
    await createContact(tenant, 'start@example.com');
    const [start] = await storedEvents(tenant);

    let writing = true;
    let written = 1;
    const writer = (async () => {
      while (writing) {
        // Several at once, so commits race with the switch from replay to live.
        await Promise.all([0, 1, 2].map((n) => createContact(tenant, `w${written}-${n}@example.com`)));
        written += 3;
      }
    })();
    await sleep(300);
    const resumed = connect(tenant).subscribe(SEQUENCES, { after: start!.id });
    await sleep(1000);
    writing = false;
    await writer;

    const total = (await storedEvents(tenant)).length;
    expect(total).toBe(written);
    expect(total).toBeGreaterThan(20);
    const events = eventsIn(await resumed.waitFor(total - 1));
    expect(events.map((e) => e.tenantSequence)).toEqual(Array.from({ length: total - 1 }, (_, i) => i + 2));
    await sleep(300);
    expect(resumed.results).toHaveLength(total - 1);
  });

  test("a subscriber never sees another tenant's events", async () => {
    const [mine, theirs] = await Promise.all([createTenant(gateway.app), createTenant(gateway.app)]);
    const sub = await subscribed(connect(mine), SEQUENCES);
    await createContact(theirs, 'other@example.com');
    await createInvoice(theirs);
    const own = await createContact(mine, 'own@example.com');
    const events = eventsIn(await sub.waitFor(1));
    await sleep(300);
    expect(sub.results).toHaveLength(1);
    expect(events[0]).toMatchObject({ tenantSequence: 1, resourceId: own.body.contactId });
  });

  test("another tenant's event id as `after` answers not_found; a malformed one invalid_id; an unknown type validation_failed", async () => {
    const [mine, theirs] = await Promise.all([createTenant(gateway.app), createTenant(gateway.app)]);
    await createContact(theirs, 'x@example.com');
    const [foreign] = await storedEvents(theirs);
    const ws = connect(mine);
    const cases: [Record<string, unknown>, string][] = [
      [{ after: foreign!.id }, 'not_found'],
      [{ after: 'evt_nope' }, 'invalid_id'],
      [{ types: ['communication.contact.exploded'] }, 'validation_failed'],
    ];
    for (const [variables, code] of cases) {
      expect((await refusal(ws.subscribe(SEQUENCES, variables)))[0]!.extensions).toMatchObject({ code });
    }
  });

  test('contactChanged and invoiceChanged follow one resource when given its id', async () => {
    const tenant = await createTenant(gateway.app);
    const [a, b] = [await createContact(tenant, 'a@example.com'), await createContact(tenant, 'b@example.com')];
    const ws = connect(tenant);
    const onlyA = await subscribed(
      ws,
      'subscription($id: ID) { contactChanged(id: $id) { type resourceId data { ... on Contact { firstName } } } }',
      { id: a.body.contactId },
    );
    const invoices = await subscribed(ws, 'subscription { invoiceChanged { type resourceId } }');
    await http(gateway.url, 'PATCH', `/api/v1/contacts/contacts/${b.body.contactId}`, {
      key: tenant.apiKey,
      body: { firstName: 'Bea' },
    });
    await http(gateway.url, 'PATCH', `/api/v1/contacts/contacts/${a.body.contactId}`, {
      key: tenant.apiKey,
      body: { firstName: 'Ada' },
    });
    const invoice = await createInvoice(tenant);
    await http(gateway.url, 'POST', `/api/v1/invoices/${invoice.body.invoiceId}/issue`, { key: tenant.apiKey });
    expect(eventsIn(await onlyA.waitFor(1), 'contactChanged')).toEqual([
      { type: 'communication.contact.updated', resourceId: a.body.contactId, data: { firstName: 'Ada' } },
    ]);
    expect(eventsIn(await invoices.waitFor(2), 'invoiceChanged').map((e) => e.type)).toEqual([
      'accounting.invoice.created',
      'accounting.invoice.issued',
    ]);
    await sleep(300);
    expect(onlyA.results).toHaveLength(1);

    const other = await createTenant(gateway.app);
    const foreign = connect(other).subscribe('subscription($id: ID) { contactChanged(id: $id) { type } }', {
      id: a.body.contactId,
    });
    expect((await refusal(foreign))[0]!.extensions?.code).toBe('not_found');
  });

  test('subscribers with the same operation share one stream and one execution per event: the contact is read once for five, five times for five different ones', async () => {
    const tenant = await createTenant(gateway.app);
    const SUBSCRIBERS = 5;
    // A spy that delegates: how often the subscriptions' `data` resolver reads the resource.
    const reads = vi.spyOn(gateway.app.services.events, 'currentResource');
    const readsWhileDelivering = async (subscriptions: Subscription[], email: string) => {
      reads.mockClear();
      await createContact(tenant, email);
      for (const subscription of subscriptions) {
        const [event] = eventsIn(await subscription.waitFor(1)).slice(-1);
        expect(Object.values(event.data)).toEqual([email]);
      }
      return reads.mock.calls.length;
    };
    const streamsBefore = await liveStreams(gateway.url);
    const same = [];
    for (let i = 0; i < SUBSCRIBERS; i++)
      same.push(await subscribed(connect(tenant), 'subscription { events { data { ... on Contact { email } } } }'));
    expect(await liveStreams(gateway.url)).toBe(streamsBefore + 1);
    const sharedReads = await readsWhileDelivering(same, 'shared@example.com');

    // Members leave one by one; the last one still receives, then the stream ends.
    same.slice(1).forEach((subscription) => subscription.unsubscribe());
    await createContact(tenant, 'last@example.com');
    expect(eventsIn(await same[0]!.waitFor(2))[1].data).toEqual({ email: 'last@example.com' });
    expect(same.slice(1).map((subscription) => subscription.results.length)).toEqual([1, 1, 1, 1]);
    same[0]!.unsubscribe();
    await waitUntil(
      'the unsubscribed stream has ended',
      async () => (await liveStreams(gateway.url)) <= streamsBefore,
      20_000,
      {
        intervalMs: 20,
      },
    );

    // Each alias makes another operation, executed for itself.
    const different = [];
    for (let i = 0; i < SUBSCRIBERS; i++)
      different.push(
        await subscribed(connect(tenant), `subscription { events { data { ... on Contact { email${i}: email } } } }`),
      );
    expect(await liveStreams(gateway.url)).toBe(streamsBefore + SUBSCRIBERS);
    const ownReads = await readsWhileDelivering(different, 'own@example.com');
    reads.mockRestore();
    expect(sharedReads).toBe(1);
    expect(ownReads).toBe(SUBSCRIBERS);
  });

  test('subscriptions that resume from `after` each replay for themselves, even with the same operation and variables', async () => {
    const tenant = await createTenant(gateway.app);
    await createContact(tenant, 'one@example.com');
    await createContact(tenant, 'two@example.com');
    const [first] = await storedEvents(tenant);
    const early = await subscribed(connect(tenant), SEQUENCES, { after: first!.id });
    expect(eventsIn(await early.waitFor(1)).map((e) => e.tenantSequence)).toEqual([2]);
    const late = await subscribed(connect(tenant), SEQUENCES, { after: first!.id });
    expect(eventsIn(await late.waitFor(1)).map((e) => e.tenantSequence)).toEqual([2]);
    await createContact(tenant, 'three@example.com');
    expect(eventsIn(await early.waitFor(2)).map((e) => e.tenantSequence)).toEqual([2, 3]);
    expect(eventsIn(await late.waitFor(2)).map((e) => e.tenantSequence)).toEqual([2, 3]);
  });
});

describe('stream lifetime', () => {
  /** Waits until the gateway's live stream count is `count`; fails after 5 seconds. */
  async function streamsDropTo(count: number) {
    let live = 0;
    await waitUntil(
      `${count} live streams remain`,
      async () => (live = await liveStreams(gateway.url)) <= count,
      5_000,
      {
        intervalMs: 20,
        context: () => `still ${live} live streams`,
      },
    );
  }

  test('unsubscribing or disconnecting ends the stream at once, though its tenant is quiet', async () => {
    const tenant = await createTenant(gateway.app);
    const before = await liveStreams(gateway.url);
    const connection = connect(tenant);
    const first = await subscribed(connection, SEQUENCES);
    await subscribed(connection, SEQUENCES, { types: ['communication.*'] });
    expect(await liveStreams(gateway.url)).toBe(before + 2);
    first.unsubscribe();
    await streamsDropTo(before + 1);
    await connection.dispose();
    await streamsDropTo(before);
  });

  test('a subscription over HTTP that accepts neither SSE nor multipart is refused with 406 and leaves no stream', async () => {
    const tenant = await createTenant(gateway.app);
    const before = await liveStreams(gateway.url);
    for (const accept of ['application/json', 'application/graphql-response+json']) {
      const res = await fetch(`${gateway.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept, authorization: `Bearer ${tenant.apiKey}` },
        body: JSON.stringify({ query: SEQUENCES }),
      });
      expect(res.status).toBe(406);
    }
    await streamsDropTo(before);
  });
});

describe('feature gates', () => {
  test('contact events need communication and invoice events need accounting', async () => {
    const accountingOnly = await createTenant(gateway.app, ['accounting']);
    const ws = connect(accountingOnly);
    for (const [query, variables] of [
      ['subscription { contactChanged { type } }', undefined],
      [SEQUENCES, { types: ['communication.*'] }],
    ] as const) {
      expect((await refusal(ws.subscribe(query, variables)))[0]!.extensions).toMatchObject({
        code: 'feature_not_enabled',
        status: 403,
      });
    }
    // Without types: only what the features allow.
    const all = await subscribed(ws, SEQUENCES);
    await createInvoice(accountingOnly);
    expect(eventsIn(await all.waitFor(1))[0].type).toBe('accounting.invoice.created');
  });

  test('switching a feature off ends the subscriptions that read it within 5 seconds', async () => {
    const tenant = await createTenant(gateway.app);
    const ws = connect(tenant);
    const contacts = await subscribed(ws, 'subscription { contactChanged { type } }');
    const invoices = await subscribed(ws, 'subscription { invoiceChanged { type } }');
    const switchedAt = Date.now();
    await gateway.app.services.admin.setFeatures({ tenantId: tenant.tenantId, features: ['accounting'] });
    await contacts.waitFor(1, 5000);
    await contacts.done;
    expect(Date.now() - switchedAt).toBeLessThan(5000);
    expect(contacts.results[0]!.errors?.[0]?.extensions).toMatchObject({ code: 'feature_not_enabled' });
    // The other subscription on the same socket goes on.
    await createInvoice(tenant);
    expect(eventsIn(await invoices.waitFor(1), 'invoiceChanged')[0].type).toBe('accounting.invoice.created');
  });
});

describe('websocket authentication and protocol', () => {
  test.each([
    ['no key', undefined],
    ['an unknown key', { authorization: 'Bearer nilo_ak_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }],
    ['a malformed key', { apiKey: 'hello' }],
  ])('%s closes the socket with 4403', async (_name, params) => {
    const { closed } = connect(undefined, params as Record<string, unknown> | undefined);
    expect(await closed).toMatchObject({ code: 4403 });
  });

  test('the key also works as connectionParams.apiKey', async () => {
    const tenant = await createTenant(gateway.app);
    const sub = await subscribed(connect(undefined, { apiKey: tenant.apiKey }), SEQUENCES);
    await createContact(tenant, 'apikey@example.com');
    expect(eventsIn(await sub.waitFor(1))).toHaveLength(1);
  });

  test.each(['revoke', 'rotate'] as const)(
    '%s of the key closes its open socket with 4403 within 5 seconds',
    async (change) => {
      const tenant = await createTenant(gateway.app);
      const ws = connect(tenant);
      const sub = await subscribed(ws, SEQUENCES);
      const changedAt = Date.now();
      if (change === 'revoke') await gateway.app.services.admin.revokeKeys(tenant.applicationId);
      else await gateway.app.services.admin.rotateKey(tenant.applicationId);
      expect(await ws.closed).toMatchObject({ code: 4403 });
      expect(Date.now() - changedAt).toBeLessThan(5000);
      await expect(sub.done).rejects.toBeTruthy();
    },
  );

  test('protocol misuse closes with graphql-ws codes: invalid message 4400, subscribe before ack 4401, reused id 4409; other paths 404', async () => {
    const tenant = await createTenant(gateway.app);
    const url = `${gateway.url.replace(/^http/, 'ws')}/graphql`;
    const closeOf = (socket: WebSocket) =>
      new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));

    const garbage = new WebSocket(url, 'graphql-transport-ws');
    garbage.on('open', () => garbage.send('{not json'));
    expect(await closeOf(garbage)).toBe(4400);

    const early = new WebSocket(url, 'graphql-transport-ws');
    early.on('open', () => early.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: SEQUENCES } })));
    expect(await closeOf(early)).toBe(4401);

    const duplicateId = new WebSocket(url, 'graphql-transport-ws');
    duplicateId.on('open', () =>
      duplicateId.send(JSON.stringify({ type: 'connection_init', payload: { apiKey: tenant.apiKey } })),
    );
    duplicateId.on('message', (message) => {
      if (JSON.parse(String(message)).type !== 'connection_ack') return;
      const subscribe = JSON.stringify({ id: 'same', type: 'subscribe', payload: { query: SEQUENCES } });
      duplicateId.send(subscribe);
      duplicateId.send(subscribe);
    });
    expect(await closeOf(duplicateId)).toBe(4409);

    const elsewhere = new WebSocket(`${gateway.url.replace(/^http/, 'ws')}/api/v1/events`);
    const status = await new Promise<number>((resolve) =>
      elsewhere.on('unexpected-response', (_req, res) => resolve(res.statusCode!)),
    );
    expect(status).toBe(404);
  });

  test("queries and mutations also run over the socket, with the socket's tenant", async () => {
    const tenant = await createTenant(gateway.app);
    const ws = connect(tenant);
    const result = ws.subscribe('mutation { createContact(input: { email: "ws@example.com" }) { id email } }');
    await result.done;
    expect(result.results[0]!.data.createContact.email).toBe('ws@example.com');
    const invalid = ws.subscribe('{ nope }');
    await expect(invalid.done).rejects.toBeTruthy();
  });
});

describe('GraphQL limits over the socket', () => {
  test("an operation past GraphQL Armor's limits gets an error; the socket and its other subscriptions stay open", async () => {
    const tenant = await createTenant(gateway.app);
    const ws = connect(tenant);
    const live = await subscribed(ws, SEQUENCES);
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: id`).join(' ');
    const refused = ws.subscribe(`subscription { events { ${aliases} } }`);
    await expect(refused.done).rejects.toEqual([
      expect.objectContaining({ message: expect.stringMatching(/Aliases limit of 30 exceeded/) }),
    ]);
    const created = await createContact(tenant, 'still-open@example.com');
    expect(eventsIn(await live.waitFor(1))[0]).toMatchObject({ tenantSequence: 1, resourceId: created.body.contactId });
  });
});

describe('events over server-sent events', () => {
  test('the same subscription streams over HTTP with Accept: text/event-stream', async () => {
    const tenant = await createTenant(gateway.app);
    const streamsBefore = await liveStreams(gateway.url);
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.apiKey}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
      },
      body: JSON.stringify({ query: SEQUENCES }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    await waitUntil('the SSE stream is live', async () => (await liveStreams(gateway.url)) > streamsBefore, 20_000, {
      intervalMs: 20,
    });
    const created = await createContact(tenant, 'sse@example.com');
    let text = '';
    while (!text.includes(created.body.contactId)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const data = text.split('\n').find((line) => line.startsWith('data:') && line.includes('tenantSequence'));
    expect(JSON.parse(data!.slice(5)).data.events).toMatchObject({
      tenantSequence: 1,
      resourceId: created.body.contactId,
    });
    controller.abort();
  });
});
