import { expect, test } from 'vitest';
import { createTenant, eventsOf, http, useGateway } from './support/gateway.js';
import { settledJob } from './support/jobs.js';

// Polls once a minute here, so only the NOTIFY of the trigger on "Job" can start a job in time.
const gateway = useGateway({ EVENT_POLL_MS: '60000', JOB_NOOP_TYPE: 'bench.noop' }, { ownDatabase: true });

test('a queued job wakes the workers at once: it runs long before the next poll', async () => {
  const tenant = await createTenant(gateway.app);
  const started = await http(gateway.url, 'POST', '/api/v1/contacts/contacts/import', {
    key: tenant.apiKey,
    body: { contacts: [{ email: 'woken@example.com' }] },
  });
  expect(started.status).toBe(202);
  const job = await settledJob(gateway.url, tenant.apiKey, started.body.jobId, 10_000);
  expect(job).toMatchObject({ status: 'succeeded', result: { created: 1 } });
});

test('JOB_NOOP_TYPE: such a job, queued with POST /jobs, is finished by the workers at once, each change an event', async () => {
  const tenant = await createTenant(gateway.app);
  const started = await http(gateway.url, 'POST', '/api/v1/jobs', {
    key: tenant.apiKey,
    body: { resourceType: 'bench.noop', input: { n: 1 } },
  });
  expect(started.status, started.text).toBe(202);
  const job = await settledJob(gateway.url, tenant.apiKey, started.body.jobId, 10_000);
  expect(job).toMatchObject({ status: 'succeeded', result: {}, attempts: 1, runnerId: null });
  const events = (await eventsOf(gateway.app, tenant.tenantId)).filter((e) => e.resourceId === job.jobId);
  expect(events.map((e) => e.type)).toEqual(['jobs.job.queued', 'jobs.job.running', 'jobs.job.succeeded']);
  expect({ ...(events.at(-1)!.data as object), waitingFor: null }).toStrictEqual(job);
});
