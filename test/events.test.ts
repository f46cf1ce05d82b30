import { describe, expect, test } from 'vitest';
import { createTenant, graphql, http, useGateway, type Tenant } from './support/gateway.js';
import { expectProblem } from './support/problem.js';
import { recordSql } from './support/sql.js';

// A database of its own and no relay: the statement-count test must see only the SQL of its request,
// not the relay's work for events committed by this file or by suites running alongside.
const gateway = useGateway({ EVENT_RELAY: 'off', EVENT_POLL_MS: '3600000' }, { ownDatabase: true });

const createContact = (tenant: Tenant, email: string) =>
  http(gateway.url, 'POST', '/api/v1/contacts/contacts', { key: tenant.apiKey, body: { email } });
const createInvoice = (tenant: Tenant) =>
  http(gateway.url, 'POST', '/api/v1/invoices', {
    key: tenant.apiKey,
    body: {
      customer: 'Acme',
      issuedDate: '2026-11-22',
      paymentTermsDays: 30,
      items: [{ description: 'Work', quantity: 2, price: 10, taxRate: 10 }],
    },
  });

/** A tenant with five events: contact created, invoice created, contact updated, invoice issued, contact deleted. */
async function tenantWithHistory() {
  const tenant = await createTenant(gateway.app);
  const contact = await createContact(tenant, 'history@example.com');
  const invoice = await createInvoice(tenant);
  await http(gateway.url, 'PATCH', `/api/v1/contacts/contacts/${contact.body.contactId}`, {
    key: tenant.apiKey,
    body: { firstName: 'Hal' },
  });
  await http(gateway.url, 'POST', `/api/v1/invoices/${invoice.body.invoiceId}/issue`, { key: tenant.apiKey });
  await http(gateway.url, 'DELETE', `/api/v1/contacts/contacts/${contact.body.contactId}`, { key: tenant.apiKey });
  const log = await gateway.app.services.prisma.event.findMany({
    where: { tenantId: tenant.tenantId },
    orderBy: { tenantSequence: 'asc' },
  });
  expect(log).toHaveLength(5);
  return { tenant, log, contact: contact.body, invoice: invoice.body };
}

describe('GET /api/v1/events', () => {
  test('lists the envelopes in tenantSequence order, as webhooks carry them', async () => {
    const { tenant, log } = await tenantWithHistory();
    const res = await http(gateway.url, 'GET', '/api/v1/events', { key: tenant.apiKey });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      items: log.map((e) => ({
        id: e.id,
        type: e.type,
        tenantSequence: e.tenantSequence,
        occurredAt: e.occurredAt.toISOString(),
        correlationId: e.correlationId,
        data: e.data,
      })),
      nextCursor: null,
      count: 5,
    });
  });

  test('after, types (exact and wildcard), limit and cursor select the same log', async () => {
    const { tenant, log } = await tenantWithHistory();
    const get = async (query: string) =>
      (await http(gateway.url, 'GET', `/api/v1/events?${query}`, { key: tenant.apiKey })).body;
    const sequences = (body: any) => body.items.map((e: any) => e.tenantSequence);

    expect(sequences(await get(`after=${log[1]!.id}`))).toEqual([3, 4, 5]);
    expect(sequences(await get('types=accounting.*'))).toEqual([2, 4]);
    expect(sequences(await get('types=communication.contact.updated,communication.contact.deleted'))).toEqual([3, 5]);
    const first = await get('limit=2');
    expect(sequences(first)).toEqual([1, 2]);
    const second = await get(`limit=2&cursor=${first.nextCursor}`);
    expect(sequences(second)).toEqual([3, 4]);
    const third = await get(`limit=2&cursor=${second.nextCursor}`);
    expect(third).toMatchObject({ count: 1, nextCursor: null });
  });

  test("only the features' events are listed; asking for another feature's is 403", async () => {
    const tenant = await createTenant(gateway.app, ['accounting']);
    await createInvoice(tenant);
    const all = await http(gateway.url, 'GET', '/api/v1/events', { key: tenant.apiKey });
    expect(all.body.items.map((e: any) => e.type)).toEqual(['accounting.invoice.created']);
    expectProblem(
      await http(gateway.url, 'GET', '/api/v1/events?types=communication.*', { key: tenant.apiKey }),
      403,
      'feature_not_enabled',
    );
  });

  test('rejections: no key, malformed or foreign after, unknown type, bad limit, unknown parameter, after with cursor', async () => {
    const { tenant, log } = await tenantWithHistory();
    const other = await tenantWithHistory();
    const get = (query: string) => http(gateway.url, 'GET', `/api/v1/events${query}`, { key: tenant.apiKey });
    expectProblem(await http(gateway.url, 'GET', '/api/v1/events'), 401, 'unauthorized');
    expectProblem(await get('?after=evt_123'), 400, 'invalid_id');
    expectProblem(await get(`?after=${other.log[0]!.id}`), 404, 'not_found');
    expectProblem(await get('?types=accounting.invoice.exploded'), 400, 'validation_failed');
    expectProblem(await get('?limit=0'), 400, 'validation_failed');
    expectProblem(await get('?limit=abc'), 400, 'validation_failed');
    expectProblem(await get('?since=yesterday'), 400, 'validation_failed');
    expectProblem(
      await get(`?after=${log[0]!.id}&cursor=${Buffer.from(log[1]!.id).toString('base64url')}`),
      400,
      'validation_failed',
    );
    expectProblem(
      await http(gateway.url, 'POST', '/api/v1/events', { key: tenant.apiKey, body: {} }),
      405,
      'method_not_allowed',
    );
  });
});

describe('events query', () => {
  const EVENTS = `query($after: String, $first: Int, $last: Int, $before: String, $types: [String!]) {
    events(after: $after, first: $first, last: $last, before: $before, types: $types) {
      edges { cursor node { id type tenantSequence snapshot data { __typename ... on Invoice { number status items { description } } ... on DeletedResource { id } } } }
      pageInfo { hasNextPage hasPreviousPage endCursor }
    }
  }`;

  test('a connection over the log whose cursors are event ids; data is the resource now, snapshot as it was', async () => {
    const { tenant, log, invoice, contact } = await tenantWithHistory();
    const first = await graphql(gateway.url, tenant.apiKey, EVENTS, { first: 2 });
    expect(first.errors).toBeUndefined();
    const edges = first.data.events.edges;
    expect(edges.map((e: any) => e.cursor)).toEqual([log[0]!.id, log[1]!.id]);
    expect(edges[0].node).toMatchObject({
      type: 'communication.contact.created',
      data: { __typename: 'DeletedResource', id: contact.contactId },
      snapshot: contact,
    });
    expect(edges[1].node.data).toEqual({
      __typename: 'Invoice',
      number: invoice.invoiceNumber,
      status: 'issued',
      items: [{ description: 'Work' }],
    });
    expect(edges[1].node.snapshot.status).toBe('draft');
    expect(first.data.events.pageInfo).toMatchObject({ hasNextPage: true, endCursor: log[1]!.id });

    const rest = await graphql(gateway.url, tenant.apiKey, EVENTS, { after: log[1]!.id, first: 10 });
    expect(rest.data.events.edges.map((e: any) => e.node.tenantSequence)).toEqual([3, 4, 5]);
    const tail = await graphql(gateway.url, tenant.apiKey, EVENTS, { last: 2 });
    expect(tail.data.events.edges.map((e: any) => e.node.tenantSequence)).toEqual([4, 5]);
    const filtered = await graphql(gateway.url, tenant.apiKey, EVENTS, { types: ['accounting.invoice.*'] });
    expect(filtered.data.events.edges.map((e: any) => e.node.type)).toEqual([
      'accounting.invoice.created',
      'accounting.invoice.issued',
    ]);
  });

  test('a page costs the same number of statements for 2 events as for 12: no N+1 through data or snapshot', async () => {
    const { tenant } = await tenantWithHistory();
    for (let i = 0; i < 7; i++) await createInvoice(tenant);
    const PAGE = `query($n: Int!) { events(first: $n) { edges { node { id snapshot data {
      __typename ... on Contact { email } ... on Invoice { number items { description } application { name } } } } } } }`;
    await graphql(gateway.url, tenant.apiKey, PAGE, { n: 1 }); // warm-up: the key's lookup and lastUsedAt write
    const run = async (n: number) => {
      const recorder = recordSql();
      try {
        const result = await graphql(gateway.url, tenant.apiKey, PAGE, { n });
        expect(result.errors).toBeUndefined();
        expect(result.data.events.edges).toHaveLength(n);
        return recorder.statements.slice();
      } finally {
        recorder.stop();
      }
    };
    const small = await run(2);
    const big = await run(12);
    expect(small.length).toBeGreaterThan(0);
    expect(big.length, big.join('\n')).toBe(small.length);
  });

  test('errors carry the REST codes', async () => {
    const { tenant } = await tenantWithHistory();
    const other = await tenantWithHistory();
    const code = async (variables: Record<string, unknown>) =>
      (await graphql(gateway.url, tenant.apiKey, EVENTS, variables)).errors?.[0]?.extensions.code;
    expect(await code({ after: 'evt_nope' })).toBe('invalid_id');
    expect(await code({ after: other.log[0]!.id })).toBe('not_found');
    expect(await code({ types: ['nope'] })).toBe('validation_failed');
    expect((await graphql(gateway.url, undefined, EVENTS, {})).errors?.[0]?.extensions.code).toBe('unauthorized');
  });
});
