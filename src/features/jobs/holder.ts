// What a job's holder (one of the gateway's workers, or a runner) does with the queue: claims jobs,
// renews their leases while reporting progress, and records how each attempt ended.

import type { Prisma, Job, PrismaClient } from '../../generated/prisma/client.js';
import { changeWithEvents, recordEvent, type NewEvent } from '../events/service.js';
import { asWriter, jobEvent, WITHOUT_INPUT, type JobEventType, type JobHolder, type JobState } from './job.js';
import { afterFailure } from './policy.js';
import { claimDueJobs, completeHeldJobs, dueJobExists, updateHeldJob } from './sql.js';
import type { JobError, Progress } from './service.js';

/** What a heartbeat tells the holder: whether it still holds the job, else whether it was canceled. */
export type Beat = { held: boolean; canceled: boolean; job: JobState | null };

const heldBy = (jobId: string, holder: JobHolder) => ({ id: jobId, status: 'running', runnerId: holder.runnerId });

/** The columns a changed row names its event in (see changeWithEvents); not part of the job. */
type EventColumns = { eventType: string; eventResourceType: string; eventResourceId: string; eventData: unknown };

function withoutEvent<T extends object>(row: T & EventColumns): T {
  const {
    eventType: _type,
    eventResourceType: _resourceType,
    eventResourceId: _resourceId,
    eventData: _data,
    ...job
  } = row;
  return job as T;
}

/** A job a holder finished, with its result. */
export type Completion = { id: string; result: Prisma.InputJsonValue };

/** What a holder that lost its job is told: whether it was canceled (else its lease went to another). */
async function lost(db: Prisma.TransactionClient, jobId: string): Promise<Beat & { held: false }> {
  const current = await db.job.findUnique({ where: { id: jobId }, ...WITHOUT_INPUT });
  return { held: false, canceled: current?.status === 'canceled', job: current };
}

export function jobHolderOps(prisma: PrismaClient) {
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
      const rows = await changeWithEvents<Job & EventColumns>(
        prisma,
        claimDueJobs(types, holder, limit, leaseMs),
        limit,
      );
      return rows.map((row) => withoutEvent<Job>(row)).sort((a, b) => (a.id < b.id ? -1 : 1));
    },

    /** Whether a job of these types is queued and due (nothing is claimed). */
    async anyDue(types: readonly string[]): Promise<boolean> {
      if (!types.length) return false;
      const [row] = await prisma.$queryRaw<{ due: boolean }[]>(dueJobExists(types));
      return row?.due ?? false;
    },

    /** Renews the lease and records progress (an event when it changed). Tells the holder whether to stop. */
    async heartbeat(jobId: string, holder: JobHolder, leaseMs: number, progress: Progress = {}): Promise<Beat> {
      const changed = Object.values(progress).some((v) => v !== undefined);
      const [row] = changed
        ? await changeWithEvents<JobState & EventColumns>(
            prisma,
            updateHeldJob(jobId, holder, leaseMs, progress, 'jobs.job.progress'),
            1,
          )
        : await prisma.$queryRaw<JobState[]>(updateHeldJob(jobId, holder, leaseMs, progress));
      return row
        ? { held: true, canceled: false, job: withoutEvent<JobState>(row as JobState & EventColumns) }
        : lost(prisma, jobId);
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
      const [job] = await tx.$queryRaw<JobState[]>(updateHeldJob(jobId, holder, leaseMs, progress));
      return job ? { held: true, event: jobEvent(job, 'jobs.job.progress') } : lost(tx, jobId);
    },

    /**
     * The same as part of the caller's own statement, which writes the work the progress counts
     * (on the driver, say): the job's row with its jobs.job.progress event (see
     * appendedEventsWithChange), nothing once the holder lost the job or while `onlyIf` (a
     * condition of that statement) is false.
     */
    progressUpdate(jobId: string, holder: JobHolder, leaseMs: number, progress: Progress, onlyIf: Prisma.Sql) {
      return updateHeldJob(jobId, holder, leaseMs, progress, 'jobs.job.progress', onlyIf);
    },

    /** What a holder whose statement no longer found its job held is told: whether it was canceled. */
    lost: (jobId: string) => lost(prisma, jobId),

    async complete(jobId: string, holder: JobHolder, result: Prisma.InputJsonValue): Promise<JobState | null> {
      const [job] = await this.completeMany(holder, [{ id: jobId, result }]);
      return job ?? null;
    },

    /**
     * Ends jobs the holder still holds as succeeded, each with its jobs.job.succeeded event, in one
     * statement: the jobs as they ended, in the order given; null for one the holder lost.
     */
    async completeMany(holder: JobHolder, completions: Completion[]): Promise<(JobState | null)[]> {
      const rows = await changeWithEvents<JobState & EventColumns>(
        prisma,
        completeHeldJobs(holder, completions),
        completions.length,
      );
      const ended = new Map(rows.map((row) => [row.id, withoutEvent<JobState>(row)]));
      return completions.map((completion) => ended.get(completion.id) ?? null);
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
