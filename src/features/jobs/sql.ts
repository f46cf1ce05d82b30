// The jobs feature's raw SQL, one statement per function; each says why Prisma's query API does
// not serve.

import { Prisma } from '../../generated/prisma/client.js';
import { columnList } from '../../db/insert-rows.js';
import type { JobHolder } from './job.js';

/** The job columns this version reads and writes in raw SQL. */
export const JOB_COLUMNS = Object.values(Prisma.JobScalarFieldEnum);

/**
 * Takes up to `limit` due queued jobs of these types (of one tenant, when given), oldest first,
 * for a holder: running, under a lease, one more attempt counted.
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
    WITH claimed AS (
      UPDATE "Job" SET "status" = 'running', "runnerId" = ${holder.runnerId}, "attempts" = "attempts" + 1,
             "leaseExpiresAt" = now() + ${leaseMs} * interval '1 millisecond', "startedAt" = coalesce("startedAt", now()), "updatedAt" = now()
      WHERE "id" IN (
        SELECT "id" FROM "Job"
        WHERE "status" = 'queued' AND "runAt" <= now() AND "resourceType" = ANY(${[...types]})
          AND (${tenantId}::text IS NULL OR "tenantId" = ${tenantId})
        ORDER BY "runAt", "id" LIMIT ${limit}
        FOR UPDATE SKIP LOCKED)
      RETURNING ${columnList(JOB_COLUMNS)})
    SELECT * FROM claimed ORDER BY "id"`;
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
