import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { CreateContactInput } from '../src/features/contacts/service.js';
import { CreateInvoiceInput } from '../src/features/invoices/service.js';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { startReceiver } from './support/receiver.js';
import { waitUntil } from './support/wait.js';

// /mcp through the MCP SDK's own client against a running gateway: the tools derived from the
// domain operations, each called; answers and refusals compared with REST's for the same
// request; tenant isolation, feature gates, keys, idempotency and the shared rate budget.

const gateway = useGateway(
  { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128', EVENT_POLL_MS: '200' },
  { ownDatabase: true },
);

const TOOLS = [
  'contacts_search',
  'contacts_get',
  'contacts_create',
  'contacts_update',
  'contacts_delete',
  'contacts_import',
  'invoices_search',
  'invoices_get',
  'invoices_create',
  'invoices_issue',
  'invoices_pay',
  'invoices_void',
  'invoices_render_pdf',
  'jobs_get',
  'jobs_list',
  'jobs_cancel',
  'events_list',
  'webhook_endpoints_list',
  'webhook_endpoints_create',
  'webhook_endpoints_test',
];
const READS = new Set([
  'contacts_search',
  'contacts_get',
  'invoices_search',
  'invoices_get',
  'jobs_get',
  'jobs_list',
  'events_list',
  'webhook_endpoints_list',
]);

const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
});

/** The SDK's client over Streamable HTTP, with the key as a bearer header (none: no header). */
async function connect(key: string | undefined): Promise<Client> {
  const client = new Client({ name: 'nilo-mcp-test', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(`${gateway.url}/mcp`), {
    requestInit: { headers: key ? { authorization: `Bearer ${key}` } : {} },
  });
  await client.connect(transport);
  clients.push(client);
  return client;
}

type Result = CallToolResult & { _meta?: Record<string, unknown> };

const call = (client: Client, name: string, args: Record<string, unknown> = {}) =>
  client.callTool({ name, arguments: args }) as Promise<Result>;

/** A successful call's structured answer (its text content is the same JSON). */
async function value(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const result = await call(client, name, args);
  const text = (result.content[0] as { text: string }).text;
  expect(result.isError, `${name}: ${text}`).toBeFalsy();
  expect(JSON.parse(text)).toEqual(result.structuredContent);
  return result.structuredContent;
}

/** A refused call's problem: isError, no structured content, the problem as the text. */
async function problem(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> {
  const result = await call(client, name, args);
  const text = (result.content[0] as { text: string }).text;
  expect(result.isError, `${name}: ${text}`).toBe(true);
  expect(result.structuredContent).toBeUndefined();
  return JSON.parse(text);
}

/** A problem without its correlationId (each request has its own), to compare MCP with REST. */
const comparable = ({ correlationId, ...rest }: { correlationId: string }) => {
  expect(correlationId).toEqual(expect.any(String));
  return rest;
};

const NEW_INVOICE = {
  customer: 'Acme Floral Supplies',
  issuedDate: '2026-05-30',
  paymentTermsDays: 30,
  items: [
    { description: 'Rose stems', quantity: 2, price: 149.99, taxRate: 8.5 },
    { description: 'Delivery', quantity: 1, price: 25, taxRate: 0 },
  ],
};

let tenant: Tenant;
let mcp: Client;
beforeAll(async () => {
  tenant = await createTenant(gateway.app);
  mcp = await connect(tenant.apiKey);
});

describe('tools/list', () => {
  test('lists every operation with a description, an object input schema and an output schema', async () => {
    const { tools } = await mcp.listTools();
    expect(tools.map((tool) => tool.name)).toEqual(TOOLS);
    for (const tool of tools) {
      expect(tool.description!.length, tool.name).toBeGreaterThan(20);
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.outputSchema?.type, tool.name).toBe('object');
      expect(tool.annotations?.readOnlyHint, tool.name).toBe(READS.has(tool.name));
      const feature = { contacts: 'communication', invoices: 'accounting' }[tool.name.split('_')[0]!];
      if (feature) expect(tool.description, tool.name).toContain(`Needs the tenant's ${feature} feature.`);
      // Tools that change something take an idempotency key; reads do not.
      expect(Object.hasOwn(tool.inputSchema.properties ?? {}, 'idempotencyKey'), tool.name).toBe(!READS.has(tool.name));
    }
  });

  test("input schemas are the domain's zod schemas REST validates with", async () => {
    const { tools } = await mcp.listTools();
    const byName = new Map(tools.map((tool) => [tool.name, tool]));
    for (const [name, schema] of [
      ['contacts_create', CreateContactInput],
      ['invoices_create', CreateInvoiceInput],
    ] as const) {
      const { idempotencyKey: _key, ...properties } = byName.get(name)!.inputSchema.properties!;
      const expected = z.toJSONSchema(schema, { target: 'draft-7', io: 'input', unrepresentable: 'any' });
      expect(properties, name).toEqual(expected.properties);
    }
    expect(mcp.getInstructions()).toContain('idempotencyKey');
  });
});

describe('contacts', () => {
  test('create, get, update, search, delete: the same answers as REST', async () => {
    const created = await value(mcp, 'contacts_create', {
      email: 'ada@example.com',
      firstName: 'Ada',
      lastName: 'Lovelace',
      preferredLanguage: 'en-GB',
    });
    expect(created).toMatchObject({ contactId: expect.stringMatching(/^contact_/), fullName: 'Ada Lovelace' });
    const rest = await http(gateway.url, 'GET', `/api/v1/contacts/contacts/${created.contactId}`, {
      key: tenant.apiKey,
    });
    expect(created).toEqual(rest.body);
    expect(await value(mcp, 'contacts_get', { contactId: created.contactId })).toEqual(rest.body);

    const updated = await value(mcp, 'contacts_update', {
      contactId: created.contactId,
      company: 'Analytical',
      note: null,
    });
    expect(updated).toMatchObject({ company: 'Analytical', email: 'ada@example.com' });

    const found = await value(mcp, 'contacts_search', {
      filters: [{ field: 'company', operator: 'is', value: 'analytical' }],
    });
    const restFound = await http(gateway.url, 'POST', '/api/v1/contacts/contacts/search', {
      key: tenant.apiKey,
      body: { filters: [{ field: 'company', operator: 'is', value: 'analytical' }] },
    });
    expect(found).toEqual(restFound.body);
    expect(found).toMatchObject({ count: 1, nextCursor: null, items: [updated] });

    expect(await value(mcp, 'contacts_delete', { contactId: created.contactId })).toEqual({
      contactId: created.contactId,
      deleted: true,
    });
    const gone = await problem(mcp, 'contacts_get', { contactId: created.contactId });
    const restGone = await http(gateway.url, 'GET', `/api/v1/contacts/contacts/${created.contactId}`, {
      key: tenant.apiKey,
    });
    expect(gone).toMatchObject({ status: 404, code: 'not_found' });
    expect(comparable(gone)).toEqual(comparable(restGone.body));
  });

  test('import: a job that jobs_get follows to its result', async () => {
    const receipt = await value(mcp, 'contacts_import', {
      contacts: [{ email: 'import-1@example.com', firstName: 'One' }, { email: 'not an email' }],
    });
    expect(receipt).toEqual({
      jobId: expect.stringMatching(/^job_/),
      status: 'queued',
      resourceType: 'contacts.import',
      pollPath: `/api/v1/jobs/${receipt.jobId}`,
    });
    let job: any;
    await waitUntil('the import job succeeded', async () => {
      job = await value(mcp, 'jobs_get', { jobId: receipt.jobId });
      return job.status === 'succeeded';
    });
    expect(job.result).toMatchObject({ created: 1, failed: 1 });
    const rest = await http(gateway.url, 'GET', `/api/v1/jobs/${receipt.jobId}`, { key: tenant.apiKey });
    expect(job).toEqual(rest.body);
  });

  test('validation failures carry REST’s problem: code, status, detail and each field', async () => {
    for (const body of [{}, { email: 'nope', firstName: 'x'.repeat(201) }, { firstName: 'A', unknown: 1 }]) {
      const refused = await problem(mcp, 'contacts_create', body);
      const rest = await http(gateway.url, 'POST', '/api/v1/contacts/contacts', { key: tenant.apiKey, body });
      expect(refused).toMatchObject({ status: 400, code: 'validation_failed' });
      expect(comparable(refused)).toEqual(comparable(rest.body));
    }
    const malformed = await problem(mcp, 'contacts_get', { contactId: 'contact_123' });
    const rest = await http(gateway.url, 'GET', '/api/v1/contacts/contacts/contact_123', { key: tenant.apiKey });
    expect(malformed).toMatchObject({ status: 400, code: 'invalid_id' });
    expect(comparable(malformed)).toEqual(comparable(rest.body));
    expect(await problem(mcp, 'contacts_get', {})).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'contactId', message: 'is required' }],
    });
    // Reads take no idempotency key: an unknown argument like any other.
    expect(await problem(mcp, 'contacts_search', { idempotencyKey: 'k' })).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'idempotencyKey', message: 'is not a known field' }],
    });
  });

  test('a duplicate email: 409 email_taken, as REST', async () => {
    await value(mcp, 'contacts_create', { email: 'twice@example.com' });
    const refused = await problem(mcp, 'contacts_create', { email: 'twice@example.com' });
    const rest = await http(gateway.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { email: 'twice@example.com' },
    });
    expect(refused).toMatchObject({ status: 409, code: 'email_taken' });
    expect(comparable(refused)).toEqual(comparable(rest.body));
  });

  test('an unknown tool is a JSON-RPC error', async () => {
    const error = await call(mcp, 'contacts_explode').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(McpError);
    expect((error as McpError).code).toBe(ErrorCode.InvalidParams);
  });
});

describe('invoices', () => {
  test('create, get, issue, pay, void, render the PDF and search', async () => {
    const invoice = await value(mcp, 'invoices_create', NEW_INVOICE);
    expect(invoice).toMatchObject({ invoiceNumber: expect.stringMatching(/^INV-2026-\d{5}$/), status: 'draft' });
    const rest = await http(gateway.url, 'GET', `/api/v1/invoices/${invoice.invoiceId}`, { key: tenant.apiKey });
    expect(invoice).toEqual(rest.body);
    expect(await value(mcp, 'invoices_get', { invoiceId: invoice.invoiceId })).toEqual(rest.body);

    expect(await value(mcp, 'invoices_issue', { invoiceId: invoice.invoiceId })).toMatchObject({ status: 'issued' });
    const paid = await value(mcp, 'invoices_pay', { invoiceId: invoice.invoiceId });
    expect(paid).toMatchObject({ status: 'paid', paidAt: expect.any(String) });
    const refused = await problem(mcp, 'invoices_void', { invoiceId: invoice.invoiceId });
    const restRefused = await http(gateway.url, 'POST', `/api/v1/invoices/${invoice.invoiceId}/void`, {
      key: tenant.apiKey,
    });
    expect(refused).toMatchObject({ status: 422, code: 'invalid_transition' });
    expect(comparable(refused)).toEqual(comparable(restRefused.body));

    const draft = await value(mcp, 'invoices_create', NEW_INVOICE);
    expect(await value(mcp, 'invoices_void', { invoiceId: draft.invoiceId })).toMatchObject({ status: 'void' });

    const receipt = await value(mcp, 'invoices_render_pdf', { invoiceId: invoice.invoiceId });
    expect(receipt).toMatchObject({ status: 'queued', resourceType: 'invoices.pdf' });
    await waitUntil('the PDF job succeeded', async () => {
      const job = await value(mcp, 'jobs_get', { jobId: receipt.jobId });
      return job.status === 'succeeded';
    });
    const pdf = await fetch(`${gateway.url}/api/v1/invoices/${invoice.invoiceId}/pdf`, {
      headers: { authorization: `Bearer ${tenant.apiKey}` },
    });
    expect(pdf.status).toBe(200);

    const search = { filters: [{ field: 'status', operator: 'is', value: 'paid' }] };
    const found = await value(mcp, 'invoices_search', search);
    const restFound = await http(gateway.url, 'POST', '/api/v1/invoices/search', { key: tenant.apiKey, body: search });
    expect(found).toEqual(restFound.body);
    expect(found.items.map((i: { invoiceId: string }) => i.invoiceId)).toEqual([invoice.invoiceId]);
  });

  test('a refused invoice: the same field errors as REST', async () => {
    const body = { ...NEW_INVOICE, items: [{ description: '', quantity: 0, price: 1.00001, taxRate: 101 }] };
    const refused = await problem(mcp, 'invoices_create', body);
    const rest = await http(gateway.url, 'POST', '/api/v1/invoices', { key: tenant.apiKey, body });
    expect(refused).toMatchObject({ status: 400, code: 'validation_failed' });
    expect(comparable(refused)).toEqual(comparable(rest.body));
  });
});

describe('jobs, events and webhook endpoints', () => {
  test('jobs_list and jobs_cancel', async () => {
    const queued = await http(gateway.url, 'POST', '/api/v1/jobs', {
      key: tenant.apiKey,
      body: { resourceType: 'documents.ocr', input: { page: 1 } },
    });
    expect(queued.status).toBe(202);
    const listed = await value(mcp, 'jobs_list', { resourceType: 'documents.ocr' });
    const restListed = await http(gateway.url, 'GET', '/api/v1/jobs?resourceType=documents.ocr', {
      key: tenant.apiKey,
    });
    expect(listed).toEqual(restListed.body);
    expect(listed.items).toMatchObject([{ jobId: queued.body.jobId, status: 'queued', waitingFor: 'no_runner' }]);

    expect(await value(mcp, 'jobs_cancel', { jobId: queued.body.jobId })).toMatchObject({ status: 'canceled' });
    expect(await problem(mcp, 'jobs_cancel', { jobId: queued.body.jobId })).toMatchObject({
      status: 409,
      code: 'job_finished',
    });
    expect(await problem(mcp, 'jobs_list', { status: 'sleeping' })).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'status' }],
    });
  });

  test('events_list after a cursor, as GET /events', async () => {
    const own = await createTenant(gateway.app);
    const client = await connect(own.apiKey);
    for (const n of [1, 2, 3, 4, 5]) await value(client, 'contacts_create', { email: `event-${n}@example.com` });
    const first = await value(client, 'events_list', { limit: 2 });
    expect(first.items).toHaveLength(2);
    const after = first.items[0].id;
    const listed = await value(client, 'events_list', { after, limit: 3 });
    const rest = await http(gateway.url, 'GET', `/api/v1/events?after=${after}&limit=3`, { key: own.apiKey });
    expect(listed).toEqual(rest.body);
    expect(listed.items.map((e: { tenantSequence: number }) => e.tenantSequence)).toEqual([2, 3, 4]);
    const next = await value(client, 'events_list', { cursor: listed.nextCursor, limit: 1 });
    expect(next).toMatchObject({
      items: [{ tenantSequence: 5, data: { email: 'event-5@example.com' } }],
      nextCursor: null,
    });
    expect(await value(client, 'events_list', { types: 'accounting.*' })).toMatchObject({ items: [], count: 0 });
  });

  test('webhook endpoints: create, list and send a test event the receiver verifies', async () => {
    const receiver = await startReceiver();
    const endpoint = await value(mcp, 'webhook_endpoints_create', { url: receiver.url, eventTypes: ['accounting.*'] });
    expect(endpoint).toMatchObject({
      endpointId: expect.stringMatching(/^whep_/),
      secret: expect.stringMatching(/^whsec_/),
    });
    receiver.secrets.push(endpoint.secret);
    const { secret: _secret, ...withoutSecret } = endpoint;
    const listed = await value(mcp, 'webhook_endpoints_list', {});
    expect(listed.items).toContainEqual(withoutSecret);
    const restListed = await http(gateway.url, 'GET', '/api/v1/webhooks/endpoints', { key: tenant.apiKey });
    expect(listed).toEqual(restListed.body);

    const delivery = await value(mcp, 'webhook_endpoints_test', { endpointId: endpoint.endpointId });
    expect(delivery).toMatchObject({ endpointId: endpoint.endpointId, eventType: 'webhooks.endpoint.test' });
    const [received] = await receiver.waitFor(1);
    expect(received!.verifiedBy).toBe(0);
    expect(JSON.parse(received!.body)).toMatchObject({ id: delivery.eventId, type: 'webhooks.endpoint.test' });

    expect(await problem(mcp, 'webhook_endpoints_create', { url: 'ftp://example.com' })).toMatchObject({
      status: 400,
      code: 'validation_failed',
      errors: [{ path: 'url' }],
    });
  });
});

describe('tenants and features', () => {
  test("another tenant's ids are not found, for every tool that takes an id", async () => {
    const contact = await value(mcp, 'contacts_create', { email: 'mine@example.com' });
    const invoice = await value(mcp, 'invoices_create', NEW_INVOICE);
    const job = (
      await http(gateway.url, 'POST', '/api/v1/jobs', { key: tenant.apiKey, body: { resourceType: 'documents.scan' } })
    ).body;
    const endpoint = await value(mcp, 'webhook_endpoints_create', { url: 'http://127.0.0.1:9/hook' });
    const other = await connect((await createTenant(gateway.app)).apiKey);
    const calls: [string, Record<string, unknown>][] = [
      ['contacts_get', { contactId: contact.contactId }],
      ['contacts_update', { contactId: contact.contactId, note: 'mine now' }],
      ['contacts_delete', { contactId: contact.contactId }],
      ['invoices_get', { invoiceId: invoice.invoiceId }],
      ['invoices_issue', { invoiceId: invoice.invoiceId }],
      ['invoices_pay', { invoiceId: invoice.invoiceId }],
      ['invoices_void', { invoiceId: invoice.invoiceId }],
      ['invoices_render_pdf', { invoiceId: invoice.invoiceId }],
      ['jobs_get', { jobId: job.jobId }],
      ['jobs_cancel', { jobId: job.jobId }],
      ['webhook_endpoints_test', { endpointId: endpoint.endpointId }],
    ];
    for (const [name, args] of calls) {
      expect(await problem(other, name, args), name).toMatchObject({ status: 404, code: 'not_found' });
    }
    expect(
      await problem(other, 'events_list', { after: (await value(mcp, 'events_list', {})).items[0].id }),
    ).toMatchObject({
      status: 404,
      code: 'not_found',
    });
    // Nothing of the first tenant changed.
    expect(await value(mcp, 'contacts_get', { contactId: contact.contactId })).toEqual(contact);
    expect(await value(mcp, 'invoices_get', { invoiceId: invoice.invoiceId })).toEqual(invoice);
    expect((await value(other, 'contacts_search', {})).count).toBe(0);
  });

  test('a disabled feature answers as REST: 403 feature_not_enabled, before the arguments are read', async () => {
    const contactsOnly = await createTenant(gateway.app, ['communication']);
    const client = await connect(contactsOnly.apiKey);
    const refused = await problem(client, 'invoices_search', {});
    const rest = await http(gateway.url, 'POST', '/api/v1/invoices/search', { key: contactsOnly.apiKey, body: {} });
    expect(refused).toMatchObject({ status: 403, code: 'feature_not_enabled' });
    expect(comparable(refused)).toEqual(comparable(rest.body));
    for (const [name, args] of [
      ['invoices_create', { nonsense: true }],
      ['invoices_get', { invoiceId: 'not-an-id' }],
      ['invoices_render_pdf', {}],
    ] as const) {
      expect(await problem(client, name, args), name).toMatchObject({ status: 403, code: 'feature_not_enabled' });
    }
    expect(await problem(client, 'events_list', { types: 'accounting.*' })).toMatchObject({
      status: 403,
      code: 'feature_not_enabled',
    });
    expect((await value(client, 'contacts_search', {})).count).toBe(0);
  });
});

describe('keys', () => {
  test('no key, an unknown key: 401 before any MCP message is read', async () => {
    for (const key of [undefined, 'nilo_ak_unknownunknownunknownunknown']) {
      const error = await connect(key).catch((e: unknown) => e);
      expect(error, String(key)).toBeInstanceOf(StreamableHTTPError);
      expect((error as StreamableHTTPError).code).toBe(401);
      expect((error as Error).message).toContain('"code":"unauthorized"');
    }
  });

  test('a key revoked during a session: the next call is refused with 401', async () => {
    const revoked = await createTenant(gateway.app);
    const client = await connect(revoked.apiKey);
    await value(client, 'contacts_search', {});
    await gateway.app.services.admin.revokeKeys(revoked.applicationId);
    const error = await call(client, 'contacts_search').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamableHTTPError);
    expect((error as StreamableHTTPError).code).toBe(401);
  });

  test('every /mcp request draws on the same budget as REST, with the same RateLimit headers', async () => {
    const budget = async (response: Promise<Response>) => {
      const res = await response;
      expect(res.status).toBe(200);
      return Number(/;r=(\d+);/.exec(res.headers.get('ratelimit') ?? '')![1]);
    };
    const rest = () => fetch(`${gateway.url}/api/v1/hello`, { headers: { authorization: `Bearer ${tenant.apiKey}` } });
    const mcpRequest = (messages: unknown) =>
      fetch(`${gateway.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${tenant.apiKey}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify(messages),
      });
    const ping = (id: number) => ({ jsonrpc: '2.0', id, method: 'ping' });
    const before = await budget(rest());
    expect(await budget(mcpRequest(ping(1)))).toBe(before - 1);
    // A batch costs a point per request in it.
    expect(await budget(mcpRequest([ping(2), ping(3), ping(4)]))).toBe(before - 4);
    expect(await budget(rest())).toBe(before - 5);
  });
});

describe('the transport', () => {
  test('GET /mcp (a stream of server messages) is not offered: 405, as a stateless server may answer', async () => {
    const res = await http(gateway.url, 'GET', '/mcp', {
      key: tenant.apiKey,
      headers: { accept: 'text/event-stream' },
    });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('POST');
  });

  test('a body that is no JSON-RPC message: the transport refuses it, nothing runs', async () => {
    const res = await http(gateway.url, 'POST', '/mcp', {
      key: tenant.apiKey,
      body: { method: 'tools/call' },
      headers: { accept: 'application/json, text/event-stream' },
    });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
  });
});

describe('idempotency', () => {
  test('a retried create with the same key answers the first result, and creates once', async () => {
    const args = { email: 'once@example.com', firstName: 'Once', idempotencyKey: 'mcp-create-once' };
    const first = await call(mcp, 'contacts_create', args);
    const again = await call(mcp, 'contacts_create', args);
    expect(first.isError).toBeFalsy();
    expect(first._meta).toBeUndefined();
    expect(again._meta).toEqual({ 'nilo/idempotentReplayed': true });
    expect(again.structuredContent).toEqual(first.structuredContent);
    const found = await value(mcp, 'contacts_search', {
      filters: [{ field: 'email', operator: 'is', value: 'once@example.com' }],
    });
    expect(found.count).toBe(1);

    expect(await problem(mcp, 'contacts_create', { ...args, firstName: 'Twice' })).toMatchObject({
      status: 409,
      code: 'idempotency_key_reused',
    });
    expect(await problem(mcp, 'contacts_create', { ...args, idempotencyKey: 'has spaces' })).toMatchObject({
      status: 400,
      code: 'invalid_request',
    });
    expect(await problem(mcp, 'contacts_create', { ...args, idempotencyKey: 7 })).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'idempotencyKey', message: 'must be a string' }],
    });
  });

  test('a refusal is stored and replayed too; the key space is shared with REST', async () => {
    const invoice = await value(mcp, 'invoices_create', NEW_INVOICE);
    await value(mcp, 'invoices_void', { invoiceId: invoice.invoiceId });
    const args = { invoiceId: invoice.invoiceId, idempotencyKey: 'mcp-issue-void' };
    const first = await call(mcp, 'invoices_issue', args);
    const again = await call(mcp, 'invoices_issue', args);
    expect(first.isError).toBe(true);
    expect(again).toEqual({ ...first, _meta: { 'nilo/idempotentReplayed': true } });

    const rest = await http(gateway.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { email: 'rest-key@example.com' },
      headers: { 'idempotency-key': 'shared-key' },
    });
    expect(rest.status).toBe(201);
    expect(
      await problem(mcp, 'contacts_create', { email: 'rest-key@example.com', idempotencyKey: 'shared-key' }),
    ).toMatchObject({ status: 409, code: 'idempotency_key_reused' });
  });
});

describe('resources', () => {
  test('the event-type catalog, the OpenAPI document and the GraphQL schema', async () => {
    const { resources } = await mcp.listResources();
    expect(resources.map((r) => r.uri)).toEqual(['nilo://event-types', 'nilo://openapi.json', 'nilo://schema.graphql']);
    const read = async (uri: string) => {
      const { contents } = await mcp.readResource({ uri });
      expect(contents).toHaveLength(1);
      return (contents[0] as { text: string }).text;
    };
    const catalog = await http(gateway.url, 'GET', '/api/v1/event-types', { key: tenant.apiKey });
    expect(JSON.parse(await read('nilo://event-types'))).toEqual(catalog.body);
    const openapi = await http(gateway.url, 'GET', '/openapi.json');
    expect(JSON.parse(await read('nilo://openapi.json'))).toEqual(openapi.body);
    const schema = await http(gateway.url, 'GET', '/schema.graphql');
    expect(await read('nilo://schema.graphql')).toBe(schema.text);
    const error = await mcp.readResource({ uri: 'nilo://nothing' }).catch((e: unknown) => e);
    expect((error as McpError).code).toBe(-32002); // the specification's "resource not found"
  });
});
