import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../../services.js';
import { jobReceipt, jobResource, jobWithHint, type JobState } from './job.js';
import { createJobInput, JobFilter } from './service.js';
import { JobReceipt, JobResource } from './resource.js';
import { operation, Page } from '../../http/openapi.js';
import { decodeKeysetCursor } from '../../core/paging.js';
import { page, PageQuery } from '../../http/pagination.js';

const JobParams = z.object({ jobId: z.string().describe('job_ followed by a ULID') });
const JobsQuery = PageQuery.extend(JobFilter.shape);
const tags = ['jobs'];

/** The job as jobResource builds it. */
export const Job = JobResource.meta({ id: 'Job' });

/** A job as clients read it: waitingFor "no_runner" while no runner (nor built-in worker) handles its type. */
export const JobWithHint = Job.extend({ waitingFor: z.enum(['no_runner']).nullable() }).meta({ id: 'JobWithHint' });

/** The documented answer to work that starts a job: 202, the short job form, and where to poll. */
export function accepted(reply: import('fastify').FastifyReply, job: JobState) {
  const receipt = jobReceipt(job);
  return reply.code(202).header('location', receipt.pollPath).send(receipt);
}

export const jobRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    const CreateJobInput = createJobInput(services.jobs.builtInTypes);

    app.post(
      '/jobs',
      {
        schema: {
          ...operation({
            operationId: 'createJob',
            summary: "Queue a job for the tenant's runners",
            tags,
            ok: { 202: JobReceipt },
            sideEffects: true,
            body: true,
          }),
          body: CreateJobInput,
        },
      },
      async (request, reply) => accepted(reply, await services.jobs.create(request.auth!, request.body)),
    );

    app.get(
      '/jobs',
      {
        schema: {
          ...operation({
            operationId: 'listJobs',
            summary: 'List jobs, oldest first',
            tags,
            ok: { 200: Page(JobWithHint) },
          }),
          querystring: JobsQuery,
        },
      },
      async (request) => {
        const { limit, cursor, status, resourceType } = request.query;
        const rows = await services.jobs.list(request.auth!, {
          limit: limit + 1,
          afterId: cursor && decodeKeysetCursor(cursor),
          status,
          resourceType,
        });
        const handled = await services.jobs.handledTypes(request.auth!.tenantId);
        return page(
          rows,
          request.query,
          (job) => job.id,
          (job) => jobWithHint(job, handled),
        );
      },
    );

    app.get(
      '/jobs/:jobId',
      {
        schema: {
          ...operation({
            operationId: 'getJob',
            summary: 'Get a job: status, progress, result or error',
            tags,
            ok: { 200: JobWithHint },
            errors: [404],
          }),
          params: JobParams,
        },
      },
      async (request) => {
        const [job, handled] = await Promise.all([
          services.jobs.get(request.auth!, request.params.jobId),
          services.jobs.handledTypes(request.auth!.tenantId),
        ]);
        return jobWithHint(job, handled);
      },
    );

    app.post(
      '/jobs/:jobId/cancel',
      {
        schema: {
          ...operation({
            operationId: 'cancelJob',
            summary: 'Cancel a queued or running job',
            tags,
            ok: { 200: Job },
            errors: [404],
            sideEffects: true,
          }),
          params: JobParams,
        },
      },
      async (request) => jobResource(await services.jobs.cancel(request.auth!, request.params.jobId)),
    );
  };
