import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, test } from 'vitest';
import { EVENT_TYPES, TEST_EVENT_TYPE } from '../src/features/events/types.js';
import { createTenant, graphql, http, useGateway, type Tenant } from './support/gateway.js';
import { startReceiver } from './support/receiver.js';

// The event-type catalog, served three ways (GET /api/v1/event-types, GraphQL eventTypes, the
// OpenAPI document's webhooks), must list every type the domain emits, agree with itself, and
// describe the events the gateway really sends: in the log and as webhooks.

const gateway = useGateway(
  { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128', EVENT_POLL_MS: '200' },
  { ownDatabase: true },
);

const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats.default(ajv);
const validatorOf = (schema: object) => ajv.compile(schema);
const expectValid = (schema: object, value: unknown, what: string) => {
  const validate = validatorOf(schema);
  expect(validate(value), `${what}: ${ajv.errorsText(validate.errors)}`).toBe(true);
};

type CatalogEntry = {
  type: string;
  description: string;
  feature: string | null;
  enabled: boolean;
  webhookOnly: boolean;
  schema: object;
};
type WebhookOperation = {
  post: {
    requestBody: { content: { 'application/json': { schema: { properties: { data: object } } } } };
    parameters: { name: string; required: boolean }[];
  };
};

let tenant: Tenant;
let rest: CatalogEntry[];
let webhooks: Record<string, WebhookOperation>;
beforeAll(async () => {
  tenant = await createTenant(gateway.app);
  const res = await http(gateway.url, 'GET', '/api/v1/event-types', { key: tenant.apiKey });
  expect(res.status).toBe(200);
  rest = res.body.items;
  expect(res.body).toMatchObject({ nextCursor: null, count: rest.length });
  webhooks = (await http(gateway.url, 'GET', '/openapi.json')).body.webhooks;
});

describe('the event-type catalog', () => {
  test('lists every type the domain emits, once', () => {
    const emitted = [...EVENT_TYPES, TEST_EVENT_TYPE];
    expect(rest.map((entry) => entry.type).sort()).toEqual([...emitted].sort());
    expect(Object.keys(webhooks).sort()).toEqual([...emitted].sort());
    for (const entry of rest) {
      expect(entry.description.length, entry.type).toBeGreaterThan(20);
      // Every data schema compiles under strict draft 2020-12.
      validatorOf(entry.schema);
    }
  });

  test('is the same over REST, GraphQL and the OpenAPI webhooks', async () => {
    const result = await graphql(
      gateway.url,
      tenant.apiKey,
      '{ eventTypes { type description feature enabled webhookOnly schema } }',
    );
    expect(result.errors).toBeUndefined();
    expect(result.data.eventTypes).toEqual(rest);
    for (const entry of rest) {
      const operation = webhooks[entry.type]!.post;
      const envelope = operation.requestBody.content['application/json'].schema;
      expect(envelope.properties.data, entry.type).toEqual(entry.schema);
      expect(envelope.properties).toMatchObject({ type: { const: entry.type } });
      expect(operation.parameters.filter((p) => p.required).map((p) => p.name)).toEqual(
        expect.arrayContaining(['webhook-id', 'webhook-timestamp', 'webhook-signature']),
      );
    }
  });

  test('names the feature each type needs and whether the tenant receives it', async () => {
    const accountingOnly = await createTenant(gateway.app, ['accounting']);
    const res = await http(gateway.url, 'GET', '/api/v1/event-types', { key: accountingOnly.apiKey });
    const byType = new Map<string, CatalogEntry>(res.body.items.map((entry: CatalogEntry) => [entry.type, entry]));
    expect(byType.get('accounting.invoice.paid')).toMatchObject({ feature: 'accounting', enabled: true });
    expect(byType.get('communication.contact.created')).toMatchObject({ feature: 'communication', enabled: false });
    expect(byType.get('jobs.job.succeeded')).toMatchObject({ feature: null, enabled: true });
    expect(byType.get(TEST_EVENT_TYPE)).toMatchObject({ feature: null, webhookOnly: true });
    expect(rest.every((entry) => entry.enabled)).toBe(true);
  });

  test('needs an API key like every /api/v1 route', async () => {
    expect((await http(gateway.url, 'GET', '/api/v1/event-types')).status).toBe(401);
    const result = await graphql(gateway.url, undefined, '{ eventTypes { type } }');
    expect(result.errors?.[0]?.extensions.code).toBe('unauthorized');
  });
});

test("real events, in the log and as signed webhooks, match their types' schemas", async () => {
  const receiver = await startReceiver();
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await http(gateway.url, method, path, { key: tenant.apiKey, body });
    expect(res.status, `${method} ${path}: ${res.text}`).toBeLessThan(300);
    return res.body;
  };
  const endpoint = await call('POST', '/api/v1/webhooks/endpoints', { url: receiver.url });
  receiver.secrets.push(endpoint.secret);

  const contact = await call('POST', '/api/v1/contacts/contacts', {
    email: 'ada@example.com',
    firstName: 'Ada',
    customData: { erpId: 'E1' },
  });
  await call('PATCH', `/api/v1/contacts/contacts/${contact.contactId}`, { lastName: 'Lovelace' });
  const line = { description: 'Rose stems', quantity: 2, price: 149.99, taxRate: 8.5 };
  const invoice = await call('POST', '/api/v1/invoices', {
    customer: 'Acme',
    customerContactId: contact.contactId,
    issuedDate: '2026-05-30',
    paymentTermsDays: 30,
    items: [line],
  });
  await call('POST', `/api/v1/invoices/${invoice.invoiceId}/issue`);
  await call('POST', `/api/v1/invoices/${invoice.invoiceId}/pay`);
  const voided = await call('POST', '/api/v1/invoices', {
    customer: 'Acme',
    issuedDate: '2026-05-30',
    paymentTermsDays: 30,
    items: [line],
  });
  await call('POST', `/api/v1/invoices/${voided.invoiceId}/void`);
  await call('DELETE', `/api/v1/contacts/contacts/${contact.contactId}`);
  const imported = await call('POST', '/api/v1/contacts/contacts/import', {
    contacts: [{ email: 'grace@example.com' }, { email: 'not-an-email' }],
  });
  const waiting = await call('POST', '/api/v1/jobs', { resourceType: 'demo.echo', input: { message: 'hi' } });
  await call('POST', `/api/v1/jobs/${waiting.jobId}/cancel`);
  await call('POST', `/api/v1/webhooks/endpoints/${endpoint.endpointId}/test`);
  const deadline = Date.now() + 10_000;
  while ((await call('GET', `/api/v1/jobs/${imported.jobId}`)).status !== 'succeeded' && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));

  const log = await call('GET', '/api/v1/events?limit=500');
  const catalog = new Map(rest.map((entry) => [entry.type, entry]));
  for (const event of log.items) expectValid(catalog.get(event.type)!.schema, event.data, `${event.type} data`);
  for (const event of log.items)
    expectValid(
      webhooks[event.type]!.post.requestBody.content['application/json'].schema,
      event,
      `${event.type} envelope`,
    );
  // Every type but a failed job (which takes attempts or JOB_NO_RUNNER_TIMEOUT) and the webhook-only test.
  const seen = new Set(log.items.map((event: { type: string }) => event.type));
  expect([...seen].sort()).toEqual(EVENT_TYPES.filter((type) => type !== 'jobs.job.failed').sort());

  const deliveries = await receiver.waitFor(log.items.length + 1);
  for (const delivery of deliveries) {
    expect(delivery.verifiedBy).toBe(0);
    const envelope = JSON.parse(delivery.body);
    const operation = webhooks[envelope.type]!.post;
    expectValid(operation.requestBody.content['application/json'].schema, envelope, `${envelope.type} webhook`);
    for (const parameter of operation.parameters)
      expect(delivery.headers[parameter.name.toLowerCase()], parameter.name).toBeDefined();
  }
  expect(deliveries.map((d) => JSON.parse(d.body).type)).toContain(TEST_EVENT_TYPE);
});
