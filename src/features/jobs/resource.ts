import { z } from 'zod';
import { JOB_STATUSES } from './job.js';

// The job as REST answers it, webhooks carry it and events store it in `data` (jobResource builds
// it): the event-type catalog's JSON Schema and REST's `Job` component. Strict: a field the
// mapping adds and the schema does not list fails the tests.

const text = z.string().nullable();
const timestamp = z.iso.datetime();

export const JobResource = z.strictObject({
  jobId: z.string().describe('job_ followed by a ULID'),
  status: z.enum(JOB_STATUSES),
  resourceType: z.string().describe("The job type, e.g. contacts.import, invoices.pdf, or a runner's type"),
  pollPath: z.string().describe('GET it to follow the job'),
  progress: z.strictObject({ completed: z.int().nullable(), total: z.int().nullable(), message: text }),
  result: z.record(z.string(), z.unknown()).nullable().describe('What the job produced, once it succeeded'),
  error: z.strictObject({ code: z.string(), message: z.string() }).nullable().describe('Why the last attempt failed'),
  attempts: z.int(),
  maxAttempts: z.int(),
  applicationId: text,
  runnerId: text.describe("The runner holding or having run it; null for the gateway's own workers"),
  createdAt: timestamp,
  updatedAt: timestamp,
  startedAt: timestamp.nullable(),
  finishedAt: timestamp.nullable(),
});

/** The answer to work that starts a job (202), with Location pointing at pollPath. */
export const JobReceipt = JobResource.pick({ jobId: true, status: true, resourceType: true, pollPath: true }).meta({
  id: 'JobReceipt',
});
