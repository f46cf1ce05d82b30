import { createHash } from 'node:crypto';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { ConflictError, InvalidRequestError } from '../core/errors.js';
import { groupCommit } from '../core/passes.js';
import type { Query } from '../db/database.js';

// Idempotency-Key semantics shared by REST and GraphQL: one key space per application.

export type StoredResponse = { statusCode: number; headers: Record<string, string>; body: string };
export type IdempotencyStart = { replay: StoredResponse } | { replay: null };

/** A first request that has not finished after this long is taken to have died with its process. */
const IN_FLIGHT_TIMEOUT_MS = 5 * 60_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function requestFingerprint(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

type Claim = { applicationId: string; key: string; requestHash: string };
type Completion = { applicationId: string; key: string; response: StoredResponse };

/** `query` runs the batched claims and completions on the driver: Prisma would re-serialize their JSON parameters. */
export function idempotencyService(prisma: PrismaClient, query: Query, ttlMs: number) {
  // Claims and completions that arrive while the previous statement runs share the next one:
  // under load, one statement and one commit for many requests' records, claims and answers alike.
  const writes = groupCommit<Claim | Completion, boolean>(async (batch) => {
    const completions = batch.filter((item): item is Completion => 'response' in item);
    const completing = new Set(completions.map(recordKey));
    // A key twice in one statement would be claimed twice (an error), and a record is not changed
    // twice in one statement: only a key's first claim is in it, and none whose request is being
    // answered. The others find the record in flight, or its answer once this statement committed.
    const distinct = new Map<string, Claim>();
    for (const item of batch)
      if (!('response' in item) && !completing.has(recordKey(item)) && !distinct.has(recordKey(item)))
        distinct.set(recordKey(item), item);
    const rows = await query<{ applicationId: string; key: string }>(
      claimAndComplete([...distinct.values()], completions, new Date(), ttlMs),
    );
    const claimed = new Set(rows.map(recordKey));
    return batch.map((item) => distinct.get(recordKey(item)) === item && claimed.has(recordKey(item)));
  });

  return {
    /** Claims the key for this request, or answers with the replay, or refuses with 409. */
    async begin(applicationId: string, key: string, requestHash: string): Promise<IdempotencyStart> {
      if (!KEY_PATTERN.test(key)) {
        throw new InvalidRequestError('Idempotency-Key must be 1 to 255 visible ASCII characters.');
      }
      if (await writes.add({ applicationId, key, requestHash })) return { replay: null };

      const record = await prisma.idempotencyRecord.findUnique({
        where: { applicationId_key: { applicationId, key } },
      });
      if (!record) return this.begin(applicationId, key, requestHash); // released meanwhile
      if (record.requestHash !== requestHash) {
        throw new ConflictError(
          'idempotency_key_reused',
          'This Idempotency-Key was already used with a different request.',
        );
      }
      if (record.state !== 'completed') {
        throw new ConflictError(
          'idempotency_key_in_flight',
          'A request with this Idempotency-Key is still being processed; retry later.',
        );
      }
      return {
        replay: {
          statusCode: record.statusCode!,
          headers: (record.headers ?? {}) as Record<string, string>,
          body: record.body ?? '',
        },
      };
    },

    async complete(applicationId: string, key: string, response: StoredResponse): Promise<void> {
      await writes.add({ applicationId, key, response });
    },

    /** Forgets a claim whose request failed unexpectedly, so the client may retry it. */
    async release(applicationId: string, key: string): Promise<void> {
      await prisma.idempotencyRecord.deleteMany({ where: { applicationId, key, state: 'in_flight' } });
    },

    async deleteExpired(): Promise<number> {
      const { count } = await prisma.idempotencyRecord.deleteMany({ where: { expiresAt: { lt: new Date() } } });
      return count;
    },
  };
}

const recordKey = (record: { applicationId: string; key: string }) => `${record.applicationId} ${record.key}`;

/**
 * Stores the responses of claimed keys (an UPDATE: Prisma's updateMany sets one value for all
 * rows), and claims the keys of first requests: a new record, or one whose claim lapsed (expired,
 * or in flight past IN_FLIGHT_TIMEOUT_MS); returns the keys claimed. The claim is one INSERT … ON
 * CONFLICT DO UPDATE … WHERE, so two requests racing for a key cannot both claim it: Prisma's
 * upsert has no condition on the update, nor a batch form. In key order, so that two statements
 * wait for each other's keys in one order and never deadlock.
 */
function claimAndComplete(claims: Claim[], completions: Completion[], now: Date, ttlMs: number): Prisma.Sql {
  const answers = completions.map(({ applicationId, key, response }) => ({ applicationId, key, ...response }));
  return Prisma.sql`
    WITH completed AS (
      UPDATE "IdempotencyRecord" r
      SET "state" = 'completed', "statusCode" = c."statusCode", "headers" = c."headers", "body" = c."body"
      FROM jsonb_to_recordset(${JSON.stringify(answers)}::jsonb) AS c("applicationId" text, "key" text, "statusCode" int, "headers" jsonb, "body" text)
      WHERE r."applicationId" = c."applicationId" AND r."key" = c."key"
    )
    INSERT INTO "IdempotencyRecord" ("applicationId", "key", "requestHash", "state", "createdAt", "expiresAt")
    SELECT c."applicationId", c."key", c."requestHash", 'in_flight', ${now}::timestamp, ${new Date(now.getTime() + ttlMs)}::timestamp
    FROM jsonb_to_recordset(${JSON.stringify(claims)}::jsonb) AS c("applicationId" text, "key" text, "requestHash" text)
    ORDER BY c."applicationId", c."key"
    ON CONFLICT ("applicationId", "key") DO UPDATE
      SET "requestHash" = EXCLUDED."requestHash", "state" = 'in_flight', "statusCode" = NULL,
          "headers" = NULL, "body" = NULL, "createdAt" = EXCLUDED."createdAt", "expiresAt" = EXCLUDED."expiresAt"
      WHERE "IdempotencyRecord"."expiresAt" < ${now}
         OR ("IdempotencyRecord"."state" = 'in_flight' AND "IdempotencyRecord"."createdAt" < ${new Date(now.getTime() - IN_FLIGHT_TIMEOUT_MS)})
    RETURNING "applicationId", "key"`;
}
