import http from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';
import { describe, expect, test, vi } from 'vitest';
import { loadConfig } from '../src/config.js';
import { createServices } from '../src/services.js';
import type { Tenant } from './support/gateway.js';
import { sleep } from './support/problem.js';
import { waitUntil } from './support/wait.js';
import { freePort } from './support/ports.js';
import { gatewayEnvironments, killGateway, spawnTracked, startGateway, stopGateway } from './support/processes.js';
import { connectWs, eventsIn, subscribeLive } from './support/subscriptions.js';

// Real gateway processes: starting one (PGlite's initdb, migrations) takes seconds on a busy machine.
vi.setConfig({ testTimeout: 180_000 });

// Gateways as real processes: graceful shutdown, several processes on one PostgreSQL and Redis,
// and recovery after SIGKILL. Embedded (a PGlite folder per test) unless DATABASE_URL is set.

const PG = Boolean(process.env.DATABASE_URL);
const REDIS = Boolean(process.env.REDIS_URL);
const { environment, withDatabase, createTenantIn } = gatewayEnvironments();

const createContact = (url: string, tenant: Tenant, email: string) =>
  fetch(`${url}/api/v1/contacts/contacts`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ email }),
  }).then(async (res) => ({ status: res.status, body: await res.json() }));

describe('graceful shutdown (SIGTERM)', () => {
  if (PG) {
    test('a SIGTERM while the start is still finishing (the port answers, /ready not yet) exits 0 once started', async () => {
      const env = environment();
      await createTenantIn(env);
      // The start's last step counts the tenants: held on this lock, the start waits with the port
      // already answering /health, and the SIGTERM surely comes in the middle of it.
      const lock = new pg.Client({ connectionString: env.DATABASE_URL });
      lock.on('error', () => {}); // dropped with this file's database if the test fails half-way
      await lock.connect();
      try {
        await lock.query('BEGIN');
        await lock.query('LOCK TABLE "Tenant" IN ACCESS EXCLUSIVE MODE');
        const port = await freePort();
        const proc = spawnTracked('src/main.ts', [], { ...env, PORT: String(port), HOST: '127.0.0.1' });
        let output = '';
        proc.stderr!.on('data', (d) => (output += d));
        const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
        const url = `http://127.0.0.1:${port}`;
        await waitUntil(
          'the port answers /health',
          () =>
            fetch(`${url}/health`).then(
              (r) => r.ok,
              () => false,
            ),
          60_000,
        );
        expect((await fetch(`${url}/ready`)).status).toBe(503);
        proc.kill('SIGTERM');
        await sleep(300);
        expect(proc.signalCode, 'killed by the signal half-way through the start').toBeNull();
        await lock.query('COMMIT');
        expect(await exited, output).toBe(0);
      } finally {
        await lock.end();
      }
    });
  }

  test('websockets close with 1001, a request in flight completes, new connections are refused, exit 0', async () => {
    const env = environment();
    const tenant = await createTenantIn(env);
    const gateway = await startGateway(env);
    const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
    await subscribeLive(ws, gateway.url, 'subscription { events { id } }');

    // A request whose headers have arrived but whose body has not: in flight when SIGTERM comes.
    const body = JSON.stringify({ email: 'inflight@example.com' });
    const { port } = new URL(gateway.url);
    const answered = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = http.request(
        {
          host: '127.0.0.1',
          port,
          method: 'POST',
          path: '/api/v1/contacts/contacts',
          headers: {
            authorization: `Bearer ${tenant.apiKey}`,
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body: text }));
        },
      );
      request.on('error', reject);
      request.write(body.slice(0, 5));
      setTimeout(() => request.end(body.slice(5)), 500);
    });
    await sleep(100);
    gateway.proc.kill('SIGTERM');

    expect(await ws.closed).toMatchObject({ code: 1001 });
    const response = await answered;
    expect(response.status, response.body).toBe(201);
    expect(JSON.parse(response.body).email).toBe('inflight@example.com');
    expect(await gateway.exited, gateway.output()).toBe(0);
    await expect(fetch(`${gateway.url}/health`)).rejects.toThrow();
    await ws.dispose();
  });
});

describe('several processes', () => {
  if (PG && REDIS) {
    test('a mutation through process A reaches a graphql-ws subscriber connected to process B', async () => {
      // The log's safety-net polls are made too slow to matter: what arrives came through Redis.
      const env = environment({ EVENT_POLL_MS: '60000' });
      const tenant = await createTenantIn(env);
      const [a, b] = await Promise.all([startGateway(env), startGateway(env)]);
      try {
        const ws = connectWs(b.url, { authorization: `Bearer ${tenant.apiKey}` });
        const sub = await subscribeLive(ws, b.url, 'subscription { events { tenantSequence resourceId } }');
        const created = [];
        for (let i = 0; i < 5; i++) created.push(await createContact(a.url, tenant, `a${i}@example.com`));
        const events = eventsIn(await sub.waitFor(5));
        expect(events).toEqual(created.map((c, i) => ({ tenantSequence: i + 1, resourceId: c.body.contactId })));
        await ws.dispose();
      } finally {
        await Promise.all([stopGateway(a), stopGateway(b)]);
      }
    });
  }

  if (PG) {
    test("a key revoked by another process (the admin CLI's path) closes the gateway's open socket with 4403 within 5 s", async () => {
      const env = environment();
      const tenant = await createTenantIn(env);
      const gateway = await startGateway(env);
      try {
        const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
        await subscribeLive(ws, gateway.url, 'subscription { events { id } }');
        const revokedAt = Date.now();
        await withDatabase(env, ({ prisma }) =>
          createServices(prisma, loadConfig(env)).admin.revokeKeys(tenant.applicationId),
        );
        expect(await ws.closed).toMatchObject({ code: 4403 });
        expect(Date.now() - revokedAt).toBeLessThan(5000);
        await ws.dispose();
      } finally {
        await stopGateway(gateway);
      }
    });
  }

  test('events committed by a process killed before publishing are published by the next process, in order', async () => {
    // EVENT_RELAY=off: the process commits but never publishes, as if killed between the two.
    const env = environment();
    const tenant = await createTenantIn(env);
    const writer = await startGateway({ ...env, EVENT_RELAY: 'off' });
    const created = [];
    for (let i = 0; i < 20; i++) created.push(await createContact(writer.url, tenant, `k${i}@example.com`));
    expect(created.every((c) => c.status === 201)).toBe(true);
    await killGateway(writer);

    const cursor = () =>
      withDatabase(env, ({ prisma }) => prisma.relayCursor.findUniqueOrThrow({ where: { tenantId: tenant.tenantId } }));
    expect((await cursor()).publishedSequence).toBe(0);

    // On Redis, watch the channel the relay publishes to, as every gateway process does.
    const received: { tenantSequence: number; resourceId: string }[] = [];
    const redis = REDIS ? new Redis(process.env.REDIS_URL!) : undefined;
    if (redis) {
      await redis.subscribe(`events:${tenant.tenantId}`);
      redis.on('message', (_channel, message) => received.push(JSON.parse(message)));
    }
    const restarted = await startGateway(env);
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && redis && received.length < 20) await sleep(50);
    await sleep(500);
    await stopGateway(restarted);
    await redis?.quit();

    const events = await withDatabase(env, ({ prisma }) =>
      prisma.event.findMany({ where: { tenantId: tenant.tenantId }, orderBy: { tenantSequence: 'asc' } }),
    );
    expect(events.map((e) => e.tenantSequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await cursor()).publishedSequence).toBe(20);
    if (redis) {
      expect(received.map((e) => e.tenantSequence)).toEqual(events.map((e) => e.tenantSequence));
      expect(received.map((e) => e.resourceId)).toEqual(created.map((c) => c.body.contactId));
    }
  });
});

describe('jobs across a crash', () => {
  test('a worker killed mid-job (SIGKILL): the job is retried by the next process and finishes once', async () => {
    const env = environment({ JOB_LEASE: '1s', EVENT_POLL_MS: '200' });
    const tenant = await createTenantIn(env);
    const first = await startGateway(env);
    const contacts = Array.from({ length: 6_000 }, (_, i) => ({
      email: `crash${i}@example.com`,
      externalId: `c-${i}`,
    }));
    const started = await fetch(`${first.url}/api/v1/contacts/contacts/import`, {
      method: 'POST',
      headers: { authorization: `Bearer ${tenant.apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ contacts }),
    }).then((res) => res.json());
    const job = (url: string) =>
      fetch(`${url}/api/v1/jobs/${started.jobId}`, { headers: { authorization: `Bearer ${tenant.apiKey}` } }).then(
        (res) => res.json(),
      );

    const deadline = Date.now() + 60_000;
    while (((await job(first.url)).progress.completed ?? 0) < 1000 && Date.now() < deadline) await sleep(20);
    const before = await job(first.url);
    expect(before.status).toBe('running');
    expect(before.progress.completed).toBeLessThan(6_000);
    await killGateway(first);

    const second = await startGateway(env);
    try {
      let finished = await job(second.url);
      while (!['succeeded', 'failed'].includes(finished.status) && Date.now() < deadline + 60_000) {
        await sleep(100);
        finished = await job(second.url);
      }
      expect(finished).toMatchObject({ status: 'succeeded', attempts: 2 });
      // The rows the first attempt wrote are unchanged the second time: each contact exists once.
      expect(finished.result.created + finished.result.unchanged).toBe(6_000);
      expect(finished.result.unchanged).toBeGreaterThanOrEqual(1000);
      const events = await fetch(`${second.url}/api/v1/events?types=jobs.*&limit=500`, {
        headers: { authorization: `Bearer ${tenant.apiKey}` },
      }).then((res) => res.json());
      const types = events.items.filter((e: any) => e.data.jobId === started.jobId).map((e: any) => e.type);
      expect(types.filter((t: string) => t === 'jobs.job.succeeded')).toHaveLength(1);
      expect(types.filter((t: string) => t === 'jobs.job.running')).toHaveLength(2);
      expect(types).toContain('jobs.job.queued');
    } finally {
      await stopGateway(second);
    }
    const stored = await withDatabase(env, ({ prisma }) =>
      prisma.contact.count({ where: { tenantId: tenant.tenantId } }),
    );
    expect(stored).toBe(6_000);
  }, 180_000);
});
