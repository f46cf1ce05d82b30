// What a job's holder (one of the gateway's workers, or a runner) does with the queue: claims jobs,
// renews their leases while reporting progress, and records how each attempt ended.

import { Prisma, type Job, type PrismaClient } from '../../generated/prisma/client.js';
import { recordEvent, type NewEvent } from '../events/service.js';
import { asWriter, jobEvent, WITHOUT_INPUT, type JobEventType, type JobHolder, type JobState } from './job.js';
import { afterFailure, leaseExpiry } from './policy.js';
import { claimDueJobs } from './sql.js';
import type { JobError, Progress } from './service.js';

/** What a heartbeat tells the holder: whether it still holds the job, else whether it was canceled. */
export type Beat = { held: boolean; canceled: boolean; job: JobState | null };

const heldBy = (jobId: string, holder: JobHolder) => ({ id: jobId, status: 'running', runnerId: holder.runnerId });

const progressed = (leaseMs: number, progress?: Progress) => ({
  leaseExpiresAt: leaseExpiry(new Date(), leaseMs),
  progressCompleted: progress?.completed,
  progressTotal: progress?.total,
  progressMessage: progress?.message,
});

/** What a holder that lost its job is told: whether it was canceled (else its lease went to another). */
async function lost(db: Prisma.TransactionClient, jobId: string): Promise<Beat & { held: false }> {
  const current = await db.job.findUnique({ where: { id: jobId }, ...WITHOUT_INPUT });
  return { held: false, canceled: current?.status === 'canceled', job: current };
}

export function jobHolderOps(prisma: PrismaClient) {
  async function renewLease(jobId: string, holder: JobHolder, leaseExpiresAt: Date): Promise<JobState | null> {
    const [job] = await prisma.job.updateManyAndReturn({
      where: heldBy(jobId, holder),
      data: { leaseExpiresAt },
      ...WITHOUT_INPUT,
    });
    return job ?? null;
  }

  /** Changes a job the holder still holds, and writes the event, in one transaction; null if it lost the job. */
  function transition(
    jobId: string,
    holder: JobHolder,
    data: Prisma.JobUncheckedUpdateManyInput,
    type: JobEventType,
  ): Promise<JobState | null> {
    return prisma.$transaction(async (tx) => {
      const [job] = await tx.job.updateManyAndReturn({ where: heldBy(jobId, holder), data, ...WITHOUT_INPUT });
      if (!job) return null;
      await recordEvent(tx, asWriter(job), jobEvent(job, type));
      return job;
    });
  }

  return {
    /**
     * Claims up to `limit` queued jobs of these types, oldest first, for a holder (a runner claims
     * its tenant's only): running, with a lease, each with its jobs.job.running event.
     */
    async claim(
      types: readonly string[],
      holder: JobHolder & { tenantId?: string },
      limit: number,
      leaseMs: number,
    ): Promise<Job[]> {
      if (!types.length || limit < 1) return [];
      return prisma.$transaction(async (tx) => {
        const jobs = await tx.$queryRaw<Job[]>(claimDueJobs(types, holder, limit, leaseMs));
        for (const job of jobs) await recordEvent(tx, asWriter(job), jobEvent(job, 'jobs.job.running'));
        return jobs;
      });
    },

    /** Renews the lease and records progress (an event when it changed). Tells the holder whether to stop. */
    async heartbeat(jobId: string, holder: JobHolder, leaseMs: number, progress?: Progress): Promise<Beat> {
      const changed = progress && Object.values(progress).some((v) => v !== undefined);
      const data = progressed(leaseMs, progress);
      const job = changed
        ? await transition(jobId, holder, data, 'jobs.job.progress')
        : await renewLease(jobId, holder, data.leaseExpiresAt);
      return job ? { held: true, canceled: false, job } : lost(prisma, jobId);
    },

    /**
     * Records progress (and renews the lease) inside the caller's transaction, so it commits with
     * the work it counts. Returns the jobs.job.progress event for the caller to record with its
     * own events (one statement, taking the tenant's row last); or, when the holder lost the job, why.
     */
    async progressWithin(
      tx: Prisma.TransactionClient,
      jobId: string,
      holder: JobHolder,
      leaseMs: number,
      progress: Progress,
    ): Promise<{ held: true; event: NewEvent } | { held: false; canceled: boolean }> {
      const [job] = await tx.job.updateManyAndReturn({
        where: heldBy(jobId, holder),
        data: progressed(leaseMs, progress),
        ...WITHOUT_INPUT,
      });
      return job ? { held: true, event: jobEvent(job, 'jobs.job.progress') } : lost(tx, jobId);
    },

    complete(jobId: string, holder: JobHolder, result: Prisma.InputJsonValue): Promise<JobState | null> {
      // A failed earlier attempt's error no longer describes the job.
      return transition(
        jobId,
        holder,
        { status: 'succeeded', result, error: Prisma.DbNull, finishedAt: new Date(), leaseExpiresAt: null },
        'jobs.job.succeeded',
      );
    },

    /** A failed attempt: queued again after a backoff while attempts remain (and `retry`), else failed. */
    async fail(jobId: string, holder: JobHolder, error: JobError, retry = true): Promise<JobState | null> {
      const job = await prisma.job.findUnique({ where: { id: jobId }, select: { attempts: true, maxAttempts: true } });
      if (!job) return null;
      const next = afterFailure(job, retry, new Date());
      // Queued again without a NOTIFY: it is not due yet; the workers' poll picks it up after the backoff.
      return next.status === 'queued'
        ? transition(
            jobId,
            holder,
            { status: 'queued', runnerId: null, leaseExpiresAt: null, runAt: next.runAt, error },
            'jobs.job.queued',
          )
        : transition(
            jobId,
            holder,
            { status: 'failed', error, finishedAt: next.finishedAt, leaseExpiresAt: null },
            'jobs.job.failed',
          );
    },
  };
}

export type JobHolderOps = ReturnType<typeof jobHolderOps>;
