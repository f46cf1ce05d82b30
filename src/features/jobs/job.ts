// A job as the feature reads it, presents it to clients and announces it in events.

import type { Job, Prisma } from '../../generated/prisma/client.js';
import type { OwnedResource } from '../../core/owned.js';
import type { NewEvent } from '../events/service.js';

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Jobs are tenant-owned; their REST paths and GraphQL arguments call the id jobId. */
export const JOB: OwnedResource = { name: 'Job', prefix: 'job', path: 'jobId' };

/** A job without its input: what state changes read back (an import's input can be megabytes). */
export type JobState = Omit<Job, 'input'>;
export const WITHOUT_INPUT = { omit: { input: true } } as const;

/** Who holds a running job: a runner, or (runnerId null) one of the gateway's workers. */
export type JobHolder = { runnerId: string | null };

/** Why a queued job is not being run: no runner of its tenant registered its type (nor a built-in worker). */
export type WaitingFor = 'no_runner';

export function pollPath(jobId: string): string {
  return `/api/v1/jobs/${jobId}`;
}

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

/** The events a job's changes write: jobs.job.queued, .running, .progress and so on. */
export type JobEventType = Extract<NewEvent['type'], `jobs.job.${string}`>;

/** The event of a change to the job: the job as it is after the change. */
export function jobEvent(job: JobState, type: JobEventType): NewEvent {
  return {
    type,
    resourceType: 'job',
    resourceId: job.id,
    data: jobResource(job) as unknown as Prisma.InputJsonObject,
  };
}

/** Events of a job carry the correlation id of the request that created it. */
export const asWriter = (job: JobState) => ({ tenantId: job.tenantId, correlationId: job.correlationId });
