import type { FastifyBaseLogger } from 'fastify';
import type { JobConfig } from '../../config.js';
import { groupCommit, passRunner } from '../../core/passes.js';
import { JOBS_CHANNEL } from '../../db/channels.js';
import type { Database } from '../../db/database.js';
import { databaseUnavailable } from '../../db/unavailable.js';
import type { Job, Prisma } from '../../generated/prisma/client.js';
import { jobLeaseExpiries } from '../../metrics.js';
import { type JobContext, type JobHandlers, JobStoppedError } from './handler.js';
import type { Completion } from './holder.js';
import type { JobHolder } from './job.js';
import { handlerFailure, noRunnerSweepIntervalMs, renewalIntervalMs } from './policy.js';
import type { JobService, Progress } from './service.js';

// Runs built-in jobs in this process, in phases: claim queued jobs of the types it has handlers for
// (SKIP LOCKED, so processes share the queue), run each under a lease it keeps renewing, record the
// outcome. Its poll also returns to the queue jobs whose holder (worker or runner) went quiet, and
// fails jobs nobody runs. Woken by NOTIFY when jobs are queued; polls as a safety net.

const WORKER: JobHolder = { runnerId: null };

/** What the worker itself needs of the services; handlers get all of `S` (the composition root's). */
type WorkerServices = { jobs: JobService };

type WorkerOptions<S extends WorkerServices> = {
  database: Database;
  services: S;
  handlers: JobHandlers<S>;
  config: JobConfig;
  pollMs: number;
  log: FastifyBaseLogger;
};

/**
 * The worker's state: the attempts running in this process, how to ask for another claim, and how
 * a finished attempt is recorded (completions that end meanwhile share one statement).
 */
type Worker<S extends WorkerServices> = WorkerOptions<S> & {
  running: Set<Promise<void>>;
  /** Whether the last claim found jobs; while it did not, a cheap look for due jobs comes first. */
  found: boolean;
  wake(): void;
  complete(completion: Completion): Promise<void>;
};

/** One attempt at a claimed job; `stoppedBy` is set once the job was canceled or went to another holder. */
type Attempt = { job: Job; stoppedBy?: JobStoppedError };

/** Claim: as many due jobs as there is room for; each runs on its own and asks for another claim when done. */
async function claim<S extends WorkerServices>(worker: Worker<S>): Promise<void> {
  const { services, handlers, config, running } = worker;
  const room = config.concurrency - running.size;
  if (room <= 0) return;
  const types = Object.keys(handlers);
  // Most wake-ups of an idle worker (the poll, other types' NOTIFYs) find nothing: the look is a
  // fraction of a claim's cost, which plans its events' statement too.
  if (!worker.found && !(await services.jobs.anyDue(types))) return;
  const jobs = await services.jobs.claim(types, WORKER, room, config.leaseMs);
  worker.found = jobs.length > 0;
  for (const job of jobs) {
    const task = run(worker, job).finally(() => {
      running.delete(task);
      worker.wake();
    });
    running.add(task);
  }
}

/** Run: the handler, under a lease renewed even while it is busy between progress reports; then its outcome. */
async function run<S extends WorkerServices>(worker: Worker<S>, job: Job): Promise<void> {
  const attempt: Attempt = { job };
  const reports = reporting(worker, attempt);
  const lease = setInterval(() => reports.progress({}).catch(() => {}), renewalIntervalMs(worker.config.leaseMs));
  try {
    const result = await worker.handlers[job.resourceType]!({ job, services: worker.services, ...reports });
    if (!attempt.stoppedBy) await worker.complete({ id: job.id, result });
  } catch (error) {
    await recordFailure(worker, job, error);
  } finally {
    clearInterval(lease);
  }
}

/** Lease renewal and progress: each tells the attempt when it must stop, and stops the handler by throwing. */
function reporting<S extends WorkerServices>(
  worker: Worker<S>,
  attempt: Attempt,
): Pick<JobContext<S>, 'progress' | 'progressWithin' | 'progressUpdate' | 'stopped'> {
  const { jobs } = worker.services;
  const { leaseMs } = worker.config;
  return {
    async progress(progress: Progress) {
      const beat = await jobs.heartbeat(attempt.job.id, WORKER, leaseMs, progress);
      if (!beat.held) attempt.stoppedBy ??= new JobStoppedError(beat.canceled);
      if (attempt.stoppedBy) throw attempt.stoppedBy;
    },
    async progressWithin(tx: Prisma.TransactionClient, progress: Progress) {
      const step = await jobs.progressWithin(tx, attempt.job.id, WORKER, leaseMs, progress);
      if (step.held && !attempt.stoppedBy) return step.event;
      throw (attempt.stoppedBy ??= new JobStoppedError(!step.held && step.canceled));
    },
    progressUpdate: (progress: Progress, onlyIf: Prisma.Sql) =>
      jobs.progressUpdate(attempt.job.id, WORKER, leaseMs, progress, onlyIf),
    async stopped() {
      const { canceled } = await jobs.lost(attempt.job.id);
      throw (attempt.stoppedBy ??= new JobStoppedError(canceled));
    },
  };
}

/** Record a failed attempt: retried or failed for good, as the error says; nothing for a stopped one. */
async function recordFailure<S extends WorkerServices>(worker: Worker<S>, job: Job, error: unknown) {
  const { log } = worker;
  const failure = handlerFailure(error);
  if (failure.stopped) return;
  if (!failure.permanent) log.warn({ err: error, jobId: job.id }, 'job attempt failed');
  // Unrecorded during a database outage: its lease lapses and the job is claimed again.
  await worker.services.jobs
    .fail(job.id, WORKER, failure.error, !failure.permanent)
    .catch(
      (err) => databaseUnavailable(err, log) ?? log.error({ err, jobId: job.id }, 'could not record a failed job'),
    );
}

/** Requeue: jobs whose holder went quiet go back to the queue (or fail, out of attempts); then claim again. */
function requeueQuiet<S extends WorkerServices>(worker: Worker<S>): void {
  const { log } = worker;
  worker.services.jobs.reclaimExpired().then(
    (reclaimed) => {
      if (!reclaimed) return;
      jobLeaseExpiries.inc(reclaimed);
      worker.wake();
    },
    (err) => databaseUnavailable(err, log) ?? log.warn({ err }, 'could not reclaim lapsed jobs'),
  );
}

/** Jobs nobody runs fail as no_runner, one sweep at a time; `stop` waits for the one in progress. */
function noRunnerSweeper<S extends WorkerServices>(worker: Worker<S>) {
  const { log, config } = worker;
  let sweeping: Promise<unknown> | undefined;
  const sweep = () => {
    sweeping ??= worker.services.jobs
      .failUnhandled(config.noRunnerTimeoutMs)
      .then(
        (failed) => failed && log.warn({ failed }, 'jobs no runner is registered for failed as no_runner'),
        (err) => databaseUnavailable(err, log) ?? log.warn({ err }, 'could not fail jobs without a runner'),
      )
      .finally(() => (sweeping = undefined));
  };
  const every = noRunnerSweepIntervalMs(config.noRunnerTimeoutMs, worker.pollMs);
  const timer = every === null ? undefined : setInterval(sweep, every);
  timer?.unref();
  return {
    async stop() {
      clearInterval(timer);
      await sweeping;
    },
  };
}

/** JOB_NOOP_TYPE's handler: the job succeeds at once with an empty result. */
const noop = async () => ({});

export async function startJobWorker<S extends WorkerServices>(options: WorkerOptions<S>) {
  const { database, pollMs, log, config } = options;
  const handlers = config.noopType ? { ...options.handlers, [config.noopType]: noop } : options.handlers;
  // During a database outage the poll keeps trying; the outage is logged once, not every pass.
  const passes = passRunner(
    () => claim(worker),
    (err) => databaseUnavailable(err, log) ?? log.warn({ err }, 'job worker pass failed; retrying at the next poll'),
  );
  const completions = groupCommit(async (batch: Completion[]) => {
    await options.services.jobs.completeMany(WORKER, batch);
  });
  const worker: Worker<S> = {
    ...options,
    handlers,
    running: new Set(),
    found: false,
    wake: passes.wake,
    complete: completions.add,
  };

  await database.listen(JOBS_CHANNEL, worker.wake);
  // Lapsed leases are looked for on the poll, not on every claim: they take a lease's length to appear.
  const poll = setInterval(() => {
    requeueQuiet(worker);
    worker.wake();
  }, pollMs);
  poll.unref();
  const sweeper = noRunnerSweeper(worker);
  worker.wake();

  return {
    /** Stops claiming; running jobs finish (or are reclaimed by another process once their lease lapses). */
    async stop() {
      await passes.stop();
      clearInterval(poll);
      await sweeper.stop();
      await Promise.all(worker.running);
    },
  };
}
