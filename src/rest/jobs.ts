import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../domain/index.js';
import { CreateJobInput, JobFilter, jobReceipt, jobResource, jobWithHint, type JobState } from '../domain/jobs.js';
import { decodeCursor, page, PageQuery } from './pagination.js';

const JobParams = z.object({ jobId: z.string() });
const JobsQuery = PageQuery.extend(JobFilter.shape);
const tags = ['jobs'];

/** The documented answer to work that starts a job: 202, the short job form, and where to poll. */
export function accepted(reply: import('fastify').FastifyReply, job: JobState) {
  const receipt = jobReceipt(job);
  return reply.code(202).header('location', receipt.pollPath).send(receipt);
}

export const jobRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    app.post('/jobs', { schema: { tags, summary: 'Queue a job for the tenant\'s runners', body: CreateJobInput } }, async (request, reply) =>
      accepted(reply, await services.jobs.create(request.auth!, request.body)),
    );

    app.get('/jobs', { schema: { tags, querystring: JobsQuery } }, async (request) => {
      const { limit, cursor, status, resourceType } = request.query;
      const rows = await services.jobs.list(request.auth!, { limit: limit + 1, afterId: cursor && decodeCursor(cursor), status, resourceType });
      const handled = await services.jobs.handledTypes(request.auth!.tenantId);
      return page(rows, request.query, (job) => job.id, (job) => jobWithHint(job, handled));
    });

    app.get('/jobs/:jobId', { schema: { tags, params: JobParams } }, async (request) => {
      const [job, handled] = await Promise.all([services.jobs.get(request.auth!, request.params.jobId), services.jobs.handledTypes(request.auth!.tenantId)]);
      return jobWithHint(job, handled);
    });

    app.post('/jobs/:jobId/cancel', { schema: { tags, summary: 'Cancel a queued or running job', params: JobParams } }, async (request) =>
      jobResource(await services.jobs.cancel(request.auth!, request.params.jobId)),
    );
  };
