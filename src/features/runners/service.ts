import { z } from 'zod';
import type { Job, Prisma, PrismaClient, Runner } from '../../generated/prisma/client.js';
import { generateKey, hashKey, isWellFormedKey, RUNNER_KEY_PREFIX } from '../../auth/keys.js';
import { ConflictError, NotFoundError, UnauthorizedError } from '../../core/errors.js';
import { newId, parseId } from '../../core/ids.js';
import { ownedOrNotFound, type OwnedResource } from '../../core/owned.js';
import { JsonObject, parseInput } from '../../core/validation.js';
import { JOB, jobResource, type JobState } from '../jobs/job.js';
import { JobErrorInput, ProgressInput, runnerJobType, type JobService } from '../jobs/service.js';

// Customer-hosted runners: created by the operator with a key of their own, they claim the
// tenant's jobs of the types they registered, renew their lease with heartbeats and report the outcome.

/** lastSeenAt tells operators a runner is alive; writing it at most this often keeps polling cheap. */
const LAST_SEEN_RESOLUTION_MS = 10_000;

const Name = z.string().trim().min(1, 'is required').max(200);

/** Runners are tenant-owned; their REST paths call the id runnerId. */
const RUNNER: OwnedResource = { name: 'Runner', prefix: 'run', path: 'runnerId' };

/** POST /runner/register's body: the job types a runner claims, never a built-in one. */
export function registerInput(builtInTypes: readonly string[]) {
  const type = runnerJobType(builtInTypes, 'is a built-in job type; the gateway runs it itself');
  return z.strictObject({
    resourceTypes: z
      .array(type)
      .min(1, 'must name at least one job type')
      .max(50)
      .transform((types) => [...new Set(types)].sort()),
  });
}

export const HeartbeatInput = z.strictObject({ progress: ProgressInput.optional() });

/** A job's result, like its input: a JSON object. */
export const JobResult = JsonObject;
export const CompleteInput = z.strictObject({ result: JobResult });

export const FailInput = z.strictObject({
  error: JobErrorInput,
  /** Whether the job goes back to the queue (after a backoff, while attempts remain); default: it fails for good. */
  retry: z.boolean().default(false),
});

export type NewRunner = {
  runnerId: string;
  runnerName: string;
  tenantId: string;
  runnerKey: string;
  fingerprint: string;
};

/** A runner as listings show it: never its key or hash. */
export function runnerResource(runner: Runner) {
  return {
    runnerId: runner.id,
    runnerName: runner.name,
    fingerprint: runner.fingerprint,
    status: runner.status,
    resourceTypes: runner.resourceTypes,
    lastSeenAt: runner.lastSeenAt?.toISOString() ?? null,
    createdAt: runner.createdAt.toISOString(),
  };
}

/** A job as its runner receives it: what clients see, plus the input to work on and the lease. */
export function claimedJob(job: Job) {
  return { ...jobResource(job), input: job.input, leaseExpiresAt: job.leaseExpiresAt?.toISOString() ?? null };
}

type Page = { limit?: number; afterId?: string };

export function runnerService(prisma: PrismaClient, jobs: JobService, leaseMs: number) {
  const RegisterInput = registerInput(jobs.builtInTypes);

  async function requireTenant(tenantId: string) {
    const tenant = await prisma.tenant.findUnique({ where: { id: parseId('ten', tenantId, 'tenant') } });
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
  }

  /** Why a runner's write to a job found nothing to change: another tenant's (or no) job is 404, else 409. */
  async function notHeld(runner: Runner, jobId: string): Promise<never> {
    const job = await ownedOrNotFound(JOB, runner, jobId, (where) => prisma.job.findFirst({ where }));
    throw new ConflictError('job_not_held', notHeldReason(job));
  }

  return {
    async createRunner(tenantId: string, name: string): Promise<NewRunner> {
      const valid = parseInput(z.object({ name: Name }), { name });
      await requireTenant(tenantId);
      const key = generateKey(RUNNER_KEY_PREFIX);
      const runner = await prisma.runner.create({
        data: { id: newId('run'), tenantId, name: valid.name, keyHash: key.hash, fingerprint: key.fingerprint },
      });
      return {
        runnerId: runner.id,
        runnerName: runner.name,
        tenantId,
        runnerKey: key.key,
        fingerprint: key.fingerprint,
      };
    },

    async listRunners(tenantId: string, page: Page = {}) {
      await requireTenant(tenantId);
      const runners = await prisma.runner.findMany({
        where: { tenantId, ...(page.afterId ? { id: { gt: page.afterId } } : {}) },
        orderBy: { id: 'asc' },
        take: page.limit,
      });
      return runners.map(runnerResource);
    },

    async getRunner(tenantId: string, runnerId: string) {
      const runner = await ownedOrNotFound(RUNNER, { tenantId }, runnerId, (where) =>
        prisma.runner.findFirst({ where }),
      );
      return runnerResource(runner);
    },

    /** Its key stops working at once (runner keys are not cached); a job it held is reclaimed when the lease lapses. */
    async revokeRunner(runnerId: string) {
      const { count } = await prisma.runner.updateMany({
        where: { id: parseId('run', runnerId, 'runner') },
        data: { status: 'revoked' },
      });
      if (!count) throw new NotFoundError('Runner', runnerId);
      return { runnerId, status: 'revoked' as const };
    },

    /** The active runner a key belongs to; 401 for anything else. */
    async authenticate(runnerKey: string | undefined): Promise<Runner> {
      if (!runnerKey) throw new UnauthorizedError('A runner key is required (Authorization: Bearer nilo_rk_...).');
      if (!isWellFormedKey(RUNNER_KEY_PREFIX, runnerKey)) throw new UnauthorizedError('The runner key is malformed.');
      const runner = await prisma.runner.findUnique({ where: { keyHash: hashKey(runnerKey) } });
      if (runner?.status !== 'active') throw new UnauthorizedError('The runner key is unknown or revoked.');
      const now = new Date();
      if (!runner.lastSeenAt || now.getTime() - runner.lastSeenAt.getTime() > LAST_SEEN_RESOLUTION_MS) {
        await prisma.runner.update({ where: { id: runner.id }, data: { lastSeenAt: now } });
        runner.lastSeenAt = now;
      }
      return runner;
    },

    /** Replaces the job types the runner claims. */
    async register(runner: Runner, types: unknown) {
      const { resourceTypes } = parseInput(RegisterInput, { resourceTypes: types });
      return runnerResource(await prisma.runner.update({ where: { id: runner.id }, data: { resourceTypes } }));
    },

    /** The tenant's oldest due job of the runner's types, now running under its lease; null when there is none. */
    async claim(runner: Runner): Promise<Job | null> {
      if (!runner.resourceTypes.length) {
        throw new ConflictError(
          'runner_not_registered',
          'Register the job types this runner handles first (POST /api/v1/runner/register).',
        );
      }
      const [job] = await jobs.claim(
        runner.resourceTypes,
        { runnerId: runner.id, tenantId: runner.tenantId },
        1,
        leaseMs,
      );
      return job ?? null;
    },

    /** Renews the lease and records progress; a canceled job is reported rather than refused, so the runner stops. */
    async heartbeat(
      runner: Runner,
      jobId: string,
      input: unknown,
    ): Promise<{ canceled: boolean; leaseExpiresAt: string | null }> {
      const id = parseId('job', jobId, 'jobId');
      // No body (null or undefined) is a plain lease renewal.
      const { progress } = parseInput(HeartbeatInput, input ?? {});
      const beat = await jobs.heartbeat(id, { runnerId: runner.id }, leaseMs, progress);
      if (beat.held) return { canceled: false, leaseExpiresAt: beat.job!.leaseExpiresAt!.toISOString() };
      if (beat.canceled && beat.job?.runnerId === runner.id) return { canceled: true, leaseExpiresAt: null };
      return notHeld(runner, id);
    },

    async complete(runner: Runner, jobId: string, result: unknown): Promise<JobState> {
      const id = parseId('job', jobId, 'jobId');
      const valid = parseInput(JobResult, result) as Prisma.InputJsonObject;
      return (await jobs.complete(id, { runnerId: runner.id }, valid)) ?? notHeld(runner, id);
    },

    async fail(runner: Runner, jobId: string, error: unknown, retry = false): Promise<JobState> {
      const id = parseId('job', jobId, 'jobId');
      const valid = parseInput(JobErrorInput, error);
      return (await jobs.fail(id, { runnerId: runner.id }, valid, retry)) ?? notHeld(runner, id);
    },
  };
}

export type RunnerService = ReturnType<typeof runnerService>;

function notHeldReason(job: Job): string {
  if (job.status === 'canceled') return 'The job was canceled; stop working on it.';
  if (job.status === 'succeeded' || job.status === 'failed') return `The job has already ${job.status}.`;
  return 'This runner does not hold the job: it never claimed it, or its lease lapsed and the job went back to the queue.';
}
