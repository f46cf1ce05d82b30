// The job queue's rules, as pure functions: what a failed attempt does to its job, how long a
// lease lasts and how often it is renewed, and how often jobs nobody runs are looked for.

import { JobStoppedError, PermanentJobError } from './handler.js';

/** A failed attempt is retried after 1 s, 2 s, 4 s … up to 5 minutes. */
const BACKOFF_BASE_MS = 1000;
const BACKOFF_MAX_MS = 5 * 60_000;
/** The shortest lease renewal interval, so a tiny JOB_LEASE (tests) does not renew in a busy loop. */
const MIN_RENEWAL_MS = 50;
/** Jobs nobody runs are looked for at least this often, however long their timeout. */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/** How many times a job was tried (a claim counts one) and may be. */
export type Attempts = { attempts: number; maxAttempts: number };

/** The wait before the next attempt of a job that failed its `attempts`-th: doubling, capped. */
export function retryDelayMs(attempts: number): number {
  return Math.min(BACKOFF_BASE_MS * 2 ** Math.max(0, attempts - 1), BACKOFF_MAX_MS);
}

export function attemptsRemaining(job: Attempts): number {
  return Math.max(0, job.maxAttempts - job.attempts);
}

/** What a failed attempt makes of its job. */
export type AfterFailure = { status: 'queued'; runAt: Date } | { status: 'failed'; finishedAt: Date };

/**
 * A failed attempt queues the job again after the backoff while attempts remain and the failure
 * may be retried; otherwise the job has failed for good.
 */
export function afterFailure(job: Attempts, retry: boolean, now: Date): AfterFailure {
  if (retry && attemptsRemaining(job) > 0) {
    return { status: 'queued', runAt: new Date(now.getTime() + retryDelayMs(job.attempts)) };
  }
  return { status: 'failed', finishedAt: now };
}

/** A lease is renewed three times per its length, so one late or lost renewal does not lose the job. */
export function renewalIntervalMs(leaseMs: number): number {
  return Math.max(MIN_RENEWAL_MS, leaseMs / 3);
}

/**
 * How often queued jobs nobody runs are looked for (null: never, the timeout is off): a tenth of
 * the timeout, so they fail at most that late, but no more often than the poll and at least every
 * minute, so a large queue of jobs that do have runners is not scanned at every poll.
 */
export function noRunnerSweepIntervalMs(noRunnerTimeoutMs: number, pollMs: number): number | null {
  if (noRunnerTimeoutMs <= 0) return null;
  return Math.min(Math.max(noRunnerTimeoutMs / 10, pollMs), MAX_SWEEP_INTERVAL_MS);
}

/** What a built-in handler's thrown error records on its job; permanent ones are not retried. */
export type HandlerFailure = { stopped: true } | { stopped: false; permanent: boolean; error: JobFailure };
export type JobFailure = { code: string; message: string };

/**
 * A stopped job records nothing; a permanent error fails the job at once under its own code;
 * anything else is retried while attempts remain, with a message that tells clients no internals
 * (the error itself goes to the log).
 */
export function handlerFailure(error: unknown): HandlerFailure {
  if (error instanceof JobStoppedError) return { stopped: true };
  if (error instanceof PermanentJobError) {
    return { stopped: false, permanent: true, error: { code: error.code, message: error.message } };
  }
  const message = 'The job failed unexpectedly; it is retried while attempts remain.';
  return { stopped: false, permanent: false, error: { code: 'job_failed', message } };
}
