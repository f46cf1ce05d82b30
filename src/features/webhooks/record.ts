import type { FastifyBaseLogger } from 'fastify';
import type { WebhookConfig } from '../../config.js';
import { newId } from '../../core/ids.js';
import type { Database } from '../../db/database.js';
import type { Claimed } from './claim.js';
import { deliveryAfterAttempt, type EndpointChange, endpointChange, failureRuns } from './policy.js';
import type { Outcome } from './send.js';
import { type AttemptRow, clearFailingSince, recordAttempts, startFailingSince } from './sql.js';

// The delivery worker's third phase: write down what attempts got, and what follows for their
// deliveries and endpoints, as the policy decides it.

/** One attempt, sent and waiting to be recorded. */
export type Attempted = { delivery: Claimed; attemptedAt: Date; outcome: Outcome };

/**
 * Logs a batch of attempts and schedules what is next for their deliveries and endpoints: each
 * endpoint's row first (its failure run, or its disabling), then every attempt in one statement
 * (recordAttempts, on the driver: a batch of rows that Prisma would only convert).
 */
export async function record(
  database: Database,
  config: WebhookConfig,
  log: FastifyBaseLogger,
  batch: readonly Attempted[],
): Promise<void> {
  const runs = failureRuns(
    batch.map(({ delivery, attemptedAt, outcome }) => ({
      endpointId: delivery.endpointId,
      failingSince: delivery.endpoint.failingSince,
      statusCode: outcome.statusCode,
      attemptedAt,
    })),
    config.disableAfterMs,
  );
  const rows = batch.map((attempted) => attemptRow(config, attempted));
  for (const [endpointId, run] of runs) await updateEndpoint(database, log, endpointId, endpointChange(run));
  await database.query(recordAttempts(rows));
}

function attemptRow(config: WebhookConfig, { delivery, attemptedAt, outcome }: Attempted): AttemptRow {
  const next = deliveryAfterAttempt(outcome, delivery.attemptCount + 1, config.retryScheduleMs);
  return {
    attemptId: newId('whatt'),
    deliveryId: delivery.id,
    attemptedAt: attemptedAt.toISOString(),
    durationMs: outcome.durationMs,
    statusCode: outcome.statusCode,
    responseHeaders: outcome.headers,
    responseBody: outcome.body,
    error: outcome.error,
    status: next.status,
    nextAttemptAt: next.nextAttemptAt?.toISOString() ?? null,
  };
}

async function updateEndpoint(
  { prisma }: Database,
  log: FastifyBaseLogger,
  id: string,
  change: EndpointChange,
): Promise<void> {
  if (change?.kind === 'disable') {
    await prisma.webhookEndpoint.updateMany({
      where: { id },
      data: { failingSince: change.since, enabled: false, disabledReason: change.reason },
    });
    log.warn({ endpointId: id, reason: change.reason }, 'webhook endpoint disabled');
  } else if (change?.kind === 'recovered') await prisma.$executeRaw(clearFailingSince(id));
  else if (change?.kind === 'failing') await prisma.$executeRaw(startFailingSince(id, change.since));
}
