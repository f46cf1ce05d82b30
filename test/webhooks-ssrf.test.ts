import { expect, test } from 'vitest';
import { newId } from '../src/core/ids.js';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { expectProblem } from './support/problem.js';
import { startReceiver } from './support/receiver.js';
import { waitUntil } from './support/wait.js';

// No WEBHOOK_ALLOWED_CIDRS: only public addresses may receive webhooks.
const gateway = useGateway(
  {
    WEBHOOK_RETRY_SCHEDULE: '0,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms,100ms',
    WEBHOOK_DISABLE_AFTER: '300ms',
    EVENT_POLL_MS: '200',
  },
  { ownDatabase: true },
);

const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

test.each([
  ['loopback', 'http://127.0.0.1/hook'],
  ['cloud metadata (link-local)', 'http://169.254.169.254/latest/meta-data'],
  ['IPv6 loopback', 'http://[::1]/hook'],
  ['private', 'http://10.0.0.1/hook'],
  ['IPv4-mapped IPv6 loopback', 'http://[::ffff:127.0.0.1]/hook'],
  ['IPv4-compatible IPv6 loopback', 'http://[::127.0.0.1]/hook'],
  ['NAT64 of loopback', 'http://[64:ff9b::127.0.0.1]/hook'],
  ['local-use NAT64', 'http://[64:ff9b:1::a00:1]/hook'],
  ['6to4 of loopback', 'http://[2002:7f00:1::1]/hook'],
  ['Teredo', 'http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/hook'],
  ['unique local IPv6', 'http://[fd12:3456:789a::1]/hook'],
  ['link-local IPv6', 'http://[fe80::1]/hook'],
  ['multicast', 'http://224.0.0.1/hook'],
  ['documentation IPv6', 'http://[2001:db8::1]/hook'],
  ['CGNAT', 'http://100.64.0.1/hook'],
  ['benchmarking', 'http://198.18.0.1/hook'],
  ['"this network"', 'http://0.0.0.0/hook'],
  ['reserved (240/4)', 'http://240.0.0.1/hook'],
  ['broadcast', 'http://255.255.255.255/hook'],
  ['loopback written as a number', 'http://2130706433/hook'],
  ['a name resolving to loopback', 'http://localhost:8080/hook'],
])('creating an endpoint for %s is refused', async (_name, url) => {
  const tenant = await createTenant(gateway.app);
  const res = await api(tenant, 'POST', '/webhooks/endpoints', { url });
  expectProblem(res, 400, 'validation_failed');
  expect(res.body.errors).toEqual([{ path: 'url', message: expect.stringMatching(/not a public address/) }]);
  expect((await api(tenant, 'GET', '/webhooks/endpoints')).body.count).toBe(0);
});

test('a public address is accepted, and changing it to a private one is refused', async () => {
  const tenant = await createTenant(gateway.app);
  const created = await api(tenant, 'POST', '/webhooks/endpoints', {
    url: 'https://93.184.216.34/hook',
    eventTypes: ['accounting.invoice.voided'],
  });
  expect(created.status).toBe(201);
  expectProblem(
    await api(tenant, 'PATCH', `/webhooks/endpoints/${created.body.endpointId}`, { url: 'http://192.168.1.1/hook' }),
    400,
    'validation_failed',
  );
  expect((await api(tenant, 'GET', `/webhooks/endpoints/${created.body.endpointId}`)).body.url).toBe(
    'https://93.184.216.34/hook',
  );
  await api(tenant, 'DELETE', `/webhooks/endpoints/${created.body.endpointId}`);
});

test('at connect time a target that now resolves to a private address is refused (DNS rebinding); failing on, the endpoint is disabled', async () => {
  const tenant = await createTenant(gateway.app);
  const receiver = await startReceiver();
  const port = new URL(receiver.url).port;
  // As if both names resolved to public addresses when they were saved and to loopback now.
  const endpoints = [];
  for (const url of [`http://localhost:${port}/hook`, `http://127.0.0.1:${port}/hook`]) {
    const { endpointId } = await gateway.app.services.prisma.webhookEndpoint
      .create({
        data: {
          id: newId('whep'),
          tenantId: tenant.tenantId,
          url,
          eventTypes: ['*'],
          secrets: { create: { id: newId('whsk'), secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } },
        },
      })
      .then((e) => ({ endpointId: e.id }));
    endpoints.push(endpointId);
  }
  await api(tenant, 'POST', '/contacts/contacts', { email: 'rebind@example.com' });

  for (const endpointId of endpoints) {
    let endpoint: { enabled: boolean; disabledReason?: string } | undefined;
    await waitUntil(
      'the endpoint is disabled',
      async () => {
        endpoint = (await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}`)).body;
        return !endpoint!.enabled;
      },
      10_000,
      { context: () => JSON.stringify(endpoint) },
    );
    expect(endpoint).toMatchObject({ enabled: false, disabledReason: 'failing' });
    const [delivery] = (await api(tenant, 'GET', `/webhooks/endpoints/${endpointId}/deliveries`)).body.items;
    expect(delivery.attempts.length).toBeGreaterThanOrEqual(2);
    for (const attempt of delivery.attempts)
      expect(attempt).toMatchObject({
        statusCode: null,
        error: expect.stringMatching(/^blocked: .*not a public address/),
      });
  }
  expect(receiver.received).toHaveLength(0);
});
