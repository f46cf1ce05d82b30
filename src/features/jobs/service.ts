import { z } from 'zod';
import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import type { AuthContext } from '../../auth/context.js';
import type { JobConfig } from '../../config.js';
import { ConflictError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { groupCommitByKey } from '../../core/passes.js';
import { ownedOrNotFound } from '../../core/owned.js';
import { JsonObject, parseInput } from '../../core/validation.js';
import { insertRows } from '../../db/insert-rows.js';
import type { Query } from '../../db/database.js';
import { batchWithEvents, recordEvent } from '../events/service.js';
import { jobHolderOps } from './holder.js';
import { asWriter, JOB, JOB_STATUSES, jobEvent, WITHOUT_INPUT, type JobState } from './job.js';
import { JOB_COLUMNS } from './sql.js';
import { jobSweeps } from './sweeps.js';

export const RESOURCE_TYPE = z
  .string()
  .trim()
  .regex(/^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)+$/, 'must be dotted lower-case words such as "documents.ocr"')
  .max(100);

/** A job type for runners: any but a built-in one, which `refusal` says where to take instead. */
export function runnerJobType(builtInTypes: readonly string[], refusal: string) {
  return RESOURCE_TYPE.refine((type) => !builtInTypes.includes(type), refusal);
}

/** POST /jobs's body: work for the tenant's runners; built-in work has endpoints of its own. */
export function createJobInput(builtInTypes: readonly string[]) {
  return z.strictObject({
    resourceType: runnerJobType(builtInTypes, 'is a built-in job type; use its own endpoint'),
    input: JsonObject.default({}),
    maxAttempts: z.number().int().min(1).max(20).optional(),
  });
}

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

/** A job about to be queued: what it does, on what, and (when it knows) how many steps it takes. */
export type NewJob = {
  resourceType: string;
  input: Prisma.InputJsonValue;
  maxAttempts?: number;
  progress?: { total: number; message?: string };
};

type Page = { limit: number; afterId?: string; status?: string; resourceType?: string };

/** A queued job's row: 0 of its total steps done when it knows them. */
function queuedJob(auth: AuthContext, job: NewJob): JobState {
  const now = new Date();
  return {
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
}

/**
 * Jobs: queued by clients (and by the features' own built-in work), run by a holder (a gateway
 * worker or a runner). `builtInTypes` are the types the gateway runs itself; `builtInHandled`
 * says whether a worker runs them for this database. `query` runs the queueing statement on the
 * driver: Prisma would re-serialize its JSON parameters, an import's input among them (megabytes).
 */
export function jobService(
  prisma: PrismaClient,
  query: Query,
  builtInTypes: readonly string[],
  config: Pick<JobConfig, 'builtInHandled' | 'noopType'>,
) {
  const workerTypes = config.noopType ? [...builtInTypes, config.noopType] : builtInTypes;
  const handledBuiltIns = config.builtInHandled ? workerTypes : [];
  const CreateJobInput = createJobInput(builtInTypes);
  const holders = jobHolderOps(prisma);
  const findOwned = (db: Prisma.TransactionClient, auth: AuthContext, id: string): Promise<JobState> =>
    ownedOrNotFound(JOB, auth, id, (where) => db.job.findFirst({ where, ...WITHOUT_INPUT }));

  /**
   * Jobs of one tenant queued while its previous batch is being written go into the next batch:
   * one statement (one lock of the tenant's counter row, one commit) for many, each job with its
   * jobs.job.queued event.
   */
  const enqueues = groupCommitByKey<{ state: JobState; input: Prisma.InputJsonValue }>(async (tenantId, batch) => {
    const insert = insertRows(
      'Job',
      JOB_COLUMNS,
      batch.map(({ state, input }) => ({ ...state, input })),
      ['id'],
    );
    const events = batch.map(({ state }) => ({
      writer: { correlationId: state.correlationId },
      event: jobEvent(state, 'jobs.job.queued'),
    }));
    await query(batchWithEvents(tenantId, insert, events));
  });

  /** Queues a job and writes its jobs.job.queued event; a trigger wakes the workers. */
  async function enqueue(auth: AuthContext, job: NewJob): Promise<JobState> {
    const state = queuedJob(auth, job);
    await enqueues.add(auth.tenantId, { state, input: job.input });
    return state;
  }

  return {
    builtInTypes,
    enqueue,

    /** POST /jobs: work for the tenant's runners. */
    create(auth: AuthContext, input: unknown): Promise<JobState> {
      const data = parseInput(CreateJobInput, input);
      return enqueue(auth, {
        resourceType: data.resourceType,
        input: data.input as Prisma.InputJsonValue,
        maxAttempts: data.maxAttempts,
      });
    },

    get: (auth: AuthContext, id: string) => findOwned(prisma, auth, id),

    /** A job's input, read only when asked for: an import's is megabytes of JSON. */
    async input(auth: AuthContext, id: string): Promise<Prisma.JsonValue> {
      const job = await ownedOrNotFound(JOB, auth, id, (where) =>
        prisma.job.findFirst({ where, select: { input: true } }),
      );
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

    /** The job types someone runs for this tenant: its active runners' registrations, and the built-in types when a worker runs them. */
    async handledTypes(tenantId: string): Promise<Set<string>> {
      const runners = await prisma.runner.findMany({
        where: { tenantId, status: 'active' },
        select: { resourceTypes: true },
      });
      return new Set([...handledBuiltIns, ...runners.flatMap((runner) => runner.resourceTypes)]);
    },

    ...holders,
    ...jobSweeps(prisma, holders, handledBuiltIns),
  };
}

export type JobService = ReturnType<typeof jobService>;
