import type { Job, Prisma } from '../../generated/prisma/client.js';
import type { NewEvent } from '../events/service.js';
import type { Progress } from './service.js';

/**
 * What a built-in job handler gets: its job, the services it works with, and ways to report
 * progress. `S` is the part of the gateway's services the handler uses: the composition root
 * passes its own, so this feature never imports it.
 */
export type JobContext<S> = {
  job: Job;
  services: S;
  /** Records progress (and renews the lease); throws JobStoppedError once the job was canceled or lost. */
  progress(progress: Progress): Promise<void>;
  /**
   * The same inside the handler's transaction, so the progress commits with the work it counts;
   * returns the progress event for the handler to record with its own.
   */
  progressWithin(tx: Prisma.TransactionClient, progress: Progress): Promise<NewEvent>;
  /**
   * The same as part of one statement that also writes the work it counts (run on the driver, no
   * transaction): the job's progress update, which returns the job's row naming its
   * jobs.job.progress event (see appendedEventsWithChange), or no row once the job was lost or
   * while `onlyIf` (a condition of that statement) is false.
   */
  progressUpdate(progress: Progress, onlyIf: Prisma.Sql): Prisma.Sql;
  /** After such a statement found the job no longer held: throws JobStoppedError (canceled, or lost). */
  stopped(): Promise<never>;
};

/** Runs one job to its result; a thrown error fails the attempt (retried while attempts remain). */
export type JobHandler<S> = (context: JobContext<S>) => Promise<Prisma.InputJsonValue>;

/** The built-in job types a process runs, each with its handler. */
export type JobHandlers<S> = Readonly<Record<string, JobHandler<S>>>;

/** The job was canceled, or its lease went to another worker: stop without writing anything more. */
export class JobStoppedError extends Error {
  constructor(readonly canceled: boolean) {
    super(canceled ? 'The job was canceled.' : 'The job is no longer held by this worker.');
  }
}

/** A failure retrying cannot fix (bad input): the job fails at once. */
export class PermanentJobError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
