import { Redis } from 'ioredis';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { buildApp, type App } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createTenant, eventsOf, graphql, http, type Tenant } from './support/gateway.js';
import { settledJob } from './support/jobs.js';
import { expectProblem } from './support/problem.js';
import { startReceiver } from './support/receiver.js';
import { PrivatePostgres, PrivateRedis } from './support/services.js';
import { waitUntil } from './support/wait.js';
import { connectWs, eventsIn, subscribeLive, type Subscription, type WsConnection } from './support/subscriptions.js';

// A gateway on a private PostgreSQL and a private Redis, in both CI passes, which this file stops,
// freezes (SIGSTOP: connections stay open, nothing answers) and starts again. Nothing may crash
// the process (an unhandled rejection fails this file), and it must recover by itself.

const REDIS_COMMAND_TIMEOUT_MS = 300;
const DATABASE_CONNECT_TIMEOUT_MS = 1000;
const DATABASE_STATEMENT_TIMEOUT_MS = 2000;
/** Room for a loaded machine on top of a timeout: the bound proves nothing waits for the dependency itself. */
const SLACK_MS = 1500;

let redis: PrivateRedis;
let postgres: PrivatePostgres;
let app: App;
let url: string;
let tenant: Tenant;
let ws: WsConnection;
let subscription: Subscription;
/** Our own subscriber on the gateway's channel: proves that the relay publishes on Redis (again). */
let listener: Redis;
/** Asks Redis who follows the channel. */
let observer: Redis;
const heard: string[] = [];
const created: string[] = [];

beforeAll(async () => {
  [redis, postgres] = await Promise.all([PrivateRedis.start(), PrivatePostgres.start()]);
  const env = {
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: '1000000',
    DATABASE_URL: postgres.url,
    REDIS_URL: redis.url,
    EVENT_POLL_MS: '200',
    REDIS_COMMAND_TIMEOUT: `${REDIS_COMMAND_TIMEOUT_MS}ms`,
    DATABASE_CONNECT_TIMEOUT: `${DATABASE_CONNECT_TIMEOUT_MS}ms`,
    DATABASE_STATEMENT_TIMEOUT: `${DATABASE_STATEMENT_TIMEOUT_MS}ms`,
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    WEBHOOK_RETRY_SCHEDULE: '0,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms',
    WEBHOOK_TIMEOUT: '2s',
  };
  app = await buildApp(loadConfig({ ...process.env, ...env }));
  url = await app.start();
  tenant = await createTenant(app);
  ws = connectWs(url, { authorization: `Bearer ${tenant.apiKey}` });
  subscription = await subscribeLive(
    ws,
    url,
    'subscription { events(types: ["communication.*"]) { tenantSequence resourceId } }',
  );
  [listener, observer] = [new Redis(redis.url), new Redis(redis.url)];
  for (const client of [listener, observer]) client.on('error', () => {}); // reconnects by itself while the tests stop Redis
  listener.on('message', (_channel, message: string) => heard.push(JSON.parse(message).resourceId));
  await listener.subscribe(`events:${tenant.tenantId}`);
}, 120_000);

afterAll(async () => {
  listener?.disconnect();
  observer?.disconnect();
  await ws?.dispose();
  redis?.thaw();
  postgres?.thaw();
  await app?.stop();
  await Promise.all([redis?.stop(), postgres?.remove()]);
}, 60_000);

/** Creates a contact through REST; its id. */
async function createContact(label: string): Promise<string> {
  const res = await http(url, 'POST', '/api/v1/contacts/contacts', {
    key: tenant.apiKey,
    body: { email: `${label}-${created.length}@example.com` },
  });
  expect(res.status, res.text).toBe(201);
  created.push(res.body.contactId);
  return res.body.contactId;
}

/**
 * Asserts the subscription has received every contact event of the log, in order, each once, and
 * so every contact created so far. (A write that answered 503 because the database froze may still
 * commit once it thaws; imports create contacts too.)
 */
async function expectAllReceived() {
  const logged = (await eventsOf(app, tenant.tenantId)).filter((event) => event.type.startsWith('communication.'));
  const events = eventsIn(await subscription.waitFor(logged.length, 15_000));
  expect(events).toEqual(logged.map(({ tenantSequence, resourceId }) => ({ tenantSequence, resourceId })));
  expect(events.map((event) => event.resourceId)).toEqual(expect.arrayContaining(created));
}

async function ready() {
  return http(url, 'GET', '/ready');
}

async function expectAlive() {
  expect((await http(url, 'GET', '/health')).body).toEqual({ status: 'ok' });
}

/** Runs `request` and answers how long it took; fails if it takes longer than `limitMs` (it must not wait for the dependency). */
async function timed<T>(what: string, limitMs: number, request: () => Promise<T>): Promise<{ result: T; ms: number }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${limitMs} ms`)), limitMs)),
  );
  try {
    const result = await Promise.race([request(), limit]);
    return { result, ms: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

const readyState = {
  status: 'ready',
  checks: {
    database: { status: 'up', latencyMs: expect.any(Number) },
    redis: { status: 'up', latencyMs: expect.any(Number) },
  },
};

describe('Redis', () => {
  test('is followed live while it runs', async () => {
    expect((await ready()).body).toEqual(readyState);
    const id = await createContact('before');
    await expectAllReceived();
    await waitUntil('the relay published on Redis', () => heard.includes(id));
  });

  test('refused: requests go on, /ready says degraded, subscribers (even new ones) catch up from the log, pub/sub resumes when it is back', async () => {
    await redis.stop();

    const degraded = await ready();
    expect(degraded.status).toBe(200);
    expect(degraded.body).toEqual({
      status: 'degraded',
      checks: { database: readyState.checks.database, redis: { status: 'down', error: expect.any(String) } },
    });

    // A subscription opened while Redis is away (this used to crash the process a little later).
    const other = await createTenant(app);
    const otherWs = connectWs(url, { authorization: `Bearer ${other.apiKey}` });
    try {
      const otherSubscription = await subscribeLive(otherWs, url, 'subscription { events { resourceId } }');
      await createContact('refused');
      await createContact('refused');
      await expectAllReceived();

      const res = await http(url, 'POST', '/api/v1/contacts/contacts', {
        key: other.apiKey,
        body: { email: 'other@example.com' },
      });
      expect(res.status).toBe(201);
      expect(eventsIn(await otherSubscription.waitFor(1))).toEqual([{ resourceId: res.body.contactId }]);
    } finally {
      await otherWs.dispose();
    }
    await expectAlive();

    await redis.start();
    await waitUntil('/ready is ready again', async () => (await ready()).body.status === 'ready');
    // The gateway follows its tenant's channel again (we are the other subscriber) and publishes on it.
    await waitUntil('the gateway subscribed again', async () => {
      const [, subscribers] = (await observer.pubsub('NUMSUB', `events:${tenant.tenantId}`)) as [string, number];
      return subscribers >= 2;
    });
    const after = await createContact('after-refused');
    await waitUntil('the relay publishes on Redis again', () => heard.includes(after));
    await expectAllReceived();
  }, 60_000);

  test('frozen: requests answer within about the command timeout, /ready says degraded, subscribers catch up, all resumes when it thaws', async () => {
    redis.freeze();
    try {
      for (let i = 0; i < 3; i++) {
        const hello = await timed('GET /api/v1/hello', REDIS_COMMAND_TIMEOUT_MS + SLACK_MS, () =>
          http(url, 'GET', '/api/v1/hello', { key: tenant.apiKey }),
        );
        expect(hello.result.status).toBe(200);
        const list = await timed('a GraphQL query', REDIS_COMMAND_TIMEOUT_MS + SLACK_MS, () =>
          graphql(url, tenant.apiKey, '{ contacts(first: 1) { edges { node { id } } } }'),
        );
        expect(list.result.errors).toBeUndefined();
        await timed('POST a contact', REDIS_COMMAND_TIMEOUT_MS + SLACK_MS, () => createContact('frozen'));
      }
      const degraded = await timed('/ready', REDIS_COMMAND_TIMEOUT_MS + SLACK_MS, ready);
      expect(degraded.result.status).toBe(200);
      expect(degraded.result.body).toMatchObject({
        status: 'degraded',
        checks: { database: { status: 'up' }, redis: { status: 'down' } },
      });
      await expectAllReceived();
      await expectAlive();
    } finally {
      redis.thaw();
    }
    await waitUntil('/ready is ready again', async () => (await ready()).body.status === 'ready');
    const after = await createContact('after-frozen');
    await waitUntil('the relay publishes on Redis again', () => heard.includes(after));
    await expectAllReceived();
  }, 60_000);
});

describe('PostgreSQL', () => {
  test('down: 503 service_unavailable with Retry-After on REST and GraphQL, /ready 503; everything recovers by itself', async () => {
    const receiver = await startReceiver();
    const endpoint = await http(url, 'POST', '/api/v1/webhooks/endpoints', {
      key: tenant.apiKey,
      body: { url: receiver.url, eventTypes: ['communication.*'] },
    });
    expect(endpoint.status, endpoint.text).toBe(201);
    // A key never used yet: authenticating it needs the database too (the other one is cached).
    const fresh = await createTenant(app);

    await postgres.stop('SIGINT');

    for (const key of [tenant.apiKey, fresh.apiKey]) {
      const list = await http(url, 'GET', '/api/v1/contacts/contacts', { key });
      expectProblem(list, 503, 'service_unavailable');
      expect(list.headers.get('retry-after')).toBe('5');
      const write = await http(url, 'POST', '/api/v1/contacts/contacts', { key, body: { email: 'down@example.com' } });
      expectProblem(write, 503, 'service_unavailable');
      const idempotent = await http(url, 'POST', '/api/v1/contacts/contacts', {
        key,
        body: { email: 'down@example.com' },
        headers: { 'idempotency-key': `down-${key}` },
      });
      expectProblem(idempotent, 503, 'service_unavailable');
      const query = await graphql(url, key, '{ contacts(first: 1) { edges { node { id } } } }');
      expect(query.errors?.[0]?.extensions).toMatchObject({ code: 'service_unavailable', status: 503 });
    }
    const mutation = await graphql(
      url,
      tenant.apiKey,
      'mutation { createContact(input: { email: "down@example.com" }) { id } }',
    );
    expect(mutation.errors?.[0]?.extensions).toMatchObject({ code: 'service_unavailable', status: 503 });

    const unavailable = await ready();
    expect(unavailable.status).toBe(503);
    expect(unavailable.body).toMatchObject({
      status: 'unavailable',
      checks: { database: { status: 'down', error: expect.any(String) }, redis: { status: 'up' } },
    });
    await expectAlive();

    await postgres.start();
    await waitUntil('/ready is ready again', async () => (await ready()).status === 200);
    // The NOTIFY listener is back on its channels, the relay and the workers resumed.
    await waitUntil('the gateway LISTENs again', async () => (await listeningSessions()) > 0);
    const after = await createContact('after-down');
    await expectAllReceived();
    await receiver.waitFor(1, 15_000);
    expect(receiver.events().map((event) => event.data.contactId)).toContain(after);
    const job = await http(url, 'POST', '/api/v1/contacts/contacts/import', {
      key: tenant.apiKey,
      body: { contacts: [{ email: 'imported@example.com' }] },
    });
    expect(job.status, job.text).toBe(202);
    expect((await settledJob(url, tenant.apiKey, job.body.jobId, 20_000)).status).toBe('succeeded');
    const fine = await http(url, 'GET', '/api/v1/contacts/contacts', { key: fresh.apiKey });
    expect(fine.status).toBe(200);
    // The 503 kept no claim on its Idempotency-Key: the retry runs.
    const retried = await http(url, 'POST', '/api/v1/contacts/contacts', {
      key: fresh.apiKey,
      body: { email: 'down@example.com' },
      headers: { 'idempotency-key': `down-${fresh.apiKey}` },
    });
    expect(retried.status, retried.text).toBe(201);
  }, 60_000);

  test('frozen: requests answer 503 within the connect and statement timeouts instead of hanging, and recover when it thaws', async () => {
    const bound = DATABASE_STATEMENT_TIMEOUT_MS + 1000 + SLACK_MS; // the driver's read timeout is a second past the statement timeout
    postgres.freeze();
    try {
      const answers = await Promise.all([
        timed('GET contacts', bound, () => http(url, 'GET', '/api/v1/contacts/contacts', { key: tenant.apiKey })),
        timed('POST a contact', bound, () =>
          http(url, 'POST', '/api/v1/contacts/contacts', { key: tenant.apiKey, body: { email: 'frozen@example.com' } }),
        ),
        timed('a GraphQL query', bound, () =>
          graphql(url, tenant.apiKey, '{ contacts(first: 1) { edges { node { id } } } }'),
        ),
      ]);
      expectProblem(answers[0].result, 503, 'service_unavailable');
      expectProblem(answers[1].result, 503, 'service_unavailable');
      expect(answers[2].result.errors?.[0]?.extensions).toMatchObject({ code: 'service_unavailable' });
      const probe = await timed('/ready', 1000 + SLACK_MS, ready);
      expect(probe.result.status).toBe(503);
      expect(probe.result.body).toMatchObject({ status: 'unavailable', checks: { database: { status: 'down' } } });
      await expectAlive();
    } finally {
      postgres.thaw();
    }
    await waitUntil('/ready is ready again', async () => (await ready()).status === 200);
    await createContact('after-frozen');
    await expectAllReceived();
  }, 60_000);
});

/** Sessions of the private server whose last statement was a LISTEN: the gateway's notification listener. */
async function listeningSessions(): Promise<number> {
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>(
      "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN%'",
    );
    return Number(rows[0]!.count);
  } finally {
    await client.end();
  }
}
