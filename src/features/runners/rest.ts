import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { presentedApiKey } from '../../auth/authenticate.js';
import type { Services } from '../../services.js';
import { jobResource } from '../jobs/job.js';
import { claimedJob, CompleteInput, FailInput, HeartbeatInput, registerInput } from './service.js';
import type { Runner } from '../../generated/prisma/client.js';
import { Job } from '../jobs/rest.js';
import { JsonObject, operation, Page, Timestamp } from '../../http/openapi.js';
import { decodeKeysetCursor } from '../../core/paging.js';
import { page, PageQuery } from '../../http/pagination.js';
import type { RateLimiter } from '../../http/rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the runner-key hook on /api/v1/runner. */
    runner?: Runner;
  }
}

const JobParams = z.object({ jobId: z.string().describe('job_ followed by a ULID') });
const RunnerParams = z.object({ runnerId: z.string().describe('run_ followed by a ULID') });

/** A runner as runnerResource builds it: fingerprint and status, never its key. */
const RunnerResource = z
  .object({
    runnerId: z.string(),
    runnerName: z.string(),
    fingerprint: z.string(),
    status: z.enum(['active', 'revoked']),
    resourceTypes: z.array(z.string()),
    lastSeenAt: Timestamp.nullable(),
    createdAt: Timestamp,
  })
  .meta({ id: 'Runner' });

/** A job as its runner receives it: the job, its input and the lease. */
const ClaimedJob = Job.extend({ input: JsonObject, leaseExpiresAt: Timestamp.nullable() }).meta({ id: 'ClaimedJob' });
const Heartbeat = z.object({
  canceled: z.boolean().describe('Stop working: the job was canceled'),
  leaseExpiresAt: Timestamp.nullable(),
});

/**
 * What runners call, under /api/v1/runner, authenticated by their own nilo_rk_ key (not an API
 * key, so registered outside the API-key scope). Every answer about a job goes to its holder only.
 * Each runner has its own rate budget (RUNNER_RATE_LIMIT_PER_MINUTE, policy "runner").
 */
export const runnerRoutes =
  (services: Services, limiter: RateLimiter): FastifyPluginAsyncZod =>
  async (app) => {
    const { runners } = services;
    const RegisterInput = registerInput(services.jobs.builtInTypes);
    const tags = ['runner'];
    const caller = 'runner';

    app.addHook('onRequest', async (request, reply) => {
      request.runner = await runners.authenticate(presentedApiKey(request.headers));
      await limiter.runner.consume(request.runner.id, 1, reply);
    });

    app.post(
      '/register',
      {
        schema: {
          ...operation({
            operationId: 'registerRunner',
            summary: 'Set the job types this runner claims',
            tags,
            caller,
            ok: { 200: RunnerResource },
            body: true,
          }),
          body: RegisterInput,
        },
      },
      async (request) => runners.register(request.runner!, request.body.resourceTypes),
    );

    app.post(
      '/claim',
      {
        schema: operation({
          operationId: 'claimJob',
          summary: 'Take the oldest queued job of the registered types (204: none)',
          tags,
          caller,
          ok: { 200: z.object({ job: ClaimedJob }), 204: null },
          errors: [409],
        }),
      },
      async (request, reply) => {
        const job = await runners.claim(request.runner!);
        return job ? { job: claimedJob(job) } : reply.code(204).send();
      },
    );

    app.post(
      '/jobs/:jobId/heartbeat',
      {
        schema: {
          ...operation({
            operationId: 'heartbeatJob',
            summary: 'Renew the lease and report progress; says whether the job was canceled',
            tags,
            caller,
            ok: { 200: Heartbeat },
            errors: [404, 409],
            body: true,
          }),
          params: JobParams,
          body: HeartbeatInput.nullish(),
        },
      },
      async (request) => runners.heartbeat(request.runner!, request.params.jobId, request.body),
    );

    app.post(
      '/jobs/:jobId/complete',
      {
        schema: {
          ...operation({
            operationId: 'completeJob',
            summary: 'Finish a held job with its result',
            tags,
            caller,
            ok: { 200: Job },
            errors: [404, 409],
            body: true,
          }),
          params: JobParams,
          body: CompleteInput,
        },
      },
      async (request) =>
        jobResource(await runners.complete(request.runner!, request.params.jobId, request.body.result)),
    );

    app.post(
      '/jobs/:jobId/fail',
      {
        schema: {
          ...operation({
            operationId: 'failJob',
            summary: 'Fail a held job; with "retry": true it is queued again while attempts remain',
            tags,
            caller,
            ok: { 200: Job },
            errors: [404, 409],
            body: true,
          }),
          params: JobParams,
          body: FailInput,
        },
      },
      async (request) =>
        jobResource(await runners.fail(request.runner!, request.params.jobId, request.body.error, request.body.retry)),
    );
  };

/** The tenant's runners for API-key clients (inside the /api/v1 API-key scope): fingerprints and status, never keys. */
export const runnerAdminRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['runners'];

    app.get(
      '/runners',
      {
        schema: {
          ...operation({
            operationId: 'listRunners',
            summary: "List the tenant's runners",
            tags,
            ok: { 200: Page(RunnerResource) },
          }),
          querystring: PageQuery,
        },
      },
      async (request) => {
        const { limit, cursor } = request.query;
        const rows = await services.runners.listRunners(request.auth!.tenantId, {
          limit: limit + 1,
          afterId: cursor && decodeKeysetCursor(cursor),
        });
        return page(
          rows,
          request.query,
          (runner) => runner.runnerId,
          (runner) => runner,
        );
      },
    );

    app.get(
      '/runners/:runnerId',
      {
        schema: {
          ...operation({
            operationId: 'getRunner',
            summary: 'Get a runner',
            tags,
            ok: { 200: RunnerResource },
            errors: [404],
          }),
          params: RunnerParams,
        },
      },
      async (request) => services.runners.getRunner(request.auth!.tenantId, request.params.runnerId),
    );
  };
