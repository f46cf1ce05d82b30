import { isIP } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import type { WebhookConfig } from '../config.js';
import type { Database } from '../db/database.js';
import { eventEnvelope, type EventEnvelope } from '../domain/events.js';
import { newId } from '../domain/ids.js';
import { DELIVERIES_CHANNEL } from '../domain/webhooks.js';
import type { Prisma } from '../generated/prisma/client.js';
import { isForeignKeyViolation } from '../domain/prisma-errors.js';
import { passRunner } from '../passes.js';
import { BlockedAddressError, type AddressGuard } from './address-guard.js';

/** Response bodies are logged up to this many bytes; the rest is not even read. */
const MAX_LOGGED_BODY = 4096;
/** Retry-After is honoured up to a day. */
const MAX_RETRY_AFTER_MS = 86_400_000;
/** A claimed delivery whose process died is due again once the attempt could no longer be running. */
const CLAIM_GRACE_MS = 5_000;

type Claimed = { id: string; endpointId: string; eventId: string; payload: Prisma.JsonValue | null; attemptCount: number };
type Outcome = { statusCode: number | null; headers: Record<string, string> | null; body: string | null; error: string | null; durationMs: number; retryAfterMs: number | null };

/**
 * Sends due webhook deliveries: claims them in the database (SKIP LOCKED, so processes never send
 * one twice at once), signs and POSTs each, logs the attempt and schedules what is next. Woken
 * by NOTIFY when deliveries are created or retried; a timer covers scheduled retries.
 */
export async function startDeliveryWorker(options: { database: Database; config: WebhookConfig; guard: AddressGuard; pollMs: number; log: FastifyBaseLogger }) {
  const { database, config, guard, pollMs, log } = options;
  const { prisma } = database;
  // Redirects are never followed (request() does not); connections go only to allowed addresses.
  const agent = new Agent({ connect: { lookup: guard.lookup }, headersTimeout: config.timeoutMs, bodyTimeout: config.timeoutMs });
  const sending = new Set<Promise<void>>();
  let timer: NodeJS.Timeout | undefined;
  const passes = passRunner(claimAndSend, (err) => log.warn({ err }, 'webhook worker pass failed; retrying at the next poll'));
  const wake = passes.wake;

  async function claimAndSend(): Promise<void> {
    const room = config.concurrency - sending.size;
    if (room <= 0) return;
    const leaseMs = config.timeoutMs + CLAIM_GRACE_MS;
    const claimed = await prisma.$queryRaw<Claimed[]>`
      UPDATE "WebhookDelivery" AS d
      SET "nextAttemptAt" = now() + ${leaseMs} * interval '1 millisecond', "attemptCount" = d."attemptCount" + 1
      WHERE d."id" IN (
        SELECT due."id" FROM "WebhookDelivery" AS due JOIN "WebhookEndpoint" AS e ON e."id" = due."endpointId"
        WHERE due."status" = 'pending' AND due."nextAttemptAt" <= now() AND e."enabled"
        ORDER BY due."nextAttemptAt" LIMIT ${room}
        FOR UPDATE OF due SKIP LOCKED)
      RETURNING d."id", d."endpointId", d."eventId", d."payload", d."attemptCount"`;
    for (const delivery of claimed) {
      const task = attempt(delivery)
        .catch((err) => {
          // The endpoint was deleted while the attempt ran: its deliveries went with it.
          if (!isForeignKeyViolation(err)) log.error({ err, deliveryId: delivery.id }, 'webhook attempt could not be recorded');
        })
        .finally(() => {
          sending.delete(task);
          wake();
        });
      sending.add(task);
    }
    if (claimed.length === room) wake(); // there may be more due
    else await scheduleNextDue();
  }

  /** Sleeps until the earliest scheduled retry (or the poll interval, whichever is sooner). */
  async function scheduleNextDue(): Promise<void> {
    const [next] = await prisma.$queryRaw<{ ms: number | null }[]>`
      SELECT EXTRACT(EPOCH FROM (min(d."nextAttemptAt") - now())) * 1000 AS ms
      FROM "WebhookDelivery" AS d JOIN "WebhookEndpoint" AS e ON e."id" = d."endpointId"
      WHERE d."status" = 'pending' AND e."enabled"`;
    clearTimeout(timer);
    const wait = next?.ms === null || next?.ms === undefined ? pollMs : Math.min(pollMs, Math.max(10, Number(next.ms)));
    timer = setTimeout(wake, wait);
    timer.unref();
  }

  async function attempt(delivery: Claimed): Promise<void> {
    const endpoint = await prisma.webhookEndpoint.findUnique({
      where: { id: delivery.endpointId },
      include: { secrets: { where: { OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] }, orderBy: { createdAt: 'desc' } } },
    });
    if (!endpoint) return; // deleted meanwhile: its deliveries went with it
    const envelope = (delivery.payload as EventEnvelope | null) ?? (await loadEnvelope(delivery.eventId));
    const attemptedAt = new Date();
    const outcome = await send(endpoint.url, endpoint.secrets.map((s) => s.secret), envelope);
    await record(delivery, endpoint, attemptedAt, outcome);
  }

  async function loadEnvelope(eventId: string): Promise<EventEnvelope> {
    return eventEnvelope(await prisma.event.findUniqueOrThrow({ where: { id: eventId } }));
  }

  async function send(url: string, secrets: string[], envelope: EventEnvelope): Promise<Outcome> {
    const body = JSON.stringify(envelope);
    const timestamp = new Date();
    // One "v1,<signature>" per active secret, so receivers on the old or the new secret both verify.
    const signature = secrets.map((secret) => new Webhook(secret).sign(envelope.id, timestamp, body)).join(' ');
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      // The agent's lookup checks what names resolve to; IP literals never reach it.
      const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
      if (isIP(host) && !guard.isAllowed(host)) throw new BlockedAddressError(host, host);
      const response = await request(url, {
        method: 'POST',
        dispatcher: agent,
        signal: AbortSignal.timeout(config.timeoutMs),
        headers: {
          'content-type': 'application/json',
          'user-agent': 'nilo-gateway-webhooks/1',
          'webhook-id': envelope.id,
          'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
          'webhook-signature': signature,
          'x-correlation-id': envelope.correlationId,
        },
        body,
      });
      const text = await readHead(response.body);
      return {
        statusCode: response.statusCode,
        headers: Object.fromEntries(Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)])),
        body: text,
        error: null,
        durationMs: elapsed(),
        retryAfterMs: retryAfter(response.headers['retry-after']),
      };
    } catch (error) {
      return { statusCode: null, headers: null, body: null, error: describe(error), durationMs: elapsed(), retryAfterMs: null };
    }
  }

  async function record(delivery: Claimed, endpoint: { id: string; failingSince: Date | null }, attemptedAt: Date, outcome: Outcome): Promise<void> {
    const succeeded = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
    const gone = outcome.statusCode === 410;
    const schedule = config.retryScheduleMs;
    const exhausted = delivery.attemptCount >= schedule.length;
    const delay = exhausted ? 0 : Math.max(jitter(schedule[delivery.attemptCount]!), outcome.retryAfterMs ?? 0);
    const failingSince = succeeded ? null : (endpoint.failingSince ?? attemptedAt);
    const failingTooLong = !succeeded && attemptedAt.getTime() - failingSince!.getTime() >= config.disableAfterMs;

    const disable = gone ? { enabled: false, disabledReason: 'gone' } : failingTooLong ? { enabled: false, disabledReason: 'failing' } : null;
    // The endpoint row only when its failure run starts or ends, or it is disabled; first, so the
    // locks are taken in the order a concurrent endpoint delete takes them (endpoint, then deliveries).
    const endpointChanges = failingSince?.getTime() !== endpoint.failingSince?.getTime() || disable;
    const endpointWrites: Prisma.PrismaPromise<unknown>[] = !endpointChanges
      ? []
      : disable
        ? [prisma.webhookEndpoint.updateMany({ where: { id: endpoint.id }, data: { failingSince, ...disable } })]
        : // Bookkeeping, not a change to the endpoint: raw, so updatedAt stays as the client left it.
          [prisma.$executeRaw`UPDATE "WebhookEndpoint" SET "failingSince" = ${failingSince} WHERE "id" = ${endpoint.id}`];
    await prisma.$transaction([
      ...endpointWrites,
      prisma.webhookAttempt.create({
        data: {
          id: newId('whatt'),
          deliveryId: delivery.id,
          attemptedAt,
          durationMs: outcome.durationMs,
          statusCode: outcome.statusCode,
          responseHeaders: outcome.headers ?? undefined,
          responseBody: outcome.body,
          error: outcome.error,
        },
      }),
      prisma.webhookDelivery.updateMany({
        where: { id: delivery.id },
        data: {
          lastAttemptAt: attemptedAt,
          status: succeeded ? 'succeeded' : gone || exhausted ? 'failed' : 'pending',
          nextAttemptAt: succeeded || gone || exhausted ? null : new Date(Date.now() + delay),
        },
      }),
    ]);
    if (gone || failingTooLong) log.warn({ endpointId: endpoint.id, reason: gone ? 'gone' : 'failing' }, 'webhook endpoint disabled');
  }

  await database.listen(DELIVERIES_CHANNEL, wake);
  const poll = setInterval(wake, pollMs);
  poll.unref();
  wake();

  return {
    wake,
    /** Stops claiming and waits for the attempts in flight (each ends within the timeout). */
    async stop() {
      await passes.stop();
      clearInterval(poll);
      clearTimeout(timer);
      await Promise.all(sending);
      await agent.close();
    },
  };
}

/** Reads at most MAX_LOGGED_BODY bytes of a response and drops the rest unread. */
async function readHead(body: AsyncIterable<Buffer> & { destroy(): void }): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    chunks.push(chunk);
    size += chunk.length;
    if (size >= MAX_LOGGED_BODY) {
      body.destroy();
      break;
    }
  }
  return Buffer.concat(chunks).subarray(0, MAX_LOGGED_BODY).toString('utf8');
}

/** Retry-After as seconds or an HTTP date, in milliseconds from now. */
function retryAfter(header: string | string[] | undefined): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : null;
}

/** ±20 %, so receivers that failed together are not all retried at the same instant. */
function jitter(ms: number): number {
  return Math.round(ms * (0.8 + Math.random() * 0.4));
}

function describe(error: unknown): string {
  if (error instanceof BlockedAddressError) return `blocked: ${error.message}`;
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError' || err.code === 'UND_ERR_HEADERS_TIMEOUT' || err.code === 'UND_ERR_BODY_TIMEOUT') return 'timeout: no complete answer in time';
  if (err.cause instanceof BlockedAddressError) return `blocked: ${err.cause.message}`;
  const code = err.code ?? err.cause?.code;
  return [code, err.message ?? String(error)].filter(Boolean).join(': ').slice(0, 500);
}
