import { z } from 'zod';
import { Prisma, type Job, type PrismaClient } from '../../generated/prisma/client.js';
import type { AuthContext } from '../../auth/context.js';
import { ConflictError, NotFoundError } from '../../core/errors.js';
import { recordEvent, writeWithEvents, type EventType, type NewEvent } from '../events/service.js';
import { newId, parseId } from '../../core/ids.js';
import { columnList, insertRows } from '../../db/insert-rows.js';
import { JsonObject, parseInput } from '../../core/validation.js';
import type { JobConfig } from '../../config.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Job types the gateway's own workers run; any other type waits for a runner that registered it. */
export const BUILT_IN_JOB_TYPES = ['contacts.import', 'invoices.pdf'] as const;

/** The job columns this version reads and writes in raw SQL. */
const JOB_COLUMNS = Object.values(Prisma.JobScalarFieldEnum);
/** A failed attempt is retried after 1 s, 2 s, 4 s … (capped), while attempts remain. */
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 5 * 60_000;

export const RESOURCE_TYPE = z
  .string()
  .trim()
  .regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/, 'must be dotted lower-case words such as "documents.ocr"')
  .max(100);

export const CreateJobInput = z.strictObject({
  resourceType: RESOURCE_TYPE.refine(
    (type) => !(BUILT_IN_JOB_TYPES as readonly string[]).includes(type),
    'is a built-in job type; use its own endpoint',
  ),
  input: JsonObject.default({}),
  maxAttempts: z.number().int().min(1).max(20).optional(),
});

export const JobFilter = z.strictObject({
  status: z.enum(JOB_STATUSES, { error: `must be one of ${JOB_STATUSES.join(', ')}` }).optional(),
  resourceType: z.string().trim().max(100).optional(),
});

export const ProgressInput = z.strictObject({
  completed: z.number().int().min(0).optional(),
  total: z.number().int().min(0).optional(),
  message: z.string().max(500).nullable().optional(),
});
export type Progress = z.output<typeof ProgressInput>;

export const JobErrorInput = z.strictObject({
  code: z.string().trim().min(1).max(100),
  message: z.string().trim().min(1).max(2000),
});
export type JobError = z.output<typeof JobErrorInput>;

/** Why a queued job is not being run: no runner of its tenant registered its type (nor a built-in worker). */
export type WaitingFor = 'no_runner';

/** What a job that failed as no_runner tells its readers. */
const NO_RUNNER_ERROR = {
  code: 'no_runner',
  message: 'No runner registered this job type while the job waited (JOB_NO_RUNNER_TIMEOUT).',
};

export function pollPath(jobId: string): string {
  return `/api/v1/jobs/${jobId}`;
}

/** A job without its input: what state changes read back (an import's input can be megabytes). */
export type JobState = Omit<Job, 'input'>;
const WITHOUT_INPUT = { omit: { input: true } } as const;

/** A job as GET /jobs answers it: the resource, and what a queued one waits for (null: a runner will take it). */
export function jobWithHint(job: JobState, handledTypes: ReadonlySet<string>) {
  const waitingFor: WaitingFor | null =
    job.status === 'queued' && !handledTypes.has(job.resourceType) ? 'no_runner' : null;
  return { ...jobResource(job), waitingFor };
}

/** The job as REST returns it, webhooks carry it and events store it. */
export function jobResource(job: JobState) {
  return {
    jobId: job.id,
    status: job.status as JobStatus,
    resourceType: job.resourceType,
    pollPath: pollPath(job.id),
    progress: { completed: job.progressCompleted, total: job.progressTotal, message: job.progressMessage },
    result: job.result,
    error: job.error,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    applicationId: job.applicationId,
    runnerId: job.runnerId,
    createdAt: job.createdAt.toISOString(),
    updatedAt: job.updatedAt.toISOString(),
    startedAt: job.startedAt?.toISOString() ?? null,
    finishedAt: job.finishedAt?.toISOString() ?? null,
  };
}

/** What answers a request that started a job (202): the documented short form. */
export function jobReceipt(job: JobState) {
  return { jobId: job.id, status: job.status, resourceType: job.resourceType, pollPath: pollPath(job.id) };
}

/** Who holds a running job: a runner, or (runnerId null) one of the gateway's workers. */
export type JobHolder = { runnerId: string | null };

function jobEvent(job: JobState, type: EventType) {
  return {
    type,
    resourceType: 'job' as const,
    resourceId: job.id,
    data: jobResource(job) as unknown as Prisma.InputJsonObject,
  };
}

const _eventFor: Record<JobStatus, EventType> = {
  queued: 'jobs.job.queued',
  running: 'jobs.job.running',
  succeeded: 'jobs.job.succeeded',
  failed: 'jobs.job.failed',
  canceled: 'jobs.job.canceled',
};

/** Events of a job carry the correlation id of the request that created it. */
const asWriter = (job: JobState) => ({ tenantId: job.tenantId, correlationId: job.correlationId });

type Page = { limit: number; afterId?: string; status?: string; resourceType?: string };

export function jobService(prisma: PrismaClient, config: Pick<JobConfig, 'builtInHandled'> = { builtInHandled: true }) {
  const builtIns = config.builtInHandled ? [...BUILT_IN_JOB_TYPES] : [];
  /** The caller's job by id; a malformed id is a 400, another tenant's job is not found. */
  const owned = (auth: AuthContext, id: string) => ({ id: parseId('job', id, 'jobId'), tenantId: auth.tenantId });

  async function findOwned(db: Prisma.TransactionClient, auth: AuthContext, id: string): Promise<JobState> {
    const job = await db.job.findFirst({ where: owned(auth, id), ...WITHOUT_INPUT });
    if (!job) throw new NotFoundError('Job', id);
    return job;
  }

  const heldBy = (jobId: string, holder: JobHolder) => ({ id: jobId, status: 'running', runnerId: holder.runnerId });

  /** What a holder that lost its job is told: whether it was canceled (else its lease went to another). */
  async function lost(
    db: Prisma.TransactionClient,
    jobId: string,
  ): Promise<{ held: false; canceled: boolean; job: JobState | null }> {
    const current = await db.job.findUnique({ where: { id: jobId }, ...WITHOUT_INPUT });
    return { held: false, canceled: current?.status === 'canceled', job: current };
  }

  const progressed = (leaseMs: number, progress?: Progress) => ({
    leaseExpiresAt: new Date(Date.now() + leaseMs),
    progressCompleted: progress?.completed,
    progressTotal: progress?.total,
    progressMessage: progress?.message,
  });

  async function renewLease(jobId: string, holder: JobHolder, leaseExpiresAt: Date): Promise<JobState | null> {
    const [job] = await prisma.job.updateManyAndReturn({
      where: heldBy(jobId, holder),
      data: { leaseExpiresAt },
      ...WITHOUT_INPUT,
    });
    return job ?? null;
  }

  /** Changes a job the holder still holds, and writes the event, in one transaction; null if it lost the job. */
  async function transition(
    jobId: string,
    holder: JobHolder,
    data: Prisma.JobUncheckedUpdateManyInput,
    type: EventType,
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
     * Queues a job and writes its jobs.job.queued event; a trigger wakes the workers. A job that
     * knows its size (`total` steps) shows it from the start, as 0 of total.
     */
    async enqueue(
      auth: AuthContext,
      job: {
        resourceType: string;
        input: Prisma.InputJsonValue;
        maxAttempts?: number;
        progress?: { total: number; message?: string };
      },
    ): Promise<JobState> {
      const now = new Date();
      const state: JobState = {
        id: newId('job'),
        tenantId: auth.tenantId,
        applicationId: auth.applicationId,
        correlationId: auth.correlationId,
        resourceType: job.resourceType,
        status: 'queued',
        result: null,
        error: null,
        progressCompleted: job.progress ? 0 : null,
        progressTotal: job.progress?.total ?? null,
        progressMessage: job.progress?.message ?? null,
        attempts: 0,
        maxAttempts: job.maxAttempts ?? 3,
        runAt: now,
        leaseExpiresAt: null,
        runnerId: null,
        createdAt: now,
        updatedAt: now,
        startedAt: null,
        finishedAt: null,
      };
      const insert = insertRows('Job', JOB_COLUMNS, [{ ...state, input: job.input }], ['id']);
      await writeWithEvents(prisma, auth, insert, [jobEvent(state, 'jobs.job.queued')]);
      return state;
    },

    /** POST /jobs: work for the tenant's runners. */
    create(auth: AuthContext, input: unknown): Promise<JobState> {
      const data = parseInput(CreateJobInput, input);
      return this.enqueue(auth, {
        resourceType: data.resourceType,
        input: data.input as Prisma.InputJsonValue,
        maxAttempts: data.maxAttempts,
      });
    },

    get: (auth: AuthContext, id: string) => findOwned(prisma, auth, id),

    /** A job's input, read only when asked for: an import's is megabytes of JSON. */
    async input(auth: AuthContext, id: string): Promise<Prisma.JsonValue> {
      const job = await prisma.job.findFirst({ where: owned(auth, id), select: { input: true } });
      if (!job) throw new NotFoundError('Job', id);
      return job.input;
    },

    list(auth: AuthContext, page: Page) {
      const filter = parseInput(JobFilter, { status: page.status, resourceType: page.resourceType });
      return prisma.job.findMany({
        where: {
          tenantId: auth.tenantId,
          status: filter.status,
          resourceType: filter.resourceType,
          ...(page.afterId ? { id: { gt: page.afterId } } : {}),
        },
        orderBy: { id: 'asc' },
        take: page.limit,
      });
    },

    /** Queued or running jobs end as canceled at once; a runner holding one learns it at its next heartbeat. */
    async cancel(auth: AuthContext, id: string): Promise<JobState> {
      return prisma.$transaction(async (tx) => {
        const job = await findOwned(tx, auth, id);
        const { count } = await tx.job.updateMany({
          where: { id: job.id, status: { in: ['queued', 'running'] } },
          data: { status: 'canceled', finishedAt: new Date(), leaseExpiresAt: null },
        });
        const current = await tx.job.findUniqueOrThrow({ where: { id: job.id }, ...WITHOUT_INPUT });
        if (!count)
          throw new ConflictError(
            'job_finished',
            `The job has already ${current.status === 'canceled' ? 'been canceled' : current.status}.`,
          );
        await recordEvent(tx, asWriter(current), jobEvent(current, 'jobs.job.canceled'));
        return current;
      });
    },

    /**
     * Claims up to `limit` queued jobs of these types, oldest first, for a holder: running, with a
     * lease. SKIP LOCKED lets every process and runner claim at once without taking the same job.
     */
    async claim(
      types: readonly string[],
      holder: JobHolder & { tenantId?: string },
      limit: number,
      leaseMs: number,
    ): Promise<Job[]> {
      if (!types.length || limit < 1) return [];
      return prisma.$transaction(async (tx) => {
        const jobs = await tx.$queryRaw<Job[]>`
          WITH claimed AS (
            UPDATE "Job" SET "status" = 'running', "runnerId" = ${holder.runnerId}, "attempts" = "attempts" + 1,
                   "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond', "startedAt" = coalesce("startedAt", now()), "updatedAt" = now()
            WHERE "id" IN (
              SELECT "id" FROM "Job"
              WHERE "status" = 'queued' AND "runAt" <= now() AND "resourceType" = ANY(${[...types]})
                AND (${holder.tenantId ?? null}::text IS NULL OR "tenantId" = ${holder.tenantId ?? null})
              ORDER BY "runAt", "id" LIMIT ${limit}
              FOR UPDATE SKIP LOCKED)
            RETURNING ${columnList(JOB_COLUMNS)})
          SELECT * FROM claimed ORDER BY "id"`;
        for (const job of jobs) await recordEvent(tx, asWriter(job), jobEvent(job, 'jobs.job.running'));
        return jobs;
      });
    },

    /** Renews the lease and records progress (an event when it changed). Tells the holder whether to stop. */
    async heartbeat(
      jobId: string,
      holder: JobHolder,
      leaseMs: number,
      progress?: Progress,
    ): Promise<{ held: boolean; canceled: boolean; job: JobState | null }> {
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
      if (retry && job.attempts < job.maxAttempts) {
        // No NOTIFY: it is not due yet; the workers' poll picks it up after the backoff.
        return transition(
          jobId,
          holder,
          {
            status: 'queued',
            runnerId: null,
            leaseExpiresAt: null,
            runAt: new Date(Date.now() + backoff(job.attempts)),
            error,
          },
          'jobs.job.queued',
        );
      }
      return transition(
        jobId,
        holder,
        { status: 'failed', error, finishedAt: new Date(), leaseExpiresAt: null },
        'jobs.job.failed',
      );
    },

    /** The job types someone runs for this tenant: its active runners' registrations, and the built-in types when a worker runs them. */
    async handledTypes(tenantId: string): Promise<Set<string>> {
      const runners = await prisma.runner.findMany({
        where: { tenantId, status: 'active' },
        select: { resourceTypes: true },
      });
      return new Set([...builtIns, ...runners.flatMap((runner) => runner.resourceTypes)]);
    },

    /**
     * Queued jobs due for longer than `timeoutMs` whose type nobody runs for their tenant fail as
     * no_runner, with their jobs.job.failed event: a client waits for an answer, not forever.
     * A pass takes at most `limit` jobs (the oldest first); the caller's next poll takes more.
     */
    async failUnhandled(timeoutMs: number, limit = 100): Promise<number> {
      const stale = await prisma.$queryRaw<{ id: string }[]>`
        SELECT j."id" FROM "Job" j
        WHERE j."status" = 'queued' AND j."runAt" < now() - ${timeoutMs} * interval '1 millisecond'
          AND NOT (j."resourceType" = ANY(${builtIns}::text[]))
          AND NOT EXISTS (SELECT 1 FROM "Runner" r WHERE r."tenantId" = j."tenantId" AND r."status" = 'active' AND j."resourceType" = ANY(r."resourceTypes"))
        ORDER BY j."runAt" LIMIT ${limit}`;
      let failed = 0;
      for (const { id } of stale) {
        const job = await prisma.$transaction(async (tx) => {
          // Still queued: a runner may have registered and claimed it meanwhile.
          const [job] = await tx.job.updateManyAndReturn({
            where: { id, status: 'queued' },
            data: { status: 'failed', error: NO_RUNNER_ERROR, finishedAt: new Date() },
            ...WITHOUT_INPUT,
          });
          if (job) await recordEvent(tx, asWriter(job), jobEvent(job, 'jobs.job.failed'));
          return job;
        });
        if (job) failed++;
      }
      return failed;
    },

    /** Jobs whose holder stopped renewing its lease (crashed, killed, disconnected) go back to the queue, or fail when out of attempts. */
    async reclaimExpired(): Promise<number> {
      const expired = await prisma.job.findMany({
        where: { status: 'running', leaseExpiresAt: { lt: new Date() } },
        select: { id: true, runnerId: true },
      });
      let reclaimed = 0;
      for (const { id, runnerId } of expired) {
        const job = await this.fail(
          id,
          { runnerId },
          { code: 'lease_expired', message: 'The worker holding the job stopped reporting.' },
        );
        if (job) reclaimed++;
      }
      return reclaimed;
    },
  };
}

export type JobService = ReturnType<typeof jobService>;

function backoff(attempts: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);
}
