import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { expectProblem, sleep } from './support/problem.js';

const gateway = useGateway({ JOB_LEASE: '2s' });
const api = (tenant: Tenant, method: string, path: string, body?: unknown) => http(gateway.url, method, `/api/v1${path}`, { key: tenant.apiKey, body });

async function settled(tenant: Tenant, jobId: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await api(tenant, 'GET', `/jobs/${jobId}`)).body;
    if (['succeeded', 'failed', 'canceled'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status}`);
    await sleep(100);
  }
}

describe('contacts.import', () => {
  test('202, then the job imports, reporting created rows', async () => {
    const tenant = await createTenant(gateway.app);
    const res = await api(tenant, 'POST', '/contacts/contacts/import', { contacts: [{ email: 'a@example.com' }, { email: 'bad' }, { firstName: 'B', externalId: 'x1' }] });
    expect(res.status).toBe(202);
    expect(res.body).toEqual({ jobId: expect.stringMatching(/^job_/), status: 'queued', resourceType: 'contacts.import', pollPath: `/api/v1/jobs/${res.body.jobId}` });
    expect(res.headers.get('location')).toBe(res.body.pollPath);
    const job = await settled(tenant, res.body.jobId);
    expect(job).toMatchObject({ status: 'succeeded', result: { created: 2, updated: 0, unchanged: 0, failed: 1, errors: [{ index: 1, field: 'email', message: expect.any(String) }] } });
  });
});
