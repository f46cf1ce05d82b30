import { describe, expect, test } from 'vitest';
import { JobStoppedError, PermanentJobError } from '../../src/features/jobs/handler.js';
import {
  afterFailure,
  attemptsRemaining,
  handlerFailure,
  noRunnerSweepIntervalMs,
  renewalIntervalMs,
  retryDelayMs,
} from '../../src/features/jobs/policy.js';

const now = new Date('2026-01-01T00:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);

describe('retries', () => {
  test('a failed attempt waits 1 s, 2 s, 4 s … doubling, capped at 5 minutes', () => {
    expect([1, 2, 3, 4, 5].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 16_000]);
    expect(retryDelayMs(9)).toBe(256_000);
    expect(retryDelayMs(10)).toBe(300_000);
    expect(retryDelayMs(50)).toBe(300_000);
  });

  test('attempts remaining count the claims made; never below zero', () => {
    expect(attemptsRemaining({ attempts: 0, maxAttempts: 3 })).toBe(3);
    expect(attemptsRemaining({ attempts: 2, maxAttempts: 3 })).toBe(1);
    expect(attemptsRemaining({ attempts: 3, maxAttempts: 3 })).toBe(0);
    expect(attemptsRemaining({ attempts: 4, maxAttempts: 3 })).toBe(0);
  });

  test('a retryable failure with attempts left queues the job again after the backoff', () => {
    expect(afterFailure({ attempts: 1, maxAttempts: 3 }, true, now)).toEqual({ status: 'queued', runAt: later(1000) });
    expect(afterFailure({ attempts: 2, maxAttempts: 3 }, true, now)).toEqual({ status: 'queued', runAt: later(2000) });
  });

  test('the last attempt, or a failure that may not be retried, fails the job for good', () => {
    expect(afterFailure({ attempts: 3, maxAttempts: 3 }, true, now)).toEqual({ status: 'failed', finishedAt: now });
    expect(afterFailure({ attempts: 1, maxAttempts: 3 }, false, now)).toEqual({ status: 'failed', finishedAt: now });
  });
});

describe('leases', () => {
  test('a lease is renewed three times per its length, never more often than every 50 ms', () => {
    expect(renewalIntervalMs(30_000)).toBe(10_000);
    expect(renewalIntervalMs(90)).toBe(50);
  });
});

describe('jobs nobody runs', () => {
  test('are looked for every tenth of the timeout, no more often than the poll, at least every minute', () => {
    expect(noRunnerSweepIntervalMs(300_000, 1000)).toBe(30_000);
    expect(noRunnerSweepIntervalMs(2000, 1000)).toBe(1000);
    expect(noRunnerSweepIntervalMs(3_600_000, 1000)).toBe(60_000);
  });

  test('are never looked for when the timeout is off', () => {
    expect(noRunnerSweepIntervalMs(0, 1000)).toBeNull();
  });
});

describe("what a built-in handler's error records", () => {
  test('a stopped job (canceled or lost) records nothing', () => {
    expect(handlerFailure(new JobStoppedError(true))).toEqual({ stopped: true });
    expect(handlerFailure(new JobStoppedError(false))).toEqual({ stopped: true });
  });

  test('a permanent error fails the job at once under its own code and message', () => {
    expect(handlerFailure(new PermanentJobError('invoice_not_found', 'Invoice inv_1 no longer exists.'))).toEqual({
      stopped: false,
      permanent: true,
      error: { code: 'invoice_not_found', message: 'Invoice inv_1 no longer exists.' },
    });
  });

  test('any other error is retried, and tells clients nothing of its internals', () => {
    const failure = handlerFailure(new Error('connection string postgres://secret@db'));
    expect(failure).toEqual({
      stopped: false,
      permanent: false,
      error: { code: 'job_failed', message: 'The job failed unexpectedly; it is retried while attempts remain.' },
    });
  });
});
