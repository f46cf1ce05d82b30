import type { FastifyReply } from 'fastify';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { createRateLimiter, type RateLimiter, RateLimitedError } from '../../src/http/rate-limit.js';

// The in-memory budgets (no REDIS_URL) on a fake clock: a one-minute window proven in milliseconds.

let limiter: RateLimiter;

beforeEach(() => {
  vi.useFakeTimers({ now: new Date('2026-01-01T00:00:00Z') });
  limiter = createRateLimiter({ perMinute: 3, runnerPerMinute: 3, authFailuresPerMinute: 2, commandTimeoutMs: 100 });
});

afterEach(async () => {
  await limiter.close();
  vi.useRealTimers();
});

/** The refusal `attempt` throws (it must throw one). */
async function refusal(attempt: () => unknown): Promise<RateLimitedError> {
  const error = await Promise.resolve()
    .then(attempt)
    .then(
      () => undefined,
      (err: unknown) => err,
    );
  expect(error).toBeInstanceOf(RateLimitedError);
  return error as RateLimitedError;
}

/** Records the headers a budget sets, as Fastify's reply.header does. */
function recordingReply() {
  const headers: Record<string, string> = {};
  const reply = {
    header(name: string, value: string) {
      headers[name] = value;
      return reply;
    },
  };
  return { headers, reply: reply as unknown as FastifyReply };
}

describe('an application budget (per minute, in memory)', () => {
  test('takes a point per request, then refuses with the seconds left in the window until it has passed', async () => {
    const app = limiter.application;
    expect(await app.consume('app_a')).toEqual({ remaining: 2, resetSeconds: 60 });
    vi.advanceTimersByTime(10_000);
    expect(await app.consume('app_a')).toEqual({ remaining: 1, resetSeconds: 50 });
    expect(await app.consume('app_a')).toEqual({ remaining: 0, resetSeconds: 50 });

    const refused = await refusal(() => app.consume('app_a'));
    expect(refused.retryAfterSeconds).toBe(50);
    expect(refused.status).toBe(429);
    expect(refused.message).toBe("This application's rate limit is used up; retry in 50 s.");

    vi.advanceTimersByTime(49_999); // 1 ms before the window ends: still refused, Retry-After rounds up to 1
    expect((await refusal(() => app.consume('app_a'))).retryAfterSeconds).toBe(1);

    vi.advanceTimersByTime(1); // the window has passed: a fresh budget, refusals not carried over
    expect(await app.consume('app_a')).toEqual({ remaining: 2, resetSeconds: 60 });
  });

  test('the window starts at the first point, not at the refusal', async () => {
    const app = limiter.application;
    await app.consume('app_a', 3);
    vi.advanceTimersByTime(45_000);
    expect((await refusal(() => app.consume('app_a'))).retryAfterSeconds).toBe(15);
    vi.advanceTimersByTime(15_000);
    expect(await app.consume('app_a')).toEqual({ remaining: 2, resetSeconds: 60 });
  });

  test('each key has its own budget and window; points beyond one request are taken at once', async () => {
    const app = limiter.application;
    expect(await app.consume('app_a', 3)).toEqual({ remaining: 0, resetSeconds: 60 });
    vi.advanceTimersByTime(30_000);
    expect(await app.consume('app_b')).toEqual({ remaining: 2, resetSeconds: 60 });
    await refusal(() => app.consume('app_a'));
    expect(await limiter.runner.consume('app_a')).toEqual({ remaining: 2, resetSeconds: 60 });
    await refusal(() => app.consume('app_b', 3));
  });

  test('answers and refusals carry the RateLimit-Policy, RateLimit and Retry-After headers', async () => {
    const app = limiter.application;
    const granted = recordingReply();
    await app.consume('app_a', 1, granted.reply);
    expect(granted.headers).toEqual({ 'ratelimit-policy': '"default";q=3;w=60', ratelimit: '"default";r=2;t=60' });

    await app.consume('app_a', 2);
    vi.advanceTimersByTime(20_000);
    const refused = recordingReply();
    await refusal(() => app.consume('app_a', 1, refused.reply));
    expect(refused.headers).toEqual({
      'ratelimit-policy': '"default";q=3;w=60',
      ratelimit: '"default";r=0;t=40',
      'retry-after': '40',
    });
  });
});

describe('the failed-authentication budget of an address', () => {
  test('refuses once the failures used it up, for the rest of the window, without taking points', async () => {
    const failures = limiter.authFailures;
    await failures.record('10.0.0.1');
    failures.refuseIfUsedUp('10.0.0.1'); // one failure of two: still allowed
    vi.advanceTimersByTime(5_000);
    await failures.record('10.0.0.1'); // the second uses it up

    const refused = await refusal(() => failures.refuseIfUsedUp('10.0.0.1'));
    expect(refused.retryAfterSeconds).toBe(55);
    expect(refused.message).toBe('Too many failed authentications from this address; retry in 55 s.');
    failures.refuseIfUsedUp('10.0.0.2'); // another address is not concerned

    vi.advanceTimersByTime(54_001);
    expect((await refusal(() => failures.refuseIfUsedUp('10.0.0.1'))).retryAfterSeconds).toBe(1);
    vi.advanceTimersByTime(999); // the window of the first failure has passed
    failures.refuseIfUsedUp('10.0.0.1');
    // Asking took nothing: the new window has its whole budget.
    expect(await failures.consume('10.0.0.1')).toEqual({ remaining: 1, resetSeconds: 60 });
  });

  test('recording never fails, even past the budget, and does not extend the window', async () => {
    const failures = limiter.authFailures;
    await failures.record('10.0.0.1');
    await failures.record('10.0.0.1');
    vi.advanceTimersByTime(30_000);
    await expect(failures.record('10.0.0.1')).resolves.toBeUndefined();
    expect((await refusal(() => failures.refuseIfUsedUp('10.0.0.1'))).retryAfterSeconds).toBe(30);
    vi.advanceTimersByTime(30_000);
    failures.refuseIfUsedUp('10.0.0.1');
  });
});
