import { Webhook } from 'standardwebhooks';
import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { expectProblem, sleep } from './support/problem.js';
import { freePort } from './support/ports.js';
import { startReceiver } from './support/receiver.js';
import { connectWs, eventsIn, subscribeLive } from './support/subscriptions.js';

// Receivers run on 127.0.0.1, which this gateway's operator allows; the SSRF suite runs without it.
const gateway = useGateway(
  {
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128',
    WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms',
    WEBHOOK_TIMEOUT: '1s',
    EVENT_POLL_MS: '200',
    WEBHOOK_SECRET_OVERLAP: '2s',
  },
  { ownDatabase: true },
);

const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

async function endpointFor(
  tenant: Tenant,
  receiver: Awaited<ReturnType<typeof startReceiver>>,
  extra: Record<string, unknown> = {},
) {
  const res = await api(tenant, 'POST', '/webhooks/endpoints', {
    url: receiver.url,
    description: 'test receiver',
    ...extra,
  });
  expect(res.status, res.text).toBe(201);
  receiver.secrets.push(res.body.secret);
  return res.body;
}

const createContact = (tenant: Tenant, email: string) => api(tenant, 'POST', '/contacts/contacts', { email });
const createInvoice = (tenant: Tenant) =>
  api(tenant, 'POST', '/invoices', {
    customer: 'Acme',
    issuedDate: '2026-11-22',
    paymentTermsDays: 14,
    items: [{ description: 'Work', quantity: 1, price: 50, taxRate: 0 }],
  });

describe('deliveries', () => {
  test('every event type arrives signed, with webhook-id equal to the event id subscriptions see', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const endpoint = await endpointFor(tenant, receiver);
    expect(endpoint).toMatchObject({
      endpointId: expect.stringMatching(/^whep_/),
      url: receiver.url,
      eventTypes: ['*'],
      enabled: true,
      secret: expect.stringMatching(/^whsec_/),
    });

    const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
    const sub = await subscribeLive(ws, gateway.url, 'subscription { events { id type tenantSequence } }');

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
    expect(new Set(subscribed.map((e) => e.type))).toEqual(
      new Set([
        'communication.contact.created',
        'communication.contact.updated',
        'communication.contact.deleted',
        'accounting.invoice.created',
        'accounting.invoice.issued',
        'accounting.invoice.paid',
        'accounting.invoice.voided',
      ]),
    );
    const log = await gateway.app.services.prisma.event.findMany({
      where: { tenantId: tenant.tenantId },
      orderBy: { tenantSequence: 'asc' },
    });
    for (const event of subscribed) {
      const delivery = byId.get(event.id);
      expect(delivery, `delivery of ${event.id}`).toBeDefined();
      expect(delivery!.verifiedBy).toBe(0);
      const body = JSON.parse(delivery!.body);
      const stored = log.find((e) => e.id === event.id)!;
      expect(body).toEqual({
        id: event.id,
        type: event.type,
        tenantSequence: event.tenantSequence,
        occurredAt: stored.occurredAt.toISOString(),
        correlationId: stored.correlationId,
        data: stored.data,
      });
      expect(delivery!.headers['x-correlation-id']).toBe(stored.correlationId);
      expect(delivery!.headers['content-type']).toBe('application/json');
    }
    expect(receiver.received).toHaveLength(8);
  });

  test("event type filters and the tenant's features decide what an endpoint receives", async () => {
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
    // Which events each endpoint gets, each once: delivery is at least once, and a receiver slower
    // than the test's 1 s timeout on a busy machine gets a retry of the same event.
    const types = (receiver: typeof everything) => [
      ...new Map(receiver.events().map((event) => [event.id, event.type])).values(),
    ];
    expect(types(invoicesOnly)).toEqual(['accounting.invoice.voided']);
    expect(types(everything)).toEqual(['accounting.invoice.created', 'accounting.invoice.voided']);
  });

  test('a receiver down, then failing, then well gets the event once successfully, with every attempt logged', async () => {
    const tenant = await createTenant(gateway.app);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/hook`;
    const created = await api(tenant, 'POST', '/webhooks/endpoints', { url });
    const endpointId = created.body.endpointId;
    await createContact(tenant, 'retry@example.com');

    const deliveries = async () =>
      (await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries`)).body.items;
    // Nothing listens yet: connection refused, attempt after attempt.
    await waitUntil(async () => (await deliveries())[0]?.attempts.length >= 2);
    const receiver = await startReceiver(
      (_r, count) => (count <= 2 ? { status: 500, body: 'broken' } : { status: 200, body: 'ok' }),
      port,
    );
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
    expect(attempts.slice(refused.length).map((a: any) => [a.statusCode, a.responseBody])).toEqual([
      [500, 'broken'],
      [500, 'broken'],
      [200, 'ok'],
    ]);
    expect(delivery).toMatchObject({ status: 'succeeded', attemptCount: attempts.length, nextAttemptAt: null });
    for (const attempt of attempts) expect(attempt.durationMs).toBeGreaterThanOrEqual(0);
  });
});

describe('outcomes', () => {
  async function deliveryOf(tenant: Tenant, endpointId: string) {
    return (await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries`)).body.items[0];
  }

  test('410 Gone disables the endpoint: no more deliveries until it is re-enabled', async () => {
    const tenant = await createTenant(gateway.app);
    let gone = true;
    const receiver = await startReceiver(() => (gone ? { status: 410 } : { status: 200 }));
    const endpoint = await endpointFor(tenant, receiver);
    await createContact(tenant, 'gone1@example.com');
    await receiver.waitFor(1);
    await waitUntil(
      async () => (await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.endpointId}`)).body.enabled === false,
    );
    expect((await api(tenant, 'GET', `/webhooks/endpoints/${endpoint.endpointId}`)).body).toMatchObject({
      enabled: false,
      disabledReason: 'gone',
    });
    expect(await deliveryOf(tenant, endpoint.endpointId)).toMatchObject({ status: 'failed', attemptCount: 1 });

    await createContact(tenant, 'gone2@example.com');
    await sleep(500);
    expect(receiver.received).toHaveLength(1);

    gone = false;
    const reenabled = await api(tenant, 'PATCH', `/webhooks/endpoints/${endpoint.endpointId}`, { enabled: true });
    expect(reenabled.body).toMatchObject({ enabled: true, disabledReason: null });
    const third = await createContact(tenant, 'gone3@example.com');
    await receiver.waitFor(2);
    expect(JSON.parse(receiver.received[1]!.body).data.contactId).toBe(third.body.contactId);
  });

  test('a redirect is a failed attempt and is not followed', async () => {
    const tenant = await createTenant(gateway.app);
    const target = await startReceiver();
    const redirecting = await startReceiver(() => ({ status: 302, headers: { location: target.url } }));
    const endpoint = await endpointFor(tenant, redirecting);
    await createContact(tenant, 'redirect@example.com');
    await redirecting.waitFor(2);
    const delivery = await deliveryOf(tenant, endpoint.endpointId);
    expect(delivery.attempts[0]).toMatchObject({ statusCode: 302, responseHeaders: { location: target.url } });
    expect(delivery.status).not.toBe('succeeded');
    expect(target.received).toHaveLength(0);
  });

  test('a receiver slower than the timeout fails the attempt with a timeout', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver((_r, count) =>
      count === 1 ? { status: 200, delayMs: 3000 } : { status: 200 },
    );
    const endpoint = await endpointFor(tenant, receiver);
    await createContact(tenant, 'slow@example.com');
    await waitUntil(async () => (await deliveryOf(tenant, endpoint.endpointId))?.status === 'succeeded');
    const { attempts } = await deliveryOf(tenant, endpoint.endpointId);
    expect(attempts[0]).toMatchObject({ statusCode: null, error: expect.stringMatching(/^timeout/) });
    expect(attempts[0].durationMs).toBeGreaterThanOrEqual(900);
    expect(attempts[0].durationMs).toBeLessThan(2500);
    expect(attempts[1]).toMatchObject({ statusCode: 200, error: null });
  });

  test('a huge answer is cut at 4 KiB and not read further', async () => {
    const tenant = await createTenant(gateway.app);
    let written = 0;
    const receiver = await startReceiver(() => ({
      status: 200,
      stream: (res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = () => {
          // Up to 200 MiB, as long as the gateway keeps reading.
          while (written < 200 * 1024 * 1024 && !res.destroyed) {
            written += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        res.on('close', () => undefined);
        pump();
      },
    }));
    const endpoint = await endpointFor(tenant, receiver);
    await createContact(tenant, 'huge@example.com');
    await waitUntil(async () => (await deliveryOf(tenant, endpoint.endpointId))?.status === 'succeeded');
    const { attempts } = await deliveryOf(tenant, endpoint.endpointId);
    expect(attempts).toHaveLength(1);
    expect(attempts[0].responseBody).toHaveLength(4096);
    // The gateway stopped reading: far less than the 200 MiB on offer went out.
    expect(written).toBeLessThan(20 * 1024 * 1024);
  });

  test('Retry-After postpones the next attempt', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver((_r, count) =>
      count === 1 ? { status: 503, headers: { 'retry-after': '1' } } : { status: 200 },
    );
    const endpoint = await endpointFor(tenant, receiver);
    await createContact(tenant, 'later@example.com');
    await receiver.waitFor(2);
    const gap = receiver.received[1]!.receivedAt - receiver.received[0]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(950);
    await waitUntil(async () => (await deliveryOf(tenant, endpoint.endpointId))?.status === 'succeeded');
  });

  test('secret rotation: during the overlap both secrets sign, afterwards only the new one', async () => {
    const tenant = await createTenant(gateway.app);
    const oldSecretOnly = await startReceiver();
    const endpoint = await endpointFor(tenant, oldSecretOnly);
    const rotated = await api(tenant, 'POST', `/webhooks/endpoints/${endpoint.endpointId}/rotate-secret`);
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(endpoint.secret);
    oldSecretOnly.secrets.push(rotated.body.secret); // index 1: the new one

    await createContact(tenant, 'overlap@example.com');
    const [during] = await oldSecretOnly.waitFor(1);
    expect(String(during!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(endpoint.secret, during!)).toBe(true);
    expect(verifies(rotated.body.secret, during!)).toBe(true);

    await sleep(2100); // the overlap (WEBHOOK_SECRET_OVERLAP=2s) ends
    await createContact(tenant, 'after@example.com');
    const [, after] = await oldSecretOnly.waitFor(2);
    expect(String(after!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifies(endpoint.secret, after!)).toBe(false);
    expect(verifies(rotated.body.secret, after!)).toBe(true);
  });
});

describe('operations', () => {
  test('list deliveries by status and event type, page them, retry one now, recover failed ones, send a test event', async () => {
    const tenant = await createTenant(gateway.app);
    let healthy = false;
    const receiver = await startReceiver(() => ({ status: healthy ? 200 : 500 }));
    const endpoint = await endpointFor(tenant, receiver);
    const base = `/webhooks/endpoints/${endpoint.endpointId}`;
    await createContact(tenant, 'op1@example.com');
    await createInvoice(tenant);
    // 10 attempts each, 100 ms apart: both end failed.
    await waitUntil(
      async () => (await api(tenant, 'GET', `${base}/deliveries?status=failed`)).body.count === 2,
      15_000,
    );
    const failed = (await api(tenant, 'GET', `${base}/deliveries?status=failed`)).body.items;
    expect(failed.map((d: any) => d.attemptCount)).toEqual([10, 10]);
    expect(
      failed.every((d: any) => d.attempts.length === 10 && d.attempts.every((a: any) => a.statusCode === 500)),
    ).toBe(true);

    expect(
      (await api(tenant, 'GET', `${base}/deliveries?eventType=accounting.*`)).body.items.map((d: any) => d.eventType),
    ).toEqual(['accounting.invoice.created']);
    expect((await api(tenant, 'GET', `${base}/deliveries?eventType=communication.contact.created`)).body.count).toBe(1);
    const first = (await api(tenant, 'GET', `${base}/deliveries?limit=1`)).body;
    expect(first).toMatchObject({ count: 1, nextCursor: expect.any(String) });
    const second = (await api(tenant, 'GET', `${base}/deliveries?limit=1&cursor=${first.nextCursor}`)).body;
    expect(second.items[0].deliveryId).not.toBe(first.items[0].deliveryId);
    expect(second.nextCursor).toBeNull();

    healthy = true;
    const before = receiver.received.length;
    const retried = await api(tenant, 'POST', `${base}/deliveries/${first.items[0].deliveryId}/retry`);
    expect(retried.status).toBe(202);
    await receiver.waitFor(before + 1);
    await waitUntil(
      async () =>
        (await api(tenant, 'GET', `${base}/deliveries/${first.items[0].deliveryId}`)).body.status === 'succeeded',
    );
    expect(receiver.received.at(-1)!.headers['webhook-id']).toBe(first.items[0].eventId);

    const recovered = await api(tenant, 'POST', `${base}/recover`, {
      since: new Date(Date.now() - 60_000).toISOString(),
    });
    expect(recovered).toMatchObject({ status: 202, body: { recovered: 1 } });
    await waitUntil(async () => (await api(tenant, 'GET', `${base}/deliveries?status=succeeded`)).body.count === 2);

    const test = await api(tenant, 'POST', `${base}/test`);
    expect(test.status).toBe(202);
    expect(test.body).toMatchObject({ eventType: 'webhooks.endpoint.test', status: 'pending' });
    await waitUntil(async () => receiver.events().some((e) => e.type === 'webhooks.endpoint.test'));
    const testEvent = receiver.received.find((r) => JSON.parse(r.body).type === 'webhooks.endpoint.test')!;
    expect(testEvent.verifiedBy).toBe(0);
    expect(JSON.parse(testEvent.body)).toMatchObject({
      id: test.body.eventId,
      tenantSequence: null,
      data: { endpointId: endpoint.endpointId },
    });
  });

  test('endpoints: get, list, patch, delete', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const a = await endpointFor(tenant, receiver, { eventTypes: ['accounting.*'] });
    const b = await endpointFor(tenant, receiver);
    const { secret: _secret, ...shown } = a;
    expect((await api(tenant, 'GET', `/webhooks/endpoints/${a.endpointId}`)).body).toEqual(shown);
    expect((await api(tenant, 'GET', '/webhooks/endpoints')).body).toMatchObject({
      count: 2,
      nextCursor: null,
      items: [{ endpointId: a.endpointId }, { endpointId: b.endpointId }],
    });
    expect(JSON.stringify((await api(tenant, 'GET', '/webhooks/endpoints')).body)).not.toContain('whsec_');
    const patched = await api(tenant, 'PATCH', `/webhooks/endpoints/${a.endpointId}`, {
      description: null,
      eventTypes: ['communication.contact.created'],
      enabled: false,
    });
    expect(patched.body).toMatchObject({
      description: null,
      eventTypes: ['communication.contact.created'],
      enabled: false,
      disabledReason: 'manual',
    });
    expect((await api(tenant, 'DELETE', `/webhooks/endpoints/${a.endpointId}`)).status).toBe(204);
    expectProblem(await api(tenant, 'GET', `/webhooks/endpoints/${a.endpointId}`), 404, 'not_found');
    expect((await api(tenant, 'GET', '/webhooks/endpoints')).body.count).toBe(1);
  });
});

describe('rejections', () => {
  test('another tenant can neither see nor manage an endpoint or its deliveries', async () => {
    const [owner, other] = await Promise.all([createTenant(gateway.app), createTenant(gateway.app)]);
    const receiver = await startReceiver();
    const endpoint = await endpointFor(owner, receiver);
    await createContact(owner, 'mine@example.com');
    await receiver.waitFor(1);
    const delivery = (await api(owner, 'GET', `/webhooks/endpoints/${endpoint.endpointId}/deliveries`)).body.items[0];
    const base = `/webhooks/endpoints/${endpoint.endpointId}`;
    for (const [method, path, body] of [
      ['GET', base],
      ['PATCH', base, { enabled: false }],
      ['DELETE', base],
      ['POST', `${base}/rotate-secret`],
      ['GET', `${base}/deliveries`],
      ['GET', `${base}/deliveries/${delivery.deliveryId}`],
      ['POST', `${base}/deliveries/${delivery.deliveryId}/retry`],
      ['POST', `${base}/recover`, { since: '2020-01-01T00:00:00Z' }],
      ['POST', `${base}/test`],
    ] as const) {
      expectProblem(await api(other, method, path, body), 404, 'not_found');
    }
    expect((await api(other, 'GET', '/webhooks/endpoints')).body.count).toBe(0);
    expect((await api(owner, 'GET', base)).body.enabled).toBe(true);
    expect(receiver.received).toHaveLength(1);
  });

  test('bad input is a problem and changes nothing', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const endpoint = await endpointFor(tenant, receiver);
    const cases: [string, string, unknown, number, string, string?][] = [
      ['POST', '/webhooks/endpoints', { url: 'ftp://example.com/hook' }, 400, 'validation_failed', 'url'],
      ['POST', '/webhooks/endpoints', { url: 'not a url' }, 400, 'validation_failed', 'url'],
      ['POST', '/webhooks/endpoints', { url: 'http://user:pw@127.0.0.1/hook' }, 400, 'validation_failed', 'url'],
      [
        'POST',
        '/webhooks/endpoints',
        { url: receiver.url, eventTypes: ['accounting.invoice.exploded'] },
        400,
        'validation_failed',
        'eventTypes[0]',
      ],
      ['POST', '/webhooks/endpoints', { url: receiver.url, eventTypes: [] }, 400, 'validation_failed', 'eventTypes'],
      ['POST', '/webhooks/endpoints', { url: receiver.url, secret: 'whsec_mine' }, 400, 'validation_failed', 'secret'],
      ['POST', '/webhooks/endpoints', { url: 42 }, 400, 'validation_failed', 'url'],
      ['POST', '/webhooks/endpoints', {}, 400, 'validation_failed', 'url'],
      ['PATCH', `/webhooks/endpoints/${endpoint.endpointId}`, { enabled: 'yes' }, 400, 'validation_failed', 'enabled'],
      ['GET', '/webhooks/endpoints/whep_123', undefined, 400, 'invalid_id'],
      ['GET', `/webhooks/endpoints/${endpoint.endpointId}/deliveries/whdel_nope`, undefined, 400, 'invalid_id'],
      [
        'GET',
        `/webhooks/endpoints/${endpoint.endpointId}/deliveries?status=lost`,
        undefined,
        400,
        'validation_failed',
        'status',
      ],
      [
        'POST',
        `/webhooks/endpoints/${endpoint.endpointId}/recover`,
        { since: 'yesterday' },
        400,
        'validation_failed',
        'since',
      ],
    ];
    for (const [method, path, body, status, code, field] of cases) {
      const res = await api(tenant, method, path, body);
      expectProblem(res, status, code);
      if (field)
        expect(
          res.body.errors.map((e: any) => e.path),
          `${method} ${path}`,
        ).toContain(field);
    }
    expectProblem(
      await http(gateway.url, 'POST', '/api/v1/webhooks/endpoints', {
        key: tenant.apiKey,
        body: '{"url":',
        headers: { 'content-type': 'application/json' },
      }),
      400,
      'invalid_request',
    );
    expectProblem(
      await http(gateway.url, 'POST', '/api/v1/webhooks/endpoints', {
        key: tenant.apiKey,
        body: JSON.stringify({ url: receiver.url, description: 'x'.repeat(2_000_000) }),
      }),
      413,
      'payload_too_large',
    );
    expectProblem(await http(gateway.url, 'GET', '/api/v1/webhooks/endpoints'), 401, 'unauthorized');
    expect((await api(tenant, 'GET', '/webhooks/endpoints')).body.count).toBe(1);
  });
});

function verifies(secret: string, received: { body: string; headers: Record<string, unknown> }): boolean {
  try {
    new Webhook(secret).verify(
      received.body,
      Object.fromEntries(Object.entries(received.headers).map(([k, v]) => [k, String(v)])),
    );
    return true;
  } catch {
    return false;
  }
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}
