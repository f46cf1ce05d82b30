import type { FastifyBaseLogger } from 'fastify';
import type { JobConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import { databaseUnavailable } from '../../db/unavailable.js';
import type { Services } from '../../services.js';
import { JOBS_CHANNEL } from '../../db/channels.js';
import type { Progress } from './service.js';
import type { Job, Prisma } from '../../generated/prisma/client.js';
import { jobLeaseExpiries } from '../../metrics.js';
import { passRunner } from '../../core/passes.js';
import { JobStoppedError, PermanentJobError, type JobHandler } from './handler.js';

const WORKER = { runnerId: null };

/**
 * Runs built-in jobs in this process: claims queued ones of the types it has handlers for (SKIP
 * LOCKED, so processes share the queue), renews their leases while they run, and records the
 * outcome. Its poll also returns to the queue jobs whose holder (worker or runner) stopped renewing.
 * Woken by NOTIFY when jobs are queued; polls as a safety net.
 */
export async function startJobWorker(options: {
  database: Database;
  services: Services;
  handlers: Record<string, JobHandler>;
  config: JobConfig;
  pollMs: number;
  log: FastifyBaseLogger;
}) {
  const { database, services, handlers, config, pollMs, log } = options;
  const types = Object.keys(handlers);
  const running = new Set<Promise<void>>();
  // During a database outage the poll keeps trying; the outage is logged once, not every pass.
  const passes = passRunner(
    claimAndRun,
    (err) => databaseUnavailable(err, log) ?? log.warn({ err }, 'job worker pass failed; retrying at the next poll'),
  );
  const wake = passes.wake;

  async function claimAndRun(): Promise<void> {
    const room = config.concurrency - running.size;
    if (room <= 0) return;
    const jobs = await services.jobs.claim(types, WORKER, room, config.leaseMs);
    for (const job of jobs) {
      const task = run(job).finally(() => {
        running.delete(task);
        wake();
      });
      running.add(task);
    }
  }

  async function run(job: Job): Promise<void> {
    const handler = handlers[job.resourceType]!;
    let stoppedBy: JobStoppedError | undefined;
    const renew = async (progress = {}) => {
      const beat = await services.jobs.heartbeat(job.id, WORKER, config.leaseMs, progress);
      if (!beat.held) stoppedBy ??= new JobStoppedError(beat.canceled);
      if (stoppedBy) throw stoppedBy;
    };
    const progressWithin = async (tx: Prisma.TransactionClient, progress: Progress) => {
      const step = await services.jobs.progressWithin(tx, job.id, WORKER, config.leaseMs, progress);
      if (step.held && !stoppedBy) return step.event;
      throw (stoppedBy ??= new JobStoppedError(!step.held && step.canceled));
    };
    // Renews the lease even while a handler is busy between progress reports.
    const lease = setInterval(() => renew().catch(() => {}), Math.max(50, config.leaseMs / 3));
    try {
      const result = await handler({ job, services, progress: renew, progressWithin });
      if (stoppedBy) return;
      await services.jobs.complete(job.id, WORKER, result);
    } catch (error) {
      if (error instanceof JobStoppedError) return;
      const permanent = error instanceof PermanentJobError;
      if (!permanent) log.warn({ err: error, jobId: job.id }, 'job attempt failed');
      const jobError = permanent
        ? { code: error.code, message: error.message }
        : { code: 'job_failed', message: 'The job failed unexpectedly; it is retried while attempts remain.' };
      // Unrecorded during a database outage: its lease lapses and the job is claimed again.
      await services.jobs
        .fail(job.id, WORKER, jobError, !permanent)
        .catch(
          (err) => databaseUnavailable(err, log) ?? log.error({ err, jobId: job.id }, 'could not record a failed job'),
        );
    } finally {
      clearInterval(lease);
    }
  }

  await database.listen(JOBS_CHANNEL, wake);
  // Lapsed leases are looked for on the poll, not on every claim: they take a lease's length to appear.
  const poll = setInterval(() => {
    services.jobs.reclaimExpired().then(
      (reclaimed) => {
        if (!reclaimed) return;
        jobLeaseExpiries.inc(reclaimed);
        wake();
      },
      (err) => databaseUnavailable(err, log) ?? log.warn({ err }, 'could not reclaim lapsed jobs'),
    );
    wake();
  }, pollMs);
  poll.unref();
  // Jobs nobody runs fail a little after their timeout: a tenth of it late at most (a minute at
  // most), so a large queue of jobs that do have runners is not scanned at every poll.
  let sweeping: Promise<unknown> | undefined; // one sweep at a time
  const failUnhandled = () => {
    sweeping ??= services.jobs
      .failUnhandled(config.noRunnerTimeoutMs)
      .then(
        (failed) => failed && log.warn({ failed }, 'jobs no runner is registered for failed as no_runner'),
        (err) => databaseUnavailable(err, log) ?? log.warn({ err }, 'could not fail jobs without a runner'),
      )
      .finally(() => (sweeping = undefined));
  };
  const unhandledSweep =
    config.noRunnerTimeoutMs > 0
      ? setInterval(failUnhandled, Math.min(Math.max(config.noRunnerTimeoutMs / 10, pollMs), 60_000))
      : undefined;
  unhandledSweep?.unref();
  wake();

  return {
    /** Stops claiming; running jobs finish (or are reclaimed by another process once their lease lapses). */
    async stop() {
      await passes.stop();
      clearInterval(poll);
      clearInterval(unhandledSweep);
      await sweeping;
      await Promise.all(running);
    },
  };
}
