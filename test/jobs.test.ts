import { describe, expect, test } from 'vitest';
import { createTenant, graphql, http, useGateway, type Tenant } from './support/gateway.js';
import { settledJob } from './support/jobs.js';
import { expectProblem, sleep } from './support/problem.js';
import { startReceiver } from './support/receiver.js';
import { connectWs, eventsIn } from './support/subscriptions.js';
import { waitUntil } from './support/wait.js';

const gateway = useGateway(
  { JOB_LEASE: '30s', WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32', EVENT_POLL_MS: '200' },
  { ownDatabase: true },
);
const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

const settled = (tenant: Tenant, jobId: string, timeoutMs?: number) =>
  settledJob(gateway.url, tenant.apiKey, jobId, timeoutMs);

/** `count` contacts; every 100th row is bad in a different way. */
function importRows(count: number, prefix: string) {
  return Array.from({ length: count }, (_, i) => {
    if (i % 100 === 7)
      return [
        { email: `not-an-email-${i}` },
        { firstName: 'x'.repeat(300) },
        { note: 'no identifying field' },
        { email: `${prefix}${i}@example.com`, unknownField: 1 },
      ][Math.floor(i / 100) % 4];
    return {
      email: `${prefix}${i}@example.com`,
      firstName: `First${i}`,
      externalId: i % 2 ? `${prefix}-ext-${i}` : undefined,
      customData: { row: i, tags: ['a', 'b'] },
    };
  });
}

describe('contacts.import', () => {
  test('10,000 rows with 100 bad ones: every valid row stored, every bad one reported; the same import again changes nothing', async () => {
    const tenant = await createTenant(gateway.app);
    const rows = importRows(10_000, 'imp');
    const started = await api(tenant, 'POST', '/contacts/contacts/import', { contacts: rows });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({
      jobId: expect.stringMatching(/^job_/),
      status: 'queued',
      resourceType: 'contacts.import',
      pollPath: `/api/v1/jobs/${started.body.jobId}`,
    });
    expect(started.headers.get('location')).toBe(started.body.pollPath);

    const job = await settled(tenant, started.body.jobId);
    expect(job).toMatchObject({ status: 'succeeded', attempts: 1, progress: { completed: 10_000, total: 10_000 } });
    expect(job.result).toMatchObject({ created: 9_900, updated: 0, unchanged: 0, failed: 100 });
    const badIndexes = rows.map((_, i) => i).filter((i) => i % 100 === 7);
    expect([...new Set(job.result.errors.map((e: any) => e.index))]).toEqual(badIndexes);
    const fieldsOf = (index: number) =>
      job.result.errors.filter((e: any) => e.index === index).map((e: any) => e.field);
    expect(fieldsOf(7)).toEqual(['email']);
    expect(fieldsOf(107)).toEqual(['firstName']);
    expect(fieldsOf(207)).toEqual(['']);
    expect(fieldsOf(307)).toEqual(['unknownField']);

    const prisma = gateway.app.services.prisma;
    expect(await prisma.contact.count({ where: { tenantId: tenant.tenantId } })).toBe(9_900);
    const sample = await prisma.contact.findFirst({
      where: { tenantId: tenant.tenantId, emailNormalized: 'imp4321@example.com' },
    });
    expect(sample).toMatchObject({
      firstName: 'First4321',
      externalId: 'imp-ext-4321',
      customData: { row: 4321, tags: ['a', 'b'] },
    });
    const eventsAfterFirst = await prisma.event.count({
      where: { tenantId: tenant.tenantId, type: { startsWith: 'communication.' } },
    });
    expect(eventsAfterFirst).toBe(9_900);

    const again = await api(tenant, 'POST', '/contacts/contacts/import', { contacts: rows });
    const rerun = await settled(tenant, again.body.jobId);
    expect(rerun.result).toMatchObject({ created: 0, updated: 0, unchanged: 9_900, failed: 100 });
    expect(await prisma.contact.count({ where: { tenantId: tenant.tenantId } })).toBe(9_900);
    expect(
      await prisma.event.count({ where: { tenantId: tenant.tenantId, type: { startsWith: 'communication.' } } }),
    ).toBe(eventsAfterFirst);
  }, 180_000);

  test('matches by externalId first, then by email; changed rows are updated once each', async () => {
    const tenant = await createTenant(gateway.app);
    const existing = await api(tenant, 'POST', '/contacts/contacts', {
      email: 'old@example.com',
      firstName: 'Old',
      externalId: 'crm-1',
    });
    const byEmail = await api(tenant, 'POST', '/contacts/contacts', { email: 'mail@example.com', firstName: 'Mail' });
    const started = await api(tenant, 'POST', '/contacts/contacts/import', {
      contacts: [
        { externalId: 'crm-1', email: 'new@example.com', firstName: 'Renamed' },
        { email: 'MAIL@example.com', lastName: 'Matched' },
        { email: 'fresh@example.com', externalId: 'crm-2' },
        { email: 'fresh@example.com', firstName: 'Twice' },
      ],
    });
    const job = await settled(tenant, started.body.jobId);
    expect(job.result).toEqual({ created: 1, updated: 2, unchanged: 0, failed: 0, errors: [] });
    const first = await api(tenant, 'GET', `/contacts/contacts/${existing.body.contactId}`);
    expect(first.body).toMatchObject({ email: 'new@example.com', firstName: 'Renamed', externalId: 'crm-1' });
    const second = await api(tenant, 'GET', `/contacts/contacts/${byEmail.body.contactId}`);
    expect(second.body).toMatchObject({ email: 'MAIL@example.com', firstName: 'Mail', lastName: 'Matched' });
    const list = (await api(tenant, 'GET', '/contacts/contacts')).body.items;
    expect(list.find((c: any) => c.email === 'fresh@example.com')).toMatchObject({
      externalId: 'crm-2',
      firstName: 'Twice',
    });
  });

  test('events queued → running → progress → succeeded reach a subscriber and a webhook receiver under one job id', async () => {
    const tenant = await createTenant(gateway.app);
    const receiver = await startReceiver();
    const endpoint = await api(tenant, 'POST', '/webhooks/endpoints', { url: receiver.url, eventTypes: ['jobs.*'] });
    receiver.secrets.push(endpoint.body.secret);

    // A job no runner takes: its queued event is where the subscription below resumes from.
    await api(tenant, 'POST', '/jobs', { resourceType: 'demo.hold', input: {} });
    const [anchor] = (await api(tenant, 'GET', '/events?types=jobs.*')).body.items;
    const started = await api(tenant, 'POST', '/contacts/contacts/import', { contacts: importRows(1200, 'ev') });
    const ws = connectWs(gateway.url, { authorization: `Bearer ${tenant.apiKey}` });
    const sub = ws.subscribe(
      'subscription($id: ID!, $after: ID) { jobUpdated(id: $id, after: $after) { id type resourceId data { ... on Job { id } } } }',
      {
        id: started.body.jobId,
        after: anchor.id,
      },
    );
    await settled(tenant, started.body.jobId);

    const log = (await api(tenant, 'GET', `/events?types=jobs.*&after=${anchor.id}`)).body.items;
    expect(log.map((e: any) => e.type)).toEqual([
      'jobs.job.queued',
      'jobs.job.running',
      'jobs.job.progress',
      'jobs.job.progress',
      'jobs.job.progress',
      'jobs.job.succeeded',
    ]);
    expect(log.map((e: any) => [e.data.progress.completed, e.data.progress.total])).toEqual([
      [0, 1200],
      [0, 1200],
      [500, 1200],
      [1000, 1200],
      [1200, 1200],
      [1200, 1200],
    ]);
    expect(log.every((e: any) => e.data.jobId === started.body.jobId)).toBe(true);

    const streamed = eventsIn(await sub.waitFor(log.length), 'jobUpdated');
    expect(streamed.map((e) => e.id)).toEqual(log.map((e: any) => e.id));
    expect(streamed.every((e) => e.resourceId === started.body.jobId && e.data.id === started.body.jobId)).toBe(true);

    await receiver.waitFor(log.length + 1); // + the held job's queued event
    // Deliveries run concurrently: receivers order them by tenantSequence.
    const received = receiver.received
      .map((r) => ({ id: r.headers['webhook-id'], verifiedBy: r.verifiedBy, body: JSON.parse(r.body) }))
      .filter((r) => r.body.data.jobId === started.body.jobId)
      .sort((a, b) => a.body.tenantSequence - b.body.tenantSequence);
    expect(received.map((r) => r.id)).toEqual(log.map((e: any) => e.id));
    expect(received.every((r) => r.verifiedBy === 0)).toBe(true);
    await ws.dispose();
  });
});

describe('cancel', () => {
  test('a queued job is canceled at once; a finished one answers 409', async () => {
    const tenant = await createTenant(gateway.app);
    const queued = await api(tenant, 'POST', '/jobs', { resourceType: 'documents.ocr', input: { file: 'x' } });
    expect(queued.status).toBe(202);
    const canceled = await api(tenant, 'POST', `/jobs/${queued.body.jobId}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body).toMatchObject({
      jobId: queued.body.jobId,
      status: 'canceled',
      finishedAt: expect.any(String),
    });
    expectProblem(await api(tenant, 'POST', `/jobs/${queued.body.jobId}/cancel`), 409, 'job_finished');
    const types = (await api(tenant, 'GET', '/events?types=jobs.*')).body.items.map((e: any) => e.type);
    expect(types).toEqual(['jobs.job.queued', 'jobs.job.canceled']);
  });

  test('a running import stops at its next step and stays canceled', async () => {
    const tenant = await createTenant(gateway.app);
    const started = await api(tenant, 'POST', '/contacts/contacts/import', { contacts: importRows(20_000, 'cx') });
    await waitUntil(
      'the import has done 500 rows',
      async () => (await api(tenant, 'GET', `/jobs/${started.body.jobId}`)).body.progress.completed >= 500,
      30_000,
      { intervalMs: 20 },
    );
    const canceled = await api(tenant, 'POST', `/jobs/${started.body.jobId}/cancel`);
    expect(
      canceled.body.status,
      JSON.stringify([canceled.body, (await api(tenant, 'GET', `/jobs/${started.body.jobId}`)).body]),
    ).toBe('canceled');
    await sleep(1500);
    const job = (await api(tenant, 'GET', `/jobs/${started.body.jobId}`)).body;
    expect(job).toMatchObject({ status: 'canceled', result: null });
    const stored = await gateway.app.services.prisma.contact.count({ where: { tenantId: tenant.tenantId } });
    expect(stored).toBeLessThan(19_800);
    // A chunk's progress commits with its rows: what is stored is exactly what the job counted (1 row in 100 is bad).
    expect(stored).toBe(job.progress.completed * 0.99);
    await sleep(1000);
    expect(await gateway.app.services.prisma.contact.count({ where: { tenantId: tenant.tenantId } })).toBe(stored);
    const types = (await api(tenant, 'GET', '/events?types=jobs.*&limit=500')).body.items.map((e: any) => e.type);
    expect(types.at(-1)).toBe('jobs.job.canceled');
    expect(types).not.toContain('jobs.job.succeeded');
  }, 60_000);
});

describe('GraphQL', () => {
  test('importContacts → job(id) → succeeded; jobs connection; createJob and cancelJob', async () => {
    const tenant = await createTenant(gateway.app);
    const started = await graphql(
      gateway.url,
      tenant.apiKey,
      'mutation($c: [JSONObject!]!) { importContacts(contacts: $c) { id status resourceType pollPath } }',
      {
        c: [{ email: 'g1@example.com' }, { email: 'g2@example.com' }],
      },
    );
    expect(started.errors).toBeUndefined();
    const { id } = started.data.importContacts;
    expect(started.data.importContacts).toEqual({
      id,
      status: 'queued',
      resourceType: 'contacts.import',
      pollPath: `/api/v1/jobs/${id}`,
    });
    await settled(tenant, id);
    const job = await graphql(
      gateway.url,
      tenant.apiKey,
      'query($id: ID!) { job(id: $id) { status attempts result progress { completed total } } }',
      { id },
    );
    expect(job.data.job).toEqual({
      status: 'succeeded',
      attempts: 1,
      result: { created: 2, updated: 0, unchanged: 0, failed: 0, errors: [] },
      progress: { completed: 2, total: 2 },
    });
    const rest = (await api(tenant, 'GET', `/jobs/${id}`)).body;
    expect(rest.result).toEqual(job.data.job.result);

    const created = await graphql(
      gateway.url,
      tenant.apiKey,
      'mutation { createJob(input: { resourceType: "documents.ocr", input: { page: 1 } }) { id status input } }',
    );
    expect(created.data.createJob).toMatchObject({ status: 'queued', input: { page: 1 } });
    const canceled = await graphql(gateway.url, tenant.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { status } }', {
      id: created.data.createJob.id,
    });
    expect(canceled.data.cancelJob.status).toBe('canceled');
    const list = await graphql(
      gateway.url,
      tenant.apiKey,
      '{ jobs(first: 10, status: canceled) { edges { node { id resourceType } } } }',
    );
    expect(list.data.jobs.edges.map((e: any) => e.node.id)).toEqual([created.data.createJob.id]);
    const again = await graphql(gateway.url, tenant.apiKey, 'mutation($id: ID!) { cancelJob(id: $id) { status } }', {
      id: created.data.createJob.id,
    });
    expect(again.errors?.[0]?.extensions.code).toBe('job_finished');
  });
});

describe('rejections', () => {
  test("another tenant's jobs are not found; bad input is a problem and queues nothing", async () => {
    const [owner, other] = await Promise.all([createTenant(gateway.app), createTenant(gateway.app)]);
    const accountingOnly = await createTenant(gateway.app, ['accounting']);
    const job = (await api(owner, 'POST', '/jobs', { resourceType: 'documents.ocr' })).body;
    expectProblem(await api(other, 'GET', `/jobs/${job.jobId}`), 404, 'not_found');
    expectProblem(await api(other, 'POST', `/jobs/${job.jobId}/cancel`), 404, 'not_found');
    expect((await api(other, 'GET', '/jobs')).body.count).toBe(0);
    expect(
      (await graphql(gateway.url, other.apiKey, 'query($id: ID!) { job(id: $id) { id } }', { id: job.jobId }))
        .errors?.[0]?.extensions.code,
    ).toBe('not_found');
    expect((await api(owner, 'GET', `/jobs/${job.jobId}`)).body.status).toBe('queued');

    const cases: [Tenant, string, string, unknown, number, string, string?][] = [
      [owner, 'POST', '/contacts/contacts/import', { contacts: [] }, 400, 'validation_failed', 'contacts'],
      [owner, 'POST', '/contacts/contacts/import', { contacts: 'all of them' }, 400, 'validation_failed', 'contacts'],
      [
        owner,
        'POST',
        '/contacts/contacts/import',
        { contacts: [{}], dryRun: true },
        400,
        'validation_failed',
        'dryRun',
      ],
      [
        owner,
        'POST',
        '/contacts/contacts/import',
        { contacts: Array.from({ length: 100_001 }, () => ({})) },
        400,
        'validation_failed',
        'contacts',
      ],
      [
        accountingOnly,
        'POST',
        '/contacts/contacts/import',
        { contacts: [{ email: 'x@example.com' }] },
        403,
        'feature_not_enabled',
      ],
      [
        owner,
        'POST',
        '/jobs',
        { resourceType: 'contacts.import', input: {} },
        400,
        'validation_failed',
        'resourceType',
      ],
      [owner, 'POST', '/jobs', { resourceType: 'Not A Type' }, 400, 'validation_failed', 'resourceType'],
      [owner, 'POST', '/jobs', { resourceType: 'documents.ocr', input: 'text' }, 400, 'validation_failed', 'input'],
      [owner, 'GET', '/jobs/job_123', undefined, 400, 'invalid_id'],
      [owner, 'GET', '/jobs?status=stuck', undefined, 400, 'validation_failed', 'status'],
    ];
    for (const [tenant, method, path, body, status, code, field] of cases) {
      const res = await api(tenant, method, path, body);
      expectProblem(res, status, code);
      if (field)
        expect(
          res.body.errors.map((e: any) => e.path),
          `${method} ${path}`,
        ).toContain(field);
    }
    expectProblem(await http(gateway.url, 'GET', '/api/v1/jobs'), 401, 'unauthorized');
    expect((await api(owner, 'GET', '/jobs')).body.count).toBe(1);
    expect((await api(accountingOnly, 'GET', '/jobs')).body.count).toBe(0);
  });
});
