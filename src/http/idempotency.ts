import { createHash } from 'node:crypto';
import { Prisma, type PrismaClient } from '../generated/prisma/client.js';
import { ConflictError, InvalidRequestError } from '../core/errors.js';

// Idempotency-Key semantics shared by REST and GraphQL: one key space per application.

export type StoredResponse = { statusCode: number; headers: Record<string, string>; body: string };
export type IdempotencyStart = { replay: StoredResponse } | { replay: null };

/** A first request that has not finished after this long is taken to have died with its process. */
const IN_FLIGHT_TIMEOUT_MS = 5 * 60_000;
const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function requestFingerprint(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

export function idempotencyService(prisma: PrismaClient, ttlMs: number) {
  return {
    /** Claims the key for this request, or answers with the replay, or refuses with 409. */
    async begin(applicationId: string, key: string, requestHash: string): Promise<IdempotencyStart> {
      if (!KEY_PATTERN.test(key)) {
        throw new InvalidRequestError('Idempotency-Key must be 1 to 255 visible ASCII characters.');
      }
      const claimed = await prisma.$executeRaw(claimKey(applicationId, key, requestHash, new Date(), ttlMs));
      if (claimed === 1) return { replay: null };

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
      await prisma.idempotencyRecord.updateMany({
        where: { applicationId, key },
        data: { state: 'completed', statusCode: response.statusCode, headers: response.headers, body: response.body },
      });
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

/**
 * Claims the key for a first request: a new record, or one whose claim lapsed (expired, or in
 * flight past IN_FLIGHT_TIMEOUT_MS). One INSERT … ON CONFLICT DO UPDATE … WHERE, so two requests
 * racing for a key cannot both claim it: Prisma's upsert has no condition on the update.
 */
function claimKey(applicationId: string, key: string, requestHash: string, now: Date, ttlMs: number): Prisma.Sql {
  return Prisma.sql`
    INSERT INTO "IdempotencyRecord" ("applicationId", "key", "requestHash", "state", "createdAt", "expiresAt")
    VALUES (${applicationId}, ${key}, ${requestHash}, 'in_flight', ${now}, ${new Date(now.getTime() + ttlMs)})
    ON CONFLICT ("applicationId", "key") DO UPDATE
      SET "requestHash" = EXCLUDED."requestHash", "state" = 'in_flight', "statusCode" = NULL,
          "headers" = NULL, "body" = NULL, "createdAt" = EXCLUDED."createdAt", "expiresAt" = EXCLUDED."expiresAt"
      WHERE "IdempotencyRecord"."expiresAt" < ${now}
         OR ("IdempotencyRecord"."state" = 'in_flight' AND "IdempotencyRecord"."createdAt" < ${new Date(now.getTime() - IN_FLIGHT_TIMEOUT_MS)})`;
}
