import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import { DomainError } from '../domain/errors.js';

const WINDOW_SECONDS = 60;

class RateLimitedError extends DomainError {
  constructor(retryAfterSeconds: number) {
    super(429, 'rate_limited', 'Too many requests', `This application's rate limit is used up; retry in ${retryAfterSeconds} s.`);
  }
}

/**
 * Requests per application and minute, counted in Redis when REDIS_URL is set (so all gateway
 * processes share one budget) and in memory otherwise. If Redis fails, each process falls back
 * to its own in-memory count rather than refusing or failing requests.
 */
export function createRateLimiter(options: { perMinute: number; redisUrl?: string }) {
  const limits = { points: options.perMinute, duration: WINDOW_SECONDS, keyPrefix: 'nilo:ratelimit' };
  const memory = new RateLimiterMemory(limits);
  const redis = options.redisUrl ? new Redis(options.redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false }) : undefined;
  redis?.on('error', () => {}); // reconnects by itself; the in-memory insurance limiter covers the gap
  const limiter: RateLimiterAbstract = redis
    ? new RateLimiterRedis({ ...limits, storeClient: redis, insuranceLimiter: memory })
    : memory;
  return { limiter, perMinute: options.perMinute, close: async () => void (await redis?.quit().catch(() => {})) };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;

/**
 * Counts every authenticated request before its body is read, and answers with the IETF
 * httpapi draft headers: `RateLimit-Policy: "default";q=600;w=60`, `RateLimit: "default";r=599;t=60`.
 */
export function rateLimit(app: FastifyInstance, { limiter, perMinute }: RateLimiter): void {
  app.addHook('preParsing', async (request, reply) => {
    if (!request.auth) return;
    reply.header('ratelimit-policy', `"default";q=${perMinute};w=${WINDOW_SECONDS}`);
    try {
      const state = await limiter.consume(request.auth.applicationId);
      reply.header('ratelimit', `"default";r=${state.remainingPoints};t=${secondsUntil(state)}`);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const retryAfter = secondsUntil(rejection);
      reply.header('ratelimit', `"default";r=0;t=${retryAfter}`).header('retry-after', String(retryAfter));
      throw new RateLimitedError(retryAfter);
    }
  });
}

function secondsUntil(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}
