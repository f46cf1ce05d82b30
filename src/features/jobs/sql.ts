// The jobs feature's raw SQL, one statement per function; each says why Prisma's query API does
// not serve.

import { Prisma } from '../../generated/prisma/client.js';
import { columnList } from '../../db/insert-rows.js';
import { pollPath, type JobEventType, type JobHolder } from './job.js';
import type { Progress } from './service.js';

/** The job columns this version reads and writes in raw SQL. */
export const JOB_COLUMNS = Object.values(Prisma.JobScalarFieldEnum);
/** The columns of a job's state (all but its input: an import's is megabytes), of "Job" in a join. */
const STATE_COLUMNS = Prisma.raw(
  JOB_COLUMNS.filter((column) => column !== 'input')
    .map((column) => `"Job"."${column}"`)
    .join(', '),
);

/** A timestamp(3) column (UTC) as toISOString() writes it. */
const iso = (column: string) => Prisma.raw(`to_char("Job"."${column}", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);

/**
 * The event a change of a "Job" row appends (see changeAndAppendEvents in the events feature):
 * its type, and as data the job as jobResource (job.ts) presents it, built from the changed row.
 * The two must agree: test/service/jobs.test.ts compares claims' and completions' events with
 * jobResource of the jobs they returned.
 */
function jobEventColumns(type: JobEventType): Prisma.Sql {
  return Prisma.sql`'job' AS "eventResourceType", "Job"."id" AS "eventResourceId", ${type}::text AS "eventType",
    jsonb_build_object(
      'jobId', "Job"."id", 'status', "Job"."status", 'resourceType', "Job"."resourceType",
      'pollPath', ${pollPath('')}::text || "Job"."id",
      'progress', jsonb_build_object('completed', "Job"."progressCompleted", 'total', "Job"."progressTotal", 'message', "Job"."progressMessage"),
      'result', "Job"."result", 'error', "Job"."error", 'attempts', "Job"."attempts", 'maxAttempts', "Job"."maxAttempts",
      'applicationId', "Job"."applicationId", 'runnerId', "Job"."runnerId",
      'createdAt', ${iso('createdAt')}, 'updatedAt', ${iso('updatedAt')},
      'startedAt', ${iso('startedAt')}, 'finishedAt', ${iso('finishedAt')}) AS "eventData"`;
}

/**
 * Takes up to `limit` due queued jobs of these types (of one tenant, when given), oldest first,
 * for a holder: running, under a lease, one more attempt counted; each row names its
 * jobs.job.running event (run it through changeWithEvents). Each type's due jobs are read in
 * order from the queued jobs' index ("resourceType", "runAt", "id"), so neither other types'
 * backlog nor finished jobs are walked.
 * Raw: FOR UPDATE SKIP LOCKED, so every process and runner claims at once without taking the same job.
 */
export function claimDueJobs(
  types: readonly string[],
  holder: JobHolder & { tenantId?: string },
  limit: number,
  leaseMs: number,
): Prisma.Sql {
  const tenantId = holder.tenantId ?? null;
  return Prisma.sql`
    UPDATE "Job" SET "status" = 'running', "runnerId" = ${holder.runnerId}, "attempts" = "attempts" + 1,
           "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond', "startedAt" = coalesce("startedAt", now()), "updatedAt" = now()
    WHERE "id" IN (
      SELECT due."id" FROM unnest(${[...types]}::text[]) AS t("type") CROSS JOIN LATERAL (
        SELECT j."id", j."runAt" FROM "Job" j
        WHERE j."status" = 'queued' AND j."resourceType" = t."type" AND j."runAt" <= now()
          AND (${tenantId}::text IS NULL OR j."tenantId" = ${tenantId})
        ORDER BY j."runAt", j."id" LIMIT ${limit}
        FOR UPDATE SKIP LOCKED) due
      ORDER BY due."runAt", due."id" LIMIT ${limit})
    RETURNING ${columnList(JOB_COLUMNS)}, ${jobEventColumns('jobs.job.running')}`;
}

/**
 * Whether any job of these types is queued and due: a look far cheaper than a claim, whose
 * statement also appends events (raw: the claim's per-type index lookups, see claimDueJobs).
 */
export function dueJobExists(types: readonly string[]): Prisma.Sql {
  return Prisma.sql`
    SELECT EXISTS (
      SELECT 1 FROM unnest(${[...types]}::text[]) AS t("type") CROSS JOIN LATERAL (
        SELECT 1 FROM "Job" j WHERE j."status" = 'queued' AND j."resourceType" = t."type" AND j."runAt" <= now() LIMIT 1) due
    ) AS "due"`;
}

/**
 * Renews the lease of a job the holder still holds, and records its progress (the fields given;
 * `message: null` clears it). With `event`, the row names that event (run it through
 * changeWithEvents). Returns the job's state; nothing when the holder lost the job, or when
 * `onlyIf` (a condition of the statement this update is part of) is false.
 * Raw: one statement whether or not it appends an event, and cheaper than Prisma's per progress report.
 */
export function updateHeldJob(
  jobId: string,
  holder: JobHolder,
  leaseMs: number,
  progress: Progress,
  event?: JobEventType,
  onlyIf: Prisma.Sql = Prisma.sql`TRUE`,
): Prisma.Sql {
  const set = (column: string, value: unknown) =>
    value === undefined ? Prisma.empty : Prisma.sql`, ${Prisma.raw(`"${column}"`)} = ${value}`;
  return Prisma.sql`
    UPDATE "Job" SET "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond', "updatedAt" = now()
      ${set('progressCompleted', progress.completed)}${set('progressTotal', progress.total)}${set('progressMessage', progress.message)}
    WHERE "Job"."id" = ${jobId} AND "Job"."status" = 'running' AND "Job"."runnerId" IS NOT DISTINCT FROM ${holder.runnerId}
      AND ${onlyIf}
    RETURNING ${STATE_COLUMNS}${event ? Prisma.sql`, ${jobEventColumns(event)}` : Prisma.empty}`;
}

/**
 * Ends jobs the holder still holds as succeeded with their results (a failed earlier attempt's
 * error no longer describes them); each row names its jobs.job.succeeded event (run it through
 * changeWithEvents). A job the holder lost (canceled, lease gone to another) is not returned.
 * Raw: one statement completes a batch, and its events come from the rows it changed.
 */
export function completeHeldJobs(holder: JobHolder, completions: { id: string; result: Prisma.InputJsonValue }[]) {
  return Prisma.sql`
    UPDATE "Job" SET "status" = 'succeeded', "result" = c."result", "error" = NULL, "finishedAt" = now(),
           "leaseExpiresAt" = NULL, "updatedAt" = now()
    FROM jsonb_to_recordset(${JSON.stringify(completions)}::jsonb) AS c("id" text, "result" jsonb)
    WHERE "Job"."id" = c."id" AND "Job"."status" = 'running' AND "Job"."runnerId" IS NOT DISTINCT FROM ${holder.runnerId}
    RETURNING ${STATE_COLUMNS}, ${jobEventColumns('jobs.job.succeeded')}`;
}

/**
 * The ids of up to `limit` jobs queued and due for longer than `timeoutMs` whose type neither a
 * built-in worker (`builtInTypes`) nor an active runner of their tenant runs, oldest first.
 * Raw: Prisma cannot filter on a correlated NOT EXISTS over the runners' type arrays.
 */
export function unhandledJobIds(builtInTypes: readonly string[], timeoutMs: number, limit: number): Prisma.Sql {
  return Prisma.sql`
    SELECT j."id" FROM "Job" j
    WHERE j."status" = 'queued' AND j."runAt" < now() - ${timeoutMs} * interval '1 millisecond'
      AND NOT (j."resourceType" = ANY(${[...builtInTypes]}::text[]))
      AND NOT EXISTS (SELECT 1 FROM "Runner" r WHERE r."tenantId" = j."tenantId" AND r."status" = 'active' AND j."resourceType" = ANY(r."resourceTypes"))
    ORDER BY j."runAt" LIMIT ${limit}`;
}
