import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { presentedApiKey } from '../auth/authenticate.js';
import { DomainError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The application's budget after this request's first point (GraphQL charges its cost on top). */
    rateLimit?: BudgetState;
  }
}

const WINDOW_SECONDS = 60;
/** After Redis failed or timed out, budgets are counted in memory for this long before Redis is tried again. */
const REDIS_RETRY_AFTER_MS = 5_000;
/** Past this many used-up keys remembered (addresses of an attack), the expired ones are forgotten. */
const USED_UP_MAX_KEYS = 10_000;

export class RateLimitedError extends DomainError {
  constructor(
    readonly retryAfterSeconds: number,
    detail: string,
  ) {
    super(429, 'rate_limited', 'Too many requests', detail);
  }
}

/** Points left in a budget's window and the seconds until it starts afresh. */
export type BudgetState = { remaining: number; resetSeconds: number };

/**
 * Budgets per minute: an application's requests (GraphQL operations charge their cost on top),
 * a runner's protocol calls, and the failed authentications of a client address. Counted in Redis
 * when REDIS_URL is set (all gateway processes share them) and in memory otherwise. Redis never
 * holds a request up: while it is not connected each process counts in memory on its own, and
 * after a command failed or went unanswered for `commandTimeoutMs` (a frozen Redis), for a few
 * seconds before Redis is tried again.
 */
export function createRateLimiter(options: {
  perMinute: number;
  runnerPerMinute: number;
  authFailuresPerMinute: number;
  redisUrl?: string;
  commandTimeoutMs: number;
}) {
  const redis = options.redisUrl
    ? new Redis(options.redisUrl, {
        maxRetriesPerRequest: 1,
        enableOfflineQueue: false,
        commandTimeout: options.commandTimeoutMs,
      })
    : undefined;
  redis?.on('error', () => {}); // reconnects by itself; memory counts meanwhile
  let redisAvoidedUntil = 0;

  /** Runs on Redis when it is usable, else (or when it fails) on the process's memory. */
  async function counted(
    onRedis: (() => Promise<RateLimiterRes | null>) | undefined,
    inMemory: () => Promise<RateLimiterRes | null>,
  ) {
    if (!onRedis || redis?.status !== 'ready' || Date.now() < redisAvoidedUntil) return inMemory();
    try {
      return await onRedis();
    } catch (error) {
      if (error instanceof RateLimiterRes) throw error; // a refusal, not a failure
      redisAvoidedUntil = Date.now() + REDIS_RETRY_AFTER_MS;
      return inMemory();
    }
  }

  function budget(name: string, points: number, keyPrefix: string, refusal: (retryAfter: number) => string) {
    const limits = { points, duration: WINDOW_SECONDS, keyPrefix };
    const memory = new RateLimiterMemory(limits);
    const shared = redis ? new RateLimiterRedis({ ...limits, storeClient: redis }) : undefined;
    const policy = `"${name}";q=${points};w=${WINDOW_SECONDS}`;
    const refuse = (reply: FastifyReply | undefined, retryAfter: number) => {
      reply
        ?.header('ratelimit-policy', policy)
        .header('ratelimit', `"${name}";r=0;t=${retryAfter}`)
        .header('retry-after', String(retryAfter));
      return new RateLimitedError(retryAfter, refusal(retryAfter));
    };
    /** Takes points for `key` and sets the RateLimit headers; throws RateLimitedError (429, Retry-After) once used up. */
    async function consume(key: string, pointsTaken = 1, reply?: FastifyReply): Promise<BudgetState> {
      try {
        const state = (await counted(shared && (() => shared.consume(key, pointsTaken)), () =>
          memory.consume(key, pointsTaken),
        ))!;
        const left = { remaining: state.remainingPoints, resetSeconds: secondsUntil(state) };
        reply
          ?.header('ratelimit-policy', policy)
          .header('ratelimit', `"${name}";r=${left.remaining};t=${left.resetSeconds}`);
        return left;
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        throw refuse(reply, secondsUntil(rejection));
      }
    }
    /**
     * Keys this process saw use the whole budget, until when: asking costs no Redis round trip.
     * With several processes, each learns it from a consume of its own, one point at most later.
     */
    const usedUp = new Map<string, number>();
    return {
      points,
      consume,
      /** Throws RateLimitedError while `key` is known to have used the whole budget, without taking anything. */
      refuseIfUsedUp(key: string, reply?: FastifyReply): void {
        const until = usedUp.get(key);
        if (until === undefined) return;
        if (until > Date.now()) throw refuse(reply, Math.max(1, Math.ceil((until - Date.now()) / 1000)));
        usedUp.delete(key);
      },
      /** Takes a point for `key` and never fails: refuseIfUsedUp tells once the budget is used up. */
      async record(key: string): Promise<void> {
        let until: number;
        try {
          const state = await consume(key);
          if (state.remaining > 0) return;
          until = Date.now() + state.resetSeconds * 1000;
        } catch (error) {
          if (!(error instanceof RateLimitedError)) return;
          until = Date.now() + error.retryAfterSeconds * 1000;
        }
        if (usedUp.size >= USED_UP_MAX_KEYS)
          for (const [known, at] of usedUp) if (at <= Date.now()) usedUp.delete(known);
        usedUp.set(key, until);
      },
    };
  }

  return {
    application: budget(
      'default',
      options.perMinute,
      'nilo:ratelimit',
      (s) => `This application's rate limit is used up; retry in ${s} s.`,
    ),
    runner: budget(
      'runner',
      options.runnerPerMinute,
      'nilo:ratelimit:runner',
      (s) => `This runner's rate limit is used up; retry in ${s} s.`,
    ),
    authFailures: budget(
      'auth-failures',
      options.authFailuresPerMinute,
      'nilo:ratelimit:auth-failures',
      (s) => `Too many failed authentications from this address; retry in ${s} s.`,
    ),
    close: async () => void (await redis?.quit().catch(() => {})),
  };
}

export type RateLimiter = ReturnType<typeof createRateLimiter>;
export type Budget = RateLimiter['application'];

/**
 * Counts every authenticated request against its application's budget before the body is read,
 * with the IETF httpapi draft headers (`RateLimit-Policy: "default";q=600;w=60`,
 * `RateLimit: "default";r=599;t=60`). Failed authentications (401, or a key /graphql refused) are
 * counted per client address; an address over its budget is refused (429) on every request that
 * presents a key, before the key is looked up.
 */
export function rateLimit(app: FastifyInstance, limiter: RateLimiter): void {
  app.addHook('onRequest', async (request, reply) => {
    if (presentedApiKey(request.headers) !== undefined) limiter.authFailures.refuseIfUsedUp(request.ip, reply);
  });
  // Counted before the answer leaves, so a client's next attempt already sees it.
  app.addHook('onSend', async (request, reply, payload) => {
    if (reply.statusCode === 401 || request.authError) await limiter.authFailures.record(request.ip);
    return payload;
  });
  app.addHook('preParsing', (request, reply) => chargeRequest(limiter, request, reply));
}

/**
 * Charges the request as soon as its key is known (an onRequest hook after authentication), so
 * answers refused by later onRequest hooks (403 feature_not_enabled) carry the RateLimit headers too.
 */
export function chargeOnAuthentication(app: FastifyInstance, limiter: RateLimiter): void {
  app.addHook('onRequest', (request, reply) => chargeRequest(limiter, request, reply));
}

/** Takes an authenticated request's point once, whichever hook comes first. */
async function chargeRequest(limiter: RateLimiter, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  if (request.auth && !request.rateLimit)
    request.rateLimit = await limiter.application.consume(request.auth.applicationId, 1, reply);
}

function secondsUntil(state: RateLimiterRes): number {
  return Math.max(1, Math.ceil(state.msBeforeNext / 1000));
}
