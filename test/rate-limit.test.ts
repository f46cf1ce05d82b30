import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRateLimiter, type RateLimiter } from '../src/http/rate-limit.js';
import { createTenant, http, useGateway } from './support/gateway.js';
import { expectGraphQLRequestError, expectProblem } from './support/problem.js';
import { PrivateRedis } from './support/services.js';
import { waitUntil } from './support/wait.js';
import { connectWs, subscribeLive } from './support/subscriptions.js';

// Limits are per application and minute; a small budget makes the refusal reachable.
const gw = useGateway({ RATE_LIMIT_PER_MINUTE: '5' });

describe('rate limits', () => {
  test('every answer carries the IETF draft headers; the 6th request in a minute → 429 with Retry-After', async () => {
    const tenant = await createTenant(gw.app);
    for (let used = 1; used <= 5; used++) {
      const res = await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"default";q=5;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${5 - used};t=([1-9]|[1-5][0-9]|60)$`));
    }
    const refused = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: tenant.apiKey,
      body: { firstName: 'Late' },
    });
    expectProblem(refused, 429, 'rate_limited', { title: 'Too many requests' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toBe(`"default";r=0;t=${retryAfter}`);
    // Refused before anything ran: no contact was written.
    expect(await gw.app.services.prisma.contact.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
    // GraphQL shares the budget and answers in its own error shape.
    const gql = await http(gw.url, 'POST', '/graphql', {
      key: tenant.apiKey,
      body: { query: '{ viewer { application { id } } }' },
    });
    expectGraphQLRequestError(gql, 429, 'rate_limited');
  });

  test('each application has its own budget; unauthenticated requests are not counted against anyone', async () => {
    const busy = await createTenant(gw.app);
    const other = await createTenant(gw.app);
    for (let i = 0; i < 5; i++) await http(gw.url, 'GET', '/api/v1/hello', { key: busy.apiKey });
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: busy.apiKey })).status).toBe(429);

    const fresh = await http(gw.url, 'GET', '/api/v1/hello', { key: other.apiKey });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('ratelimit')).toMatch(/^"default";r=4;t=\d+$/);
    const anonymous = await http(gw.url, 'GET', '/api/v1/hello');
    expectProblem(anonymous, 401, 'unauthorized');
    expect(anonymous.headers.get('ratelimit')).toBeNull();
  });
});

// With REDIS_URL every gateway process draws on one budget per application.
if (process.env.REDIS_URL) {
  describe('rate limits across processes (Redis)', () => {
    const second = useGateway({ RATE_LIMIT_PER_MINUTE: '5' });

    test('requests to two gateways count against one budget', async () => {
      const tenant = await createTenant(gw.app);
      for (let i = 0; i < 3; i++)
        expect((await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey })).status).toBe(200);
      for (let i = 0; i < 2; i++)
        expect((await http(second.url, 'GET', '/api/v1/hello', { key: tenant.apiKey })).status).toBe(200);
      expectProblem(await http(second.url, 'GET', '/api/v1/hello', { key: tenant.apiKey }), 429, 'rate_limited');
      expectProblem(await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey }), 429, 'rate_limited');
    });
  });
}

describe('GraphQL operations are charged their cost', () => {
  test('1 + ⌊cost / 100⌋ points: an operation costing 500 takes 6 points and is refused (429) by a budget of 5', async () => {
    const tenant = await createTenant(gw.app);
    const cheap = await http(gw.url, 'POST', '/graphql', {
      key: tenant.apiKey,
      body: { query: '{ contacts(first: 199) { edges { cursor } } }' },
    });
    expect(cheap.body.extensions.cost).toEqual({ requested: 199, charged: 2, remaining: 3 });
    expect(cheap.headers.get('ratelimit')).toMatch(/^"default";r=3;t=\d+$/);

    const costly = await http(gw.url, 'POST', '/graphql', {
      key: tenant.apiKey,
      body: { query: '{ contacts(first: 500) { edges { cursor } } }' },
    });
    expectGraphQLRequestError(costly, 429, 'rate_limited');
    expect(Number(costly.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(costly.headers.get('ratelimit')).toBe(`"default";r=0;t=${costly.headers.get('retry-after')}`);
  });

  test('a subscription is charged when it subscribes, over graphql-ws as over HTTP', async () => {
    const tenant = await createTenant(gw.app);
    const connection = connectWs(gw.url, { authorization: `Bearer ${tenant.apiKey}` });
    try {
      for (let i = 0; i < 5; i++) await subscribeLive(connection, gw.url, 'subscription { events { id } }');
      const refused = connection.subscribe('subscription { events { id } }');
      const errors = await refused.done.then(
        () => [],
        (e: unknown) => e as { extensions: Record<string, unknown> }[],
      );
      expect(errors.map((e) => e.extensions.code)).toEqual(['rate_limited']);
      expectProblem(await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey }), 429, 'rate_limited');
    } finally {
      await connection.dispose();
    }
  });
});

describe('budgets when Redis is frozen or away (a private Redis)', () => {
  const COMMAND_TIMEOUT_MS = 200;
  let redis: PrivateRedis;
  const limiters: RateLimiter[] = [];
  beforeAll(async () => {
    redis = await PrivateRedis.start();
  });
  afterAll(async () => {
    await Promise.all(limiters.map((l) => l.close()));
    await redis?.stop();
  });
  const limiter = () => {
    const created = createRateLimiter({
      perMinute: 5,
      runnerPerMinute: 5,
      authFailuresPerMinute: 5,
      redisUrl: redis.url,
      commandTimeoutMs: COMMAND_TIMEOUT_MS,
    });
    limiters.push(created);
    return created;
  };
  const timed = async <T>(work: () => Promise<T>) => {
    const started = performance.now();
    const value = await work();
    return { value, ms: performance.now() - started };
  };

  test('processes share a budget through Redis; frozen, a request waits at most about the command timeout and is counted in memory; stopped, nothing fails', async () => {
    const [one, two] = [limiter(), limiter()];
    let probes = 0;
    await waitUntil('both limiters count in Redis', async () => {
      const key = `app_probe_${probes++}`;
      await one.application.consume(key);
      return (await two.application.consume(key)).remaining === 3;
    });

    redis.freeze();
    try {
      const frozen = await timed(() => one.application.consume('app_frozen'));
      expect(frozen.value.remaining).toBe(4); // this process's own count
      expect(frozen.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1000);
      // The next ones do not wait on Redis again for a while.
      const next = await timed(() => one.application.consume('app_frozen'));
      expect(next.value.remaining).toBe(3);
      expect(next.ms).toBeLessThan(COMMAND_TIMEOUT_MS);
      for (let i = 0; i < 5; i++) await one.authFailures.record('127.0.0.9');
      expect(() => one.authFailures.refuseIfUsedUp('127.0.0.9')).toThrow(/failed authentications/);
    } finally {
      redis.thaw();
    }

    await redis.stop();
    const away = await timed(() => two.application.consume('app_away'));
    expect(away.value.remaining).toBe(4);
    expect(away.ms).toBeLessThan(COMMAND_TIMEOUT_MS + 1000);
    await two.authFailures.record('127.0.0.9');
  });
});
