// The queue's upkeep, on the workers' poll: jobs whose holder went quiet go back to the queue, and
// jobs nobody runs fail rather than wait forever.

import type { PrismaClient } from '../../generated/prisma/client.js';
import { recordEvent } from '../events/service.js';
import type { JobHolderOps } from './holder.js';
import { asWriter, jobEvent, WITHOUT_INPUT } from './job.js';
import { unhandledJobIds } from './sql.js';

/** What a job whose holder stopped renewing its lease records as its attempt's error. */
const LEASE_EXPIRED_ERROR = { code: 'lease_expired', message: 'The worker holding the job stopped reporting.' };

/** What a job that failed as no_runner tells its readers. */
const NO_RUNNER_ERROR = {
  code: 'no_runner',
  message: 'No runner registered this job type while the job waited (JOB_NO_RUNNER_TIMEOUT).',
};

/** `handledBuiltInTypes`: the built-in types a worker runs (none when no process runs them). */
export function jobSweeps(prisma: PrismaClient, holders: JobHolderOps, handledBuiltInTypes: readonly string[]) {
  /** Fails one job as no_runner, with its event, if it is still queued: a runner may have claimed it meanwhile. */
  function failAsNoRunner(id: string) {
    return prisma.$transaction(async (tx) => {
      const [job] = await tx.job.updateManyAndReturn({
        where: { id, status: 'queued' },
        data: { status: 'failed', error: NO_RUNNER_ERROR, finishedAt: new Date() },
        ...WITHOUT_INPUT,
      });
      if (job) await recordEvent(tx, asWriter(job), jobEvent(job, 'jobs.job.failed'));
      return job;
    });
  }

  return {
    /**
     * Queued jobs due for longer than `timeoutMs` whose type nobody runs for their tenant fail as
     * no_runner, with their jobs.job.failed event: a client waits for an answer, not forever.
     * A pass takes at most `limit` jobs (the oldest first); the caller's next poll takes more.
     */
    async failUnhandled(timeoutMs: number, limit = 100): Promise<number> {
      const stale = await prisma.$queryRaw<{ id: string }[]>(unhandledJobIds(handledBuiltInTypes, timeoutMs, limit));
      let failed = 0;
      for (const { id } of stale) if (await failAsNoRunner(id)) failed++;
      return failed;
    },

    /**
     * Jobs whose holder stopped renewing its lease (crashed, killed, disconnected): a failed
     * attempt, so they go back to the queue, or fail when out of attempts.
     */
    async reclaimExpired(): Promise<number> {
      const expired = await prisma.job.findMany({
        where: { status: 'running', leaseExpiresAt: { lt: new Date() } },
        select: { id: true, runnerId: true },
      });
      let reclaimed = 0;
      for (const { id, runnerId } of expired)
        if (await holders.fail(id, { runnerId }, LEASE_EXPIRED_ERROR)) reclaimed++;
      return reclaimed;
    },
  };
}
