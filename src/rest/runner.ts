import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { presentedApiKey } from '../auth/authenticate.js';
import type { Services } from '../domain/index.js';
import { jobResource } from '../domain/jobs.js';
import { claimedJob, CompleteInput, FailInput, HeartbeatInput, RegisterInput } from '../domain/runners.js';
import type { Runner } from '../generated/prisma/client.js';
import { decodeCursor, page, PageQuery } from './pagination.js';
import type { RateLimiter } from './rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the runner-key hook on /api/v1/runner. */
    runner?: Runner;
  }
}

const JobParams = z.object({ jobId: z.string() });
const RunnerParams = z.object({ runnerId: z.string() });

/**
 * What runners call, under /api/v1/runner, authenticated by their own nilo_rk_ key (not an API
 * key, so registered outside the API-key scope). Every answer about a job goes to its holder only.
 * Each runner has its own rate budget (RUNNER_RATE_LIMIT_PER_MINUTE, policy "runner").
 */
export const runnerRoutes =
  (services: Services, limiter: RateLimiter): FastifyPluginAsyncZod =>
  async (app) => {
    const { runners } = services;
    const tags = ['runner'];
    const security = [{ bearer: [] }];

    app.addHook('onRequest', async (request, reply) => {
      request.runner = await runners.authenticate(presentedApiKey(request.headers));
      await limiter.runner.consume(request.runner.id, 1, reply);
    });

    app.post('/register', { schema: { tags, security, summary: 'Set the job types this runner claims', body: RegisterInput } }, async (request) =>
      runners.register(request.runner!, request.body.resourceTypes),
    );

    app.post('/claim', { schema: { tags, security, summary: 'Take the oldest queued job of the registered types (204: none)' } }, async (request, reply) => {
      const job = await runners.claim(request.runner!);
      return job ? { job: claimedJob(job) } : reply.code(204).send();
    });

    app.post(
      '/jobs/:jobId/heartbeat',
      { schema: { tags, security, summary: 'Renew the lease and report progress; says whether the job was canceled', params: JobParams, body: HeartbeatInput.nullish() } },
      async (request) => runners.heartbeat(request.runner!, request.params.jobId, request.body),
    );

    app.post('/jobs/:jobId/complete', { schema: { tags, security, summary: 'Finish a held job with its result', params: JobParams, body: CompleteInput } }, async (request) =>
      jobResource(await runners.complete(request.runner!, request.params.jobId, request.body.result)),
    );

    app.post(
      '/jobs/:jobId/fail',
      { schema: { tags, security, summary: 'Fail a held job; with "retry": true it is queued again while attempts remain', params: JobParams, body: FailInput } },
      async (request) => jobResource(await runners.fail(request.runner!, request.params.jobId, request.body.error, request.body.retry)),
    );
  };

/** The tenant's runners for API-key clients (inside the /api/v1 API-key scope): fingerprints and status, never keys. */
export const runnerAdminRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['runners'];

    app.get('/runners', { schema: { tags, querystring: PageQuery } }, async (request) => {
      const { limit, cursor } = request.query;
      const rows = await services.runners.listRunners(request.auth!.tenantId, { limit: limit + 1, afterId: cursor && decodeCursor(cursor) });
      return page(rows, request.query, (runner) => runner.runnerId, (runner) => runner);
    });

    app.get('/runners/:runnerId', { schema: { tags, params: RunnerParams } }, async (request) => services.runners.getRunner(request.auth!.tenantId, request.params.runnerId));
  };
