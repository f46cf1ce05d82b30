import type { Prisma } from '../../generated/prisma/client.js';
import { JOB_STATUSES, jobWithHint, pollPath, type JobState, type JobStatus } from './job.js';
import { builder } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';
import { eventOrEnd, EventRef, eventResource, filterArgs, resourceEvents } from '../events/graphql.js';
import { withoutNulls } from '../../graphql/inputs.js';
import { forwardConnection } from '../../graphql/pages.js';

const JobStatusEnum = builder.enumType('JobStatus', { values: JOB_STATUSES });

/** Lists carry their input; single jobs leave it out (an import's is megabytes) and read it when asked for. */
type JobSource = JobState & { input?: Prisma.JsonValue };

const JobProgress = builder.objectRef<JobSource>('JobProgress').implement({
  fields: (t) => ({
    completed: t.exposeInt('progressCompleted', { nullable: true }),
    total: t.exposeInt('progressTotal', { nullable: true }),
    message: t.exposeString('progressMessage', { nullable: true }),
  }),
});

export const JobRef = builder.objectRef<JobSource>('Job').implement({
  description:
    'Asynchronous work: queued → running → succeeded | failed | canceled. Every change is a jobs.job.* event.',
  fields: (t) => ({
    id: t.exposeID('id'),
    status: t.field({ type: JobStatusEnum, resolve: (job) => job.status as JobStatus }),
    resourceType: t.exposeString('resourceType'),
    pollPath: t.string({ resolve: (job) => pollPath(job.id) }),
    waitingFor: t.string({
      nullable: true,
      description:
        '"no_runner" while queued with no runner registered for its type (it fails as no_runner after JOB_NO_RUNNER_TIMEOUT); else null.',
      resolve: async (job, _args, ctx) =>
        job.status === 'queued'
          ? jobWithHint(job, await ctx.services.jobs.handledTypes(job.tenantId)).waitingFor
          : null,
    }),
    progress: t.field({ type: JobProgress, resolve: (job) => job }),
    input: t.field({
      type: 'JSONObject',
      resolve: (job, _args, ctx) => job.input ?? ctx.services.jobs.input(authOf(ctx), job.id),
    }),
    result: t.expose('result', { type: 'JSONObject', nullable: true }),
    error: t.expose('error', { type: 'JSONObject', nullable: true, description: '{ code, message } once failed.' }),
    attempts: t.exposeInt('attempts'),
    maxAttempts: t.exposeInt('maxAttempts'),
    applicationId: t.exposeID('applicationId', { nullable: true }),
    runnerId: t.exposeID('runnerId', {
      nullable: true,
      description: 'The runner holding or having run it; null for built-in work.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    startedAt: t.expose('startedAt', { type: 'DateTime', nullable: true }),
    finishedAt: t.expose('finishedAt', { type: 'DateTime', nullable: true }),
  }),
});

const CreateJobInput = builder.inputType('CreateJobInput', {
  fields: (t) => ({
    resourceType: t.string({
      required: true,
      description: 'A type the tenant\'s runners handle, e.g. "documents.ocr".',
    }),
    input: t.field({ type: 'JSONObject' }),
    maxAttempts: t.int(),
  }),
});

builder.queryFields((t) => ({
  job: t.field({
    type: JobRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.jobs.get(authOf(ctx), args.id),
  }),
  jobs: t.connection({
    type: JobRef,
    description: "The tenant's jobs, oldest first.",
    args: { status: t.arg({ type: JobStatusEnum }), resourceType: t.arg.string() },
    resolve: (_root, args, ctx) =>
      forwardConnection(args, 'job', (page) =>
        ctx.services.jobs.list(authOf(ctx), {
          ...page,
          status: args.status ?? undefined,
          resourceType: args.resourceType ?? undefined,
        }),
      ),
  }),
}));

builder.mutationFields((t) => ({
  createJob: t.field({
    type: JobRef,
    description: "Queues work for the tenant's runners.",
    args: { input: t.arg({ type: CreateJobInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.jobs.create(authOf(ctx), withoutNulls(args.input)),
  }),
  cancelJob: t.field({
    type: JobRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.jobs.cancel(authOf(ctx), args.id),
  }),
  importContacts: t.field({
    type: JobRef,
    description:
      'Upserts up to 100,000 contacts as a contacts.import job (matched by externalId, then email). Needs the communication feature.',
    args: { contacts: t.arg({ type: ['JSONObject'], required: true }) },
    resolve: (_root, args, ctx) => ctx.services.contactImport.start(authOf(ctx), { contacts: args.contacts }),
  }),
}));

eventResource('job', JobRef);

builder.subscriptionField('jobUpdated', (t) =>
  t.field({
    type: EventRef,
    description:
      'The events of one job (jobs.job.*): queued, running, progress, and how it ended, that match `filters`/`anyOf` (e.g. status is succeeded). Use `after` to resume.',
    args: { id: t.arg.id({ required: true }), after: t.arg.id(), ...filterArgs },
    subscribe: (_root, args, ctx) =>
      resourceEvents(ctx, 'jobs.job.*', args, (auth, id) => ctx.services.jobs.get(auth, id)),
    resolve: eventOrEnd,
  }),
);
