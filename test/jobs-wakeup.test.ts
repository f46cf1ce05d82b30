import { expect, test } from 'vitest';
import { createTenant, http, useGateway } from './support/gateway.js';
import { settledJob } from './support/jobs.js';

// Polls once a minute here, so only the NOTIFY of the trigger on "Job" can start a job in time.
const gateway = useGateway({ EVENT_POLL_MS: '60000' }, { ownDatabase: true });

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
