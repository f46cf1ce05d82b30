import { createClient, type Client } from 'graphql-sse';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createTenant, http, migratedDataDir, useGateway, type Tenant } from './support/gateway.js';
import { liveStreams } from './support/subscriptions.js';

const gateway = useGateway();
const clients: Client[] = [];
afterAll(() => clients.forEach((client) => client.dispose()));

const EVENTS =
  'subscription($after: ID) { events(types: ["communication.*"], after: $after) { id type tenantSequence resourceId } }';

function client(tenant: Tenant, singleConnection: boolean): Client {
  const created = createClient({
    url: `${gateway.url}/graphql`,
    singleConnection,
    headers: { authorization: `Bearer ${tenant.apiKey}` },
    retryAttempts: 0,
  });
  clients.push(created);
  return created;
}

/** Subscribes and collects results; `stop` unsubscribes. */
function subscribe(sse: Client, variables: Record<string, unknown> = {}) {
  const results: any[] = [];
  let failure: unknown;
  const stop = sse.subscribe(
    { query: EVENTS, variables },
    { next: (r) => void results.push(r), error: (e) => void (failure = e), complete: () => {} },
  );
  return {
    results,
    stop,
    async waitFor(count: number) {
      const deadline = Date.now() + 10_000;
      while (results.length < count && !failure && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(failure).toBeUndefined();
      expect(results.length, JSON.stringify(results)).toBeGreaterThanOrEqual(count);
      return results.map((r) => {
        expect(r.errors).toBeUndefined();
        return r.data.events;
      });
    },
  };
}

async function untilLive(before: number) {
  const deadline = Date.now() + 10_000;
  while ((await liveStreams(gateway.url)) <= before) {
    if (Date.now() > deadline) throw new Error('the subscription did not go live');
    await new Promise((r) => setTimeout(r, 20));
  }
}

const createContact = async (tenant: Tenant, email: string) => {
  const res = await http(gateway.url, 'POST', '/api/v1/contacts/contacts', { key: tenant.apiKey, body: { email } });
  expect(res.status).toBe(201);
  return res.body.contactId as string;
};

describe.each([
  ['single connection', true],
  ['distinct connections', false],
])('the graphql-sse client in %s mode', (_mode, singleConnection) => {
  test('receives an event, then resumes with after without a gap or a duplicate', async () => {
    const tenant = await createTenant(gateway.app);
    const sse = client(tenant, singleConnection);
    const before = await liveStreams(gateway.url);
    const first = subscribe(sse);
    await untilLive(before);
    const contactId = await createContact(tenant, 'first@example.com');
    const [received] = await first.waitFor(1);
    expect(received).toMatchObject({ type: 'communication.contact.created', tenantSequence: 1, resourceId: contactId });
    first.stop();

    await createContact(tenant, 'missed1@example.com');
    await createContact(tenant, 'missed2@example.com');
    const resumed = subscribe(sse, { after: received.id });
    const events = await resumed.waitFor(2);
    expect(events.map((e) => e.tenantSequence)).toEqual([2, 3]);
    resumed.stop();
  });
});

describe('single-connection mode over plain HTTP', () => {
  test('a stream needs a key to reserve, and belongs to the application that reserved it', async () => {
    const [owner, other] = [await createTenant(gateway.app), await createTenant(gateway.app)];
    const anonymous = await http(gateway.url, 'PUT', '/graphql');
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors[0].extensions.code).toBe('unauthorized');

    const reserved = await http(gateway.url, 'PUT', '/graphql', { key: owner.apiKey });
    expect(reserved.status).toBe(201);
    const token = reserved.text;
    expect(token).toMatch(/^[0-9a-f-]{36}$/);

    const operation = { query: EVENTS, extensions: { operationId: 'op1' } };
    const foreign = await http(gateway.url, 'POST', '/graphql', {
      key: other.apiKey,
      body: operation,
      headers: { 'x-graphql-event-stream-token': token },
    });
    expect(foreign.status).toBe(404);
    const keyless = await http(gateway.url, 'POST', '/graphql', {
      body: operation,
      headers: { 'x-graphql-event-stream-token': token },
    });
    expect(keyless.status).toBe(404);
    const streamOfOther = await http(gateway.url, 'GET', `/graphql?token=${token}`, {
      key: other.apiKey,
      headers: { accept: 'text/event-stream' },
    });
    expect(streamOfOther.status).toBe(404);

    const accepted = await http(gateway.url, 'POST', '/graphql', {
      key: owner.apiKey,
      body: operation,
      headers: { 'x-graphql-event-stream-token': token },
    });
    expect(accepted.status).toBe(202);
    const stopped = await http(gateway.url, 'DELETE', '/graphql?operationId=op1', {
      key: owner.apiKey,
      headers: { 'x-graphql-event-stream-token': token },
    });
    expect(stopped.status).toBe(200);
  });

  test('an operation refused by the pipeline reaches the stream as an error, like over HTTP', async () => {
    const tenant = await createTenant(gateway.app);
    const sse = client(tenant, true);
    const firstResult = (query: string) =>
      new Promise<any>((resolve) =>
        sse.subscribe({ query }, { next: resolve, error: (e) => resolve({ errors: [e] }), complete: () => {} }),
      );
    const invalid = await firstResult('subscription { events(first: 1) { id } }');
    expect(invalid.errors).toHaveLength(1);
    expect(invalid.errors[0].message).toMatch(/Unknown argument "first"/);
    expect(invalid.errors[0].extensions).toMatchObject({ code: 'invalid_request', correlationId: expect.any(String) });
    // GraphQL Armor's rules are the pipeline's, not graphql-js's: 31 aliases are one too many.
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: id`).join(' ');
    const tooMany = await firstResult(`subscription { events { ${aliases} } }`);
    expect(tooMany.errors[0].message).toMatch(/Aliases limit of 30 exceeded/);
  });
});

test('stopping a gateway ends its open single-connection streams', async () => {
  const dataDir = process.env.DATABASE_URL ? undefined : migratedDataDir();
  const app = await buildApp(
    loadConfig({
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      ...(dataDir ? { DATA_DIR: dataDir } : {}),
    }),
  );
  try {
    const url = await app.start();
    const tenant = await createTenant(app);
    const token = (await http(url, 'PUT', '/graphql', { key: tenant.apiKey })).text;
    const stream = await fetch(`${url}/graphql`, {
      headers: {
        authorization: `Bearer ${tenant.apiKey}`,
        accept: 'text/event-stream',
        'x-graphql-event-stream-token': token,
      },
    });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    await reader.read(); // the stream's first comment: it is open
    await app.stop();
    expect((await reader.read()).done).toBe(true);
  } finally {
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
});
