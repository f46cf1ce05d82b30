import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { expectProblem, sleep } from './support/problem.js';
import { freePort } from './support/processes.js';
import { startReceiver } from './support/receiver.js';
import { connectWs, eventsIn } from './support/subscriptions.js';

// Receivers run on 127.0.0.1, which this gateway's operator allows; the SSRF suite runs without it.
const gateway = useGateway({ WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128', WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms', WEBHOOK_TIMEOUT: '1s', EVENT_POLL_MS: '200' });

const api = (tenant: Tenant, method: string, path: string, body?: unknown) => http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

async function endpointFor(tenant: Tenant, receiver: Awaited<ReturnType<typeof startReceiver>>, extra: Record<string, unknown> = {}) {
  const res = await api(tenant, 'POST', '/webhooks/endpoints', { url: receiver.url, description: 'test receiver', ...extra });
  expect(res.status, res.text).toBe(201);
  receiver.secrets.push(res.body.secret);
  return res.body;
}

const createContact = (tenant: Tenant, email: string) => api(tenant, 'POST', '/contacts/contacts', { email });
const createInvoice = (tenant: Tenant) =>
  api(tenant, 'POST', '/invoices', { customer: 'Acme', issuedDate: '2026-11-22', paymentTermsDays: 14, items: [{ description: 'Work', quantity: 1, price: 50, taxRate: 0 }] });

describe('deliveries', () => {
  test('every event type arrives signed, with webhook-id equal to the event id subscriptions see', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const endpoint = await endpointFor(tenant, receiver);
    expect(endpoint).toMatchObject({ endpointId: expect.stringMatching(/^whep_/), url: receiver.url, eventTypes: ['*'], enabled: true, secret: expect.stringMatching(/^whsec_/) });

    const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
    const sub = ws.subscribe('subscription { events { id type tenantSequence } }');
    await sleep(200);

    const contact = await createContact(tenant, 'hook@example.com');
    await api(tenant, 'PATCH', `/contacts/contacts/${contact.body.contactId}`, { firstName: 'Hook' });
    await api(tenant, 'DELETE', `/contacts/contacts/${contact.body.contactId}`);
    const paid = await createInvoice(tenant);
    await api(tenant, 'POST', `/invoices/${paid.body.invoiceId}/issue`);
    await api(tenant, 'POST', `/invoices/${paid.body.invoiceId}/pay`);
    const voided = await createInvoice(tenant);
    await api(tenant, 'POST', `/invoices/${voided.body.invoiceId}/void`);

    const subscribed = eventsIn(await sub.waitFor(8));
    await receiver.waitFor(8);
    await ws.dispose();
    const byId = new Map(receiver.received.map((r) => [r.headers['webhook-id'], r]));
    expect(new Set(subscribed.map((e) => e.type))).toEqual(new Set([
      'communication.contact.created', 'communication.contact.updated', 'communication.contact.deleted',
      'accounting.invoice.created', 'accounting.invoice.issued', 'accounting.invoice.paid', 'accounting.invoice.voided',
    ]));
    const log = await gateway.app.services.prisma.event.findMany({ where: { tenantId: tenant.tenantId }, orderBy: { tenantSequence: 'asc' } });
    for (const event of subscribed) {
      const delivery = byId.get(event.id);
      expect(delivery, `delivery of ${event.id}`).toBeDefined();
      expect(delivery!.verifiedBy).toBe(0);
      const body = JSON.parse(delivery!.body);
      const stored = log.find((e) => e.id === event.id)!;
      expect(body).toEqual({ id: event.id, type: event.type, tenantSequence: event.tenantSequence, occurredAt: stored.occurredAt.toISOString(), correlationId: stored.correlationId, data: stored.data });
      expect(delivery!.headers['x-correlation-id']).toBe(stored.correlationId);
      expect(delivery!.headers['content-type']).toBe('application/json');
    }
    expect(receiver.received).toHaveLength(8);
  });

  test('event type filters and the tenant\'s features decide what an endpoint receives', async () => {
    const tenant = await createTenant(gateway.app, ['accounting']);
    const invoicesOnly = await startReceiver();
    await endpointFor(tenant, invoicesOnly, { eventTypes: ['accounting.invoice.paid', 'accounting.invoice.voided'] });
    const everything = await startReceiver();
    await endpointFor(tenant, everything);
    const invoice = await createInvoice(tenant);
    await api(tenant, 'POST', `/invoices/${invoice.body.invoiceId}/void`);
    await invoicesOnly.waitFor(1);
    await everything.waitFor(2);
    await sleep(300);
    expect(invoicesOnly.events().map((e) => e.type)).toEqual(['accounting.invoice.voided']);
    expect(everything.events().map((e) => e.type)).toEqual(['accounting.invoice.created', 'accounting.invoice.voided']);
  });

  test('a receiver down, then failing, then well gets the event once successfully, with every attempt logged', async () => {
    const tenant = await createTenant(gateway.app);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const created = await api(tenant, 'POST', '/webhooks/endpoints', { url });
    const endpointId = created.body.endpointId;
    await createContact(tenant, 'retry@example.com');

    const deliveries = async () => (await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries`)).body.items;
    // Nothing listens yet: connection refused, attempt after attempt.
    await waitUntil(async () => (await deliveries())[0]?.attempts.length >= 2);
    const receiver = await startReceiver((_r, count) => (count <= 2 ? { status: 500, body: 'broken' } : { status: 200, body: 'ok' }), port);
    receiver.secrets.push(created.body.secret);
    await receiver.waitFor(3);
    await waitUntil(async () => (await deliveries())[0]?.status === 'succeeded');
    await sleep(300);

    expect(receiver.received).toHaveLength(3);
    expect(new Set(receiver.received.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(receiver.received.every((r) => r.verifiedBy === 0)).toBe(true);
    const [delivery] = await deliveries();
    const attempts = delivery.attempts;
    const refused = attempts.filter((a: any) => a.statusCode === null);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const attempt of refused) expect(attempt.error).toMatch(/ECONNREFUSED/);
    expect(attempts.slice(refused.length).map((a: any) => [a.statusCode, a.responseBody])).toEqual([[500, 'broken'], [500, 'broken'], [200, 'ok']]);
    expect(delivery).toMatchObject({ status: 'succeeded', attemptCount: attempts.length, nextAttemptAt: null });
    for (const attempt of attempts) expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}
