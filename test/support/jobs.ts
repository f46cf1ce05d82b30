import { http } from './gateway.js';
import { sleep } from './problem.js';

/** Polls GET /api/v1/jobs/{id} until the job has ended (succeeded, failed or canceled); answers it. */
export async function settledJob(baseUrl: string, apiKey: string, jobId: string, timeoutMs = 90_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = (await http(baseUrl, 'GET', `/api/v1/jobs/${jobId}`, { key: apiKey })).body;
    if (['succeeded', 'failed', 'canceled'].includes(job.status)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status}`);
    await sleep(50);
  }
}
