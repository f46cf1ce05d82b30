import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { createTenant, http, migratedDataDir, useGateway, type Tenant } from './support/gateway.js';
import { sleep } from './support/problem.js';
import { startReceiver } from './support/receiver.js';
import { liveStreams } from './support/subscriptions.js';

// Queue gauges count every tenant of the database: this file's gateway has a database of its own.
const gateway = useGateway(
  {
    WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8',
    WEBHOOK_RETRY_SCHEDULE: '0,1h',
    EVENT_POLL_MS: '100',
    JOB_LEASE: '2s',
    JOB_NO_RUNNER_TIMEOUT: '3s',
  },
  { ownDatabase: true },
);

const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });
const runnerApi = (runnerKey: string, path: string, body?: unknown) =>
  http(gateway.url, 'POST', `/api/v1/runner${path}`, { key: runnerKey, body });

/** The samples of /metrics, by series name with labels as written (`nilo_jobs_queued{type="a.b"}`). */
async function scrape(): Promise<Map<string, number>> {
  const text = await fetch(`${gateway.url}/metrics`).then((res) => res.text());
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

async function until<T>(read: () => Promise<T>, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`still ${JSON.stringify(value, (_k, v) => (v instanceof Map ? Object.fromEntries(v) : v))}`);
    await sleep(50);
  }
}

/** A raw GET (Node's fetch would inflate the body): status, headers and the bytes as sent. */
function rawGet(
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    httpRequest(`${gateway.url}${path}`, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    })
      .on('error', reject)
      .end();
  });
}

describe('the first page', () => {
  test('/ links GraphiQL, the docs, the OpenAPI document and the metrics, with first requests', async () => {
    const page = await http(gateway.url, 'GET', '/', { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    for (const href of ['/graphql', '/docs', '/openapi.json', '/mcp', '/llms.txt', '/metrics'])
      expect(page.text).toContain(`href="${href}"`);
    expect(page.text).toContain(`curl ${gateway.url}/api/v1/hello`);
  });

  test('a JSON client asking / gets the links as JSON', async () => {
    const index = await http(gateway.url, 'GET', '/', { headers: { accept: 'application/json' } });
    expect(index.status).toBe(200);
    expect(index.body).toEqual({
      name: 'Nilo gateway',
      links: {
        graphql: `${gateway.url}/graphql`,
        docs: `${gateway.url}/docs`,
        openapi: `${gateway.url}/openapi.json`,
        mcp: `${gateway.url}/mcp`,
        llms: `${gateway.url}/llms.txt`,
        metrics: `${gateway.url}/metrics`,
        ready: `${gateway.url}/ready`,
      },
    });
  });
});

describe('compression', () => {
  test('GraphiQL and JSON routes are gzipped for clients that accept it, and sent as is to others', async () => {
    const graphiql = await rawGet('/graphql', { accept: 'text/html', 'accept-encoding': 'gzip' });
    expect(graphiql.status).toBe(200);
    expect(graphiql.headers['content-encoding']).toBe('gzip');
    const page = gunzipSync(graphiql.body).toString('utf8');
    expect(page).toContain('<html');
    expect(graphiql.body.length).toBeLessThan(page.length / 2);

    const plain = await rawGet('/graphql', { accept: 'text/html' });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body.toString('utf8')).toBe(page);

    const openapi = await rawGet('/openapi.json', { 'accept-encoding': 'gzip' });
    expect(openapi.headers['content-encoding']).toBe('gzip');
    expect(JSON.parse(gunzipSync(openapi.body).toString('utf8'))).toMatchObject({ openapi: '3.1.0' });
  });

  test('a subscription over SSE is not compressed and streams each event as it happens', async () => {
    const tenant = await createTenant(gateway.app);
    const streamsBefore = await liveStreams(gateway.url);
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/graphql`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${tenant.apiKey}`,
        'content-type': 'application/json',
        accept: 'text/event-stream',
        'accept-encoding': 'gzip, br',
      },
      body: JSON.stringify({ query: 'subscription { events { tenantSequence resourceId } }' }),
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    // graphql-yoga marks the stream "Content-Encoding: none" itself, so proxies leave it alone too.
    expect(response.headers.get('content-encoding') ?? 'none').toBe('none');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    await until(
      () => liveStreams(gateway.url),
      (streams) => streams > streamsBefore,
    );
    const created = await api(tenant, 'POST', '/contacts/contacts', { email: 'sse@example.com' });
    let text = '';
    while (!text.includes(created.body.contactId)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    expect(text).toContain(created.body.contactId);
    controller.abort();
  });
});

describe('/ready', () => {
  test('answers 503 "starting" until the start-up work is done, then 200', async () => {
    const dataDir = migratedDataDir();
    const app = await buildApp(
      loadConfig({ ...process.env, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', DATA_DIR: dataDir }),
    );
    let finishStartUp!: () => void;
    const startUp = new Promise<void>((resolve) => (finishStartUp = resolve));
    let url = '';
    const started = app.start({
      beforeReady: async (baseUrl) => {
        url = baseUrl;
        await startUp;
      },
    });
    try {
      await until(async () => url, Boolean);
      const during = await http(url, 'GET', '/ready');
      expect(during.status).toBe(503);
      expect(during.body).toEqual({ status: 'starting' });
      expect((await http(url, 'GET', '/health')).status).toBe(200);
      finishStartUp();
      await started;
      const after = await http(url, 'GET', '/ready');
      expect(after.status).toBe(200);
      expect(after.body).toMatchObject({ status: 'ready', checks: { database: { status: 'up' } } });
    } finally {
      finishStartUp();
      await started.catch(() => {});
      await app.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 120_000); // a second gateway, on a fresh embedded folder: initdb is slow on a busy machine
});

describe('queue metrics', () => {
  test('webhook deliveries: attempts by outcome, pending, oldest due age, disabled endpoints, relay lag', async () => {
    const tenant = await createTenant(gateway.app);
    const before = await scrape();
    expect(before.get('nilo_database_up')).toBe(1);
    expect(before.get('nilo_webhook_deliveries_pending')).toBe(0);
    expect(before.get('nilo_webhook_oldest_due_age_seconds')).toBe(0);
    if (process.env.REDIS_URL) expect(before.get('nilo_redis_up')).toBe(1);
    else expect(before.has('nilo_redis_up')).toBe(false);
    const counted = (samples: Map<string, number>, outcome: string) =>
      samples.get(`nilo_webhook_attempts_total{outcome="${outcome}"}`) ?? 0;

    // One receiver answers 500: its delivery fails once and waits an hour (WEBHOOK_RETRY_SCHEDULE).
    const failing = await startReceiver(() => ({ status: 500 }));
    const succeeding = await startReceiver(() => ({ status: 204 }));
    const failingEndpoint = await api(tenant, 'POST', '/webhooks/endpoints', { url: failing.url });
    await api(tenant, 'POST', '/webhooks/endpoints', { url: succeeding.url });
    await api(tenant, 'POST', '/contacts/contacts', { email: 'metrics@example.com' });

    // Attempts are counted when answered and recorded just after (with others): wait for both.
    const after = await until(
      scrape,
      (s) =>
        counted(s, 'failed') > counted(before, 'failed') &&
        counted(s, 'succeeded') > counted(before, 'succeeded') &&
        s.get('nilo_webhook_deliveries_pending') === 1,
    );
    expect(after.get('nilo_webhook_oldest_due_age_seconds')).toBe(0); // the pending one is due in an hour
    expect(after.get('nilo_relay_lag_seconds_count')).toBeGreaterThan(before.get('nilo_relay_lag_seconds_count')!);
    expect(counted(after, 'no_response')).toBe(counted(before, 'no_response'));

    await api(tenant, 'PATCH', `/webhooks/endpoints/${failingEndpoint.body.endpointId}`, { enabled: false });
    expect((await scrape()).get('nilo_webhook_endpoints_disabled{reason="manual"}')).toBe(1);
    // Deleting the endpoint takes its pending delivery with it.
    await api(tenant, 'DELETE', `/webhooks/endpoints/${failingEndpoint.body.endpointId}`);
    const deleted = await scrape();
    expect(deleted.get('nilo_webhook_deliveries_pending')).toBe(0);
    expect(deleted.has('nilo_webhook_endpoints_disabled{reason="manual"}')).toBe(false);
    await failing.close();
    await succeeding.close();
  });

  test('jobs: queued by type, oldest queued age, running, lease expiries', async () => {
    const tenant = await createTenant(gateway.app);
    const runner = await gateway.app.services.runners.createRunner(tenant.tenantId, 'Metrics runner');
    expect((await runnerApi(runner.runnerKey, '/register', { resourceTypes: ['metrics.slow'] })).status).toBe(200);
    const expiriesBefore = (await scrape()).get('nilo_job_lease_expiries_total')!;

    for (let i = 0; i < 2; i++)
      expect((await api(tenant, 'POST', '/jobs', { resourceType: 'metrics.slow' })).status).toBe(202);
    const queued = await scrape();
    expect(queued.get('nilo_jobs_queued{type="metrics.slow"}')).toBe(2);
    expect(queued.get('nilo_jobs_oldest_queued_age_seconds{type="metrics.slow"}')).toBeGreaterThanOrEqual(0);
    await sleep(300);
    expect((await scrape()).get('nilo_jobs_oldest_queued_age_seconds{type="metrics.slow"}')).toBeGreaterThanOrEqual(
      0.3,
    );

    // The runner takes one and never reports: its 2 s lease lapses and the job goes back to the queue.
    const claimed = await runnerApi(runner.runnerKey, '/claim');
    expect(claimed.status).toBe(200);
    const running = await scrape();
    expect(running.get('nilo_jobs_running')).toBe(1);
    expect(running.get('nilo_jobs_queued{type="metrics.slow"}')).toBe(1);
    const lapsed = await until(scrape, (s) => s.get('nilo_job_lease_expiries_total')! > expiriesBefore);
    expect(lapsed.get('nilo_jobs_running')).toBe(0);
    expect(lapsed.get('nilo_jobs_queued{type="metrics.slow"}')).toBe(2);
  });
});

describe('jobs no runner handles', () => {
  test('say so while queued, then fail as no_runner with their jobs.job.failed event; jobs a runner registered wait', async () => {
    const tenant = await createTenant(gateway.app);
    const runner = await gateway.app.services.runners.createRunner(tenant.tenantId, 'Hint runner');
    await runnerApi(runner.runnerKey, '/register', { resourceTypes: ['hint.handled'] });

    const orphan = await api(tenant, 'POST', '/jobs', { resourceType: 'hint.orphan' });
    const handled = await api(tenant, 'POST', '/jobs', { resourceType: 'hint.handled' });
    const orphanState = await api(tenant, 'GET', `/jobs/${orphan.body.jobId}`);
    expect(orphanState.body).toMatchObject({ status: 'queued', waitingFor: 'no_runner' });
    expect((await api(tenant, 'GET', `/jobs/${handled.body.jobId}`)).body).toMatchObject({
      status: 'queued',
      waitingFor: null,
    });
    const graphql = await http(gateway.url, 'POST', '/graphql', {
      key: tenant.apiKey,
      body: {
        query: 'query($a: ID!, $b: ID!) { a: job(id: $a) { waitingFor } b: job(id: $b) { waitingFor } }',
        variables: { a: orphan.body.jobId, b: handled.body.jobId },
      },
    });
    expect(graphql.body.data).toEqual({ a: { waitingFor: 'no_runner' }, b: { waitingFor: null } });
    const listed = await api(tenant, 'GET', '/jobs?status=queued');
    expect(Object.fromEntries(listed.body.items.map((job: any) => [job.resourceType, job.waitingFor]))).toEqual({
      'hint.orphan': 'no_runner',
      'hint.handled': null,
    });

    // After JOB_NO_RUNNER_TIMEOUT (3 s) the orphan fails; the handled job still waits for its runner.
    const failed = await until(
      () => api(tenant, 'GET', `/jobs/${orphan.body.jobId}`),
      (res) => res.body.status !== 'queued',
    );
    expect(failed.body).toMatchObject({
      status: 'failed',
      waitingFor: null,
      error: { code: 'no_runner' },
      finishedAt: expect.any(String),
    });
    expect((await api(tenant, 'GET', `/jobs/${handled.body.jobId}`)).body).toMatchObject({
      status: 'queued',
      waitingFor: null,
    });
    const events = await until(
      () => api(tenant, 'GET', '/events?limit=100'),
      (res) => res.body.items.some((event: any) => event.type === 'jobs.job.failed'),
    );
    const failedEvent = events.body.items.find((event: any) => event.type === 'jobs.job.failed');
    expect(failedEvent.data).toMatchObject({
      jobId: orphan.body.jobId,
      status: 'failed',
      error: { code: 'no_runner' },
    });

    // A runner registering the type later takes such jobs in time.
    await runnerApi(runner.runnerKey, '/register', { resourceTypes: ['hint.handled', 'hint.late'] });
    const late = await api(tenant, 'POST', '/jobs', { resourceType: 'hint.late' });
    expect((await api(tenant, 'GET', `/jobs/${late.body.jobId}`)).body.waitingFor).toBeNull();
  });
});
