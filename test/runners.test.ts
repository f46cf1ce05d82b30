import { describe, expect, test } from 'vitest';
import { generateKey, RUNNER_KEY_PREFIX } from '../src/auth/keys.js';
import { createTenant, eventsOf, http, useGateway, type Tenant } from './support/gateway.js';
import { errorPaths, expectProblem, ISO_TIMESTAMP, sleep } from './support/problem.js';

// Customer-hosted runners over REST: a short lease (1 s) and a fast poll, so the gateway's job
// worker reclaims lapsed leases within a second or two.

const gateway = useGateway({ JOB_LEASE: '1s', EVENT_POLL_MS: '100' }, { ownDatabase: true });

const api = (tenant: Tenant, method: string, path: string, body?: unknown) =>
  http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });
const runnerApi = (key: string | undefined, path: string, body?: unknown, headers?: Record<string, string>) =>
  http(gateway.url, 'POST', `/api/v1/runner${path}`, { key, body, headers });

type TestRunner = { runnerId: string; runnerKey: string; fingerprint: string };

/** A runner of the tenant, created as the admin CLI does, registered for `types` when given. */
async function newRunner(tenant: Tenant, types?: string[]): Promise<TestRunner> {
  const runner = await gateway.app.services.runners.createRunner(tenant.tenantId, 'Test runner');
  if (types) expect((await runnerApi(runner.runnerKey, '/register', { resourceTypes: types })).status).toBe(200);
  return runner;
}

async function queue(tenant: Tenant, resourceType = 'demo.echo', input: Record<string, unknown> = {}): Promise<string> {
  const res = await api(tenant, 'POST', '/jobs', { resourceType, input });
  expect(res.status, res.text).toBe(202);
  return res.body.jobId;
}

/** Claims until a job comes (the lease and backoff of an earlier attempt may still run). */
async function claimWithin(runner: TestRunner, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await runnerApi(runner.runnerKey, '/claim');
    if (res.status === 200) return res.body.job;
    expect(res.status, res.text).toBe(204);
    if (Date.now() > deadline) throw new Error('no job to claim');
    await sleep(100);
  }
}

const getJob = async (tenant: Tenant, jobId: string) => (await api(tenant, 'GET', `/jobs/${jobId}`)).body;

describe('the runner loop', () => {
  test('register, claim, heartbeat with progress, complete: the client sees each step on GET /jobs/{id}', async () => {
    const tenant = await createTenant(gateway.app);
    const runner = await newRunner(tenant);

    const registered = await runnerApi(runner.runnerKey, '/register', {
      resourceTypes: ['demo.echo', 'documents.ocr', 'demo.echo'],
    });
    expect(registered.status, registered.text).toBe(200);
    expect(registered.body).toStrictEqual({
      runnerId: runner.runnerId,
      runnerName: 'Test runner',
      fingerprint: runner.fingerprint,
      status: 'active',
      resourceTypes: ['demo.echo', 'documents.ocr'],
      lastSeenAt: expect.stringMatching(ISO_TIMESTAMP),
      createdAt: expect.stringMatching(ISO_TIMESTAMP),
    });

    const idle = await runnerApi(runner.runnerKey, '/claim');
    expect(idle.status).toBe(204);
    expect(idle.text).toBe('');

    const jobId = await queue(tenant, 'demo.echo', { message: 'hi' });
    const claimed = await runnerApi(runner.runnerKey, '/claim');
    expect(claimed.status, claimed.text).toBe(200);
    expect(claimed.body.job).toMatchObject({
      jobId,
      status: 'running',
      resourceType: 'demo.echo',
      input: { message: 'hi' },
      attempts: 1,
      runnerId: runner.runnerId,
    });
    expect(claimed.body.job.leaseExpiresAt).toMatch(ISO_TIMESTAMP);
    expect(await getJob(tenant, jobId)).toMatchObject({
      status: 'running',
      runnerId: runner.runnerId,
      attempts: 1,
      startedAt: expect.stringMatching(ISO_TIMESTAMP),
    });

    const beat = await runnerApi(runner.runnerKey, `/jobs/${jobId}/heartbeat`, {
      progress: { completed: 1, total: 2, message: 'half way' },
    });
    expect(beat.status, beat.text).toBe(200);
    expect(beat.body).toStrictEqual({ canceled: false, leaseExpiresAt: expect.stringMatching(ISO_TIMESTAMP) });
    expect(Date.parse(beat.body.leaseExpiresAt)).toBeGreaterThanOrEqual(Date.parse(claimed.body.job.leaseExpiresAt));
    expect((await getJob(tenant, jobId)).progress).toStrictEqual({ completed: 1, total: 2, message: 'half way' });

    // A heartbeat without a body only renews the lease.
    const renew = await runnerApi(runner.runnerKey, `/jobs/${jobId}/heartbeat`);
    expect(renew.status, renew.text).toBe(200);
    expect(renew.body.canceled).toBe(false);

    const completed = await runnerApi(runner.runnerKey, `/jobs/${jobId}/complete`, { result: { echo: 'hi' } });
    expect(completed.status, completed.text).toBe(200);
    expect(completed.body).toMatchObject({ jobId, status: 'succeeded', result: { echo: 'hi' } });
    expect(await getJob(tenant, jobId)).toMatchObject({
      status: 'succeeded',
      runnerId: runner.runnerId,
      attempts: 1,
      progress: { completed: 1, total: 2, message: 'half way' },
      result: { echo: 'hi' },
      error: null,
      finishedAt: expect.stringMatching(ISO_TIMESTAMP),
    });
    expectProblem(await runnerApi(runner.runnerKey, `/jobs/${jobId}/complete`, { result: {} }), 409, 'job_not_held', {
      detail: 'The job has already succeeded.',
    });

    const jobEvents = (await eventsOf(gateway.app, tenant.tenantId))
      .filter((e) => e.resourceId === jobId)
      .map((e) => e.type);
    expect(jobEvents).toEqual(['jobs.job.queued', 'jobs.job.running', 'jobs.job.progress', 'jobs.job.succeeded']);

    // API-key clients see the tenant's runners: fingerprints and status, never keys.
    const list = await api(tenant, 'GET', '/runners');
    expect(list.status).toBe(200);
    expect(list.text).not.toContain(RUNNER_KEY_PREFIX);
    expect(list.body).toStrictEqual({ items: [registered.body], nextCursor: null, count: 1 });
    expect((await api(tenant, 'GET', `/runners/${runner.runnerId}`)).body).toStrictEqual(registered.body);
  });

  test('a runner that stops heartbeating loses its lease; another runner finishes the job on attempt 2', async () => {
    const tenant = await createTenant(gateway.app);
    const [first, second] = [await newRunner(tenant, ['demo.echo']), await newRunner(tenant, ['demo.echo'])];
    const jobId = await queue(tenant, 'demo.echo', { message: 'again' });

    expect((await runnerApi(first.runnerKey, '/claim')).body.job).toMatchObject({
      jobId,
      attempts: 1,
      runnerId: first.runnerId,
    });
    expect((await runnerApi(second.runnerKey, '/claim')).status, 'a held job is not handed out twice').toBe(204);

    // The first runner goes silent: its lease (1 s) lapses, the worker requeues the job (1 s backoff).
    const reclaimed = await claimWithin(second, 15_000);
    expect(reclaimed).toMatchObject({
      jobId,
      status: 'running',
      attempts: 2,
      runnerId: second.runnerId,
      input: { message: 'again' },
    });

    expectProblem(
      await runnerApi(first.runnerKey, `/jobs/${jobId}/heartbeat`, { progress: { completed: 1 } }),
      409,
      'job_not_held',
    );
    expectProblem(
      await runnerApi(first.runnerKey, `/jobs/${jobId}/complete`, { result: { from: 'first' } }),
      409,
      'job_not_held',
    );

    expect(
      (await runnerApi(second.runnerKey, `/jobs/${jobId}/heartbeat`, { progress: { completed: 1, total: 1 } })).body
        .canceled,
    ).toBe(false);
    expect((await runnerApi(second.runnerKey, `/jobs/${jobId}/complete`, { result: { from: 'second' } })).status).toBe(
      200,
    );
    expect(await getJob(tenant, jobId)).toMatchObject({
      status: 'succeeded',
      attempts: 2,
      runnerId: second.runnerId,
      result: { from: 'second' },
    });
  });

  test('canceled while running: the next heartbeat says so, and complete is refused', async () => {
    const tenant = await createTenant(gateway.app);
    const [runner, other] = [await newRunner(tenant, ['demo.echo']), await newRunner(tenant, ['demo.echo'])];
    const jobId = await queue(tenant);
    expect((await runnerApi(runner.runnerKey, '/claim')).body.job.jobId).toBe(jobId);

    const canceled = await api(tenant, 'POST', `/jobs/${jobId}/cancel`);
    expect(canceled.body).toMatchObject({ jobId, status: 'canceled' });

    const beat = await runnerApi(runner.runnerKey, `/jobs/${jobId}/heartbeat`, {
      progress: { completed: 2, total: 3 },
    });
    expect(beat.status, beat.text).toBe(200);
    expect(beat.body).toStrictEqual({ canceled: true, leaseExpiresAt: null });
    // Only the runner that held it is told; to another runner it is simply not held.
    expectProblem(await runnerApi(other.runnerKey, `/jobs/${jobId}/heartbeat`), 409, 'job_not_held');

    expectProblem(
      await runnerApi(runner.runnerKey, `/jobs/${jobId}/complete`, { result: { late: true } }),
      409,
      'job_not_held',
      {
        detail: 'The job was canceled; stop working on it.',
      },
    );
    expectProblem(
      await runnerApi(runner.runnerKey, `/jobs/${jobId}/fail`, { error: { code: 'x', message: 'y' } }),
      409,
      'job_not_held',
    );
    expect(await getJob(tenant, jobId)).toMatchObject({
      status: 'canceled',
      result: null,
      progress: { completed: null, total: null },
    });
  });

  test('fail with retry requeues the job, which is claimed again; fail without retry fails it with the error', async () => {
    const tenant = await createTenant(gateway.app);
    const runner = await newRunner(tenant, ['demo.echo']);
    const jobId = await queue(tenant);
    expect((await runnerApi(runner.runnerKey, '/claim')).body.job.jobId).toBe(jobId);

    const busy = { code: 'gpu_busy', message: 'The GPU is in use; try later.' };
    const retried = await runnerApi(runner.runnerKey, `/jobs/${jobId}/fail`, { error: busy, retry: true });
    expect(retried.status, retried.text).toBe(200);
    expect(retried.body).toMatchObject({ jobId, status: 'queued', error: busy, attempts: 1, runnerId: null });
    expect(await getJob(tenant, jobId)).toMatchObject({ status: 'queued', error: busy });

    const again = await claimWithin(runner, 10_000); // after the 1 s backoff
    expect(again).toMatchObject({ jobId, attempts: 2, runnerId: runner.runnerId });

    const broken = { code: 'bad_scan', message: 'The document cannot be read.' };
    const failed = await runnerApi(runner.runnerKey, `/jobs/${jobId}/fail`, { error: broken });
    expect(failed.status, failed.text).toBe(200);
    expect(await getJob(tenant, jobId)).toMatchObject({
      status: 'failed',
      error: broken,
      attempts: 2,
      finishedAt: expect.stringMatching(ISO_TIMESTAMP),
    });
    expect((await runnerApi(runner.runnerKey, '/claim')).status).toBe(204);
  });
});

describe('tenants', () => {
  test("a runner never sees another tenant's jobs; another tenant's key gets 404 for them and their runners", async () => {
    const [a, b] = [await createTenant(gateway.app), await createTenant(gateway.app)];
    const [runnerA, runnerB] = [await newRunner(a, ['demo.echo']), await newRunner(b, ['demo.echo'])];
    const jobId = await queue(a);

    for (let i = 0; i < 3; i++) {
      expect((await runnerApi(runnerB.runnerKey, '/claim')).status, "B's runner never gets A's job").toBe(204);
      await sleep(50);
    }
    expect((await runnerApi(runnerA.runnerKey, '/claim')).body.job.jobId).toBe(jobId);

    expectProblem(await api(b, 'GET', `/jobs/${jobId}`), 404, 'not_found');
    expectProblem(await api(b, 'POST', `/jobs/${jobId}/cancel`), 404, 'not_found');
    expectProblem(await api(b, 'GET', `/runners/${runnerA.runnerId}`), 404, 'not_found');
    expect((await api(b, 'GET', '/runners')).body.items.map((r: any) => r.runnerId)).toEqual([runnerB.runnerId]);
    expect((await api(b, 'GET', '/jobs')).body.items).toEqual([]);

    expectProblem(await runnerApi(runnerB.runnerKey, `/jobs/${jobId}/heartbeat`), 404, 'not_found');
    expectProblem(await runnerApi(runnerB.runnerKey, `/jobs/${jobId}/complete`, { result: {} }), 404, 'not_found');
    expectProblem(
      await runnerApi(runnerB.runnerKey, `/jobs/${jobId}/fail`, { error: { code: 'x', message: 'y' } }),
      404,
      'not_found',
    );
    // Even canceled, A's job tells B's runner nothing.
    await api(a, 'POST', `/jobs/${jobId}/cancel`);
    expectProblem(await runnerApi(runnerB.runnerKey, `/jobs/${jobId}/heartbeat`), 404, 'not_found');
  });
});

describe('refusals', () => {
  test('a missing, malformed, unknown or revoked runner key, or an API key, is 401; a runner key is no API key', async () => {
    const tenant = await createTenant(gateway.app);
    const revoked = await newRunner(tenant, ['demo.echo']);
    expect(await gateway.app.services.runners.revokeRunner(revoked.runnerId)).toStrictEqual({
      runnerId: revoked.runnerId,
      status: 'revoked',
    });
    const live = await newRunner(tenant, ['demo.echo']);

    const keys = [undefined, 'nilo_rk_short', generateKey(RUNNER_KEY_PREFIX).key, revoked.runnerKey, tenant.apiKey];
    for (const key of keys) {
      const res = await runnerApi(key, '/claim');
      expectProblem(res, 401, 'unauthorized');
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    // 401 comes before the body is looked at.
    expectProblem(await runnerApi(revoked.runnerKey, '/register', { resourceTypes: 'nonsense' }), 401, 'unauthorized');
    expectProblem(await http(gateway.url, 'GET', '/api/v1/hello', { key: live.runnerKey }), 401, 'unauthorized');
    expect((await api(tenant, 'GET', `/runners/${revoked.runnerId}`)).body.status).toBe('revoked');
  });

  test('malformed bodies and ids are 400, built-in types cannot be registered, claiming before registering is 409', async () => {
    const tenant = await createTenant(gateway.app);
    const runner = await newRunner(tenant);
    const key = runner.runnerKey;

    expectProblem(await runnerApi(key, '/claim'), 409, 'runner_not_registered');

    const notAList = await runnerApi(key, '/register', { resourceTypes: 'demo.echo' });
    expectProblem(notAList, 400, 'validation_failed');
    expect(errorPaths(notAList)).toEqual(['resourceTypes']);
    const builtIn = await runnerApi(key, '/register', {
      resourceTypes: ['demo.echo', 'contacts.import', 'invoices.pdf'],
    });
    expectProblem(builtIn, 400, 'validation_failed');
    expect(errorPaths(builtIn)).toEqual(['resourceTypes[1]', 'resourceTypes[2]']);
    expect(errorPaths(await runnerApi(key, '/register', { resourceTypes: ['Not A Type'] }))).toEqual([
      'resourceTypes[0]',
    ]);
    expect(errorPaths(await runnerApi(key, '/register', { resourceTypes: [] }))).toEqual(['resourceTypes']);
    expect(errorPaths(await runnerApi(key, '/register', { types: ['demo.echo'] }))).toEqual(['resourceTypes', 'types']);
    expectProblem(await runnerApi(key, '/register', '{"resourceTypes": ['), 400, 'invalid_request');
    expect((await runnerApi(key, '/register', { resourceTypes: ['demo.echo'] })).status).toBe(200);

    expectProblem(await runnerApi(key, '/jobs/job_nope/heartbeat'), 400, 'invalid_id');
    const jobId = await queue(tenant);
    expect((await runnerApi(key, '/claim')).body.job.jobId).toBe(jobId);
    expect(
      errorPaths(await runnerApi(key, `/jobs/${jobId}/heartbeat`, { progress: { completed: -1, total: 'all' } })),
    ).toEqual(['progress.completed', 'progress.total']);
    expect(errorPaths(await runnerApi(key, `/jobs/${jobId}/complete`, {}))).toEqual(['result']);
    expect(errorPaths(await runnerApi(key, `/jobs/${jobId}/complete`, { result: 'done' }))).toEqual(['result']);
    expect(errorPaths(await runnerApi(key, `/jobs/${jobId}/fail`, { error: { code: '' }, retry: 'yes' }))).toEqual([
      'error.code',
      'error.message',
      'retry',
    ]);
    // None of that touched the job (whose 1 s lease may lapse meanwhile on a slow machine).
    const job = await getJob(tenant, jobId);
    expect(job).toMatchObject({ progress: { completed: null, total: null }, result: null });
    expect(['running', 'queued']).toContain(job.status);
  });
});
