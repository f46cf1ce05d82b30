import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { FastifyBaseLogger } from 'fastify';
import { Agent, type Dispatcher } from 'undici';
import type { WebhookConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import { eventEnvelope, type EventEnvelope, type EventFacts } from '../events/service.js';
import { newId } from '../../core/ids.js';
import { DELIVERIES_CHANNEL } from '../../db/channels.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { groupCommit, passRunner } from '../../core/passes.js';
import { BlockedAddressError, type AddressGuard } from './address-guard.js';
import {
  afterAttempt,
  fullEndpoints,
  heldByEndpoint,
  nextToSend,
  retryAfterMs,
  retryDelay,
  succeeded,
  type FailureRun,
} from './policy.js';
import { countWebhookAttempt } from '../../metrics.js';

/** Response bodies are logged up to this many bytes; the rest is not even read. */
const MAX_LOGGED_BODY = 4096;
/**
 * A claimed delivery must start within this of its claim, so that its claim (timeout + this)
 * outlasts the attempt; one that could not is handed back. A claimed delivery whose process died is
 * due again once the attempt could no longer be running.
 */
const CLAIM_GRACE_MS = 5_000;
/** The logged error of an attempt without a complete answer within the timeout. */
const TIMED_OUT = 'timeout: no complete answer in time';

/** An endpoint as a claim reads it, with what signing and sending to it need. */
type ClaimedEndpoint = {
  id: string;
  target: Target;
  failingSince: Date | null;
  /** The keys of its active secrets, newest first: one signature each. */
  keys: KeyObject[];
};
/** A claimed delivery with what sending it needs, read in the claim's statement. */
type Claimed = {
  id: string;
  endpointId: string;
  endpoint: ClaimedEndpoint;
  /** Attempts logged before this one. */
  attemptCount: number;
  envelope: EventEnvelope;
  /** The envelope as sent; deliveries of one event in a claim share it. */
  body: string;
};
type Outcome = {
  statusCode: number | null;
  headers: Record<string, string> | null;
  body: string | null;
  error: string | null;
  durationMs: number;
  retryAfterMs: number | null;
};
type Attempted = { delivery: Claimed; attemptedAt: Date; outcome: Outcome };

/**
 * Sends due webhook deliveries: claims them in the database (SKIP LOCKED, so processes never send
 * one twice at once), signs and POSTs each, logs the attempt and schedules what is next. Woken
 * by NOTIFY when deliveries are created or retried; a timer covers scheduled retries.
 *
 * The database work is batched so it does not pace the sending: one statement claims a few rounds
 * of deliveries with everything the POSTs need, a slot is free again as soon as its POST ends, and
 * attempts that end while a record is being written are written together in the next one (group
 * commit).
 *
 * Fairness: an endpoint has at most `endpointConcurrency` attempts in flight in a process, the
 * claim takes turns across tenants and their endpoints (and skips endpoints this process already
 * holds a round of), and a slot goes to the first queued delivery whose endpoint has room, so a
 * slow or failing endpoint holds a few slots, never all. Only a POST counts as an attempt: what
 * is claimed and not sent goes back unchanged.
 */
export async function startDeliveryWorker(options: {
  database: Database;
  config: WebhookConfig;
  guard: AddressGuard;
  pollMs: number;
  log: FastifyBaseLogger;
}) {
  const { database, config, guard, pollMs, log } = options;
  const { prisma } = database;
  // Connections go only to allowed addresses; redirects are never followed (the dispatcher has no
  // redirect interceptor). post() bounds the whole attempt; undici's own phase timeouts are set to
  // the same, so its 300 s defaults never cut a longer WEBHOOK_TIMEOUT short.
  const agent = new Agent({
    connect: { lookup: guard.lookup },
    headersTimeout: config.timeoutMs,
    bodyTimeout: config.timeoutMs,
  });
  const perEndpoint = config.endpointConcurrency;
  /** Attempts whose POST is in flight: at most `concurrency`. */
  const sending = new Set<Promise<void>>();
  /** Attempts in flight by endpoint id: at most `perEndpoint` each. */
  const inFlight = new Map<string, number>();
  /** Attempts sent and waiting to be recorded: the slot is free, the database catches up. */
  const recording = new Set<Promise<void>>();
  /** Claimed deliveries being handed back unsent. */
  const handingBack = new Set<Promise<void>>();
  /** Claimed and not yet sent, in the claims' fair order. */
  const queue: (Claimed & { claimedAt: number })[] = [];
  /**
   * Deliveries claimed per statement: a few rounds of sending, so claims do not pace the POSTs.
   * Always the same numbers, written into the statement: with the limit a parameter, PostgreSQL
   * never trusts a generic plan and plans every claim anew.
   */
  const claimSize = config.concurrency * 4;
  /**
   * Whether a claim may find something: not after one that took less than it could, until a
   * wake-up from outside (NOTIFY, timer, poll), or an endpoint the claim skipped has room again.
   */
  let claimable = true;
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const passes = passRunner(claimAndSend, (err) =>
    log.warn({ err }, 'webhook worker pass failed; retrying at the next poll'),
  );
  const records = groupCommit<Attempted>(recordAttempts);
  const wake = () => {
    claimable = true;
    passes.wake();
  };

  /**
   * Claims wait while the queue holds two rounds (a claim takes milliseconds under load, and a
   * round of POSTs to fast receivers less), or while records lag far behind the sending.
   */
  const wantsClaim = () => claimable && queue.length < 2 * config.concurrency && recording.size < 2 * claimSize;

  async function claimAndSend(): Promise<void> {
    handBackStale();
    if (!wantsClaim()) return;
    const held = heldByEndpoint(queue, inFlight);
    const claimed = await claim(held);
    const claimedAt = Date.now();
    for (const delivery of claimed) queue.push({ ...delivery, claimedAt });
    sendQueued();
    // Whatever of this claim is still queued then goes back, even if nothing else happens meanwhile.
    if (queue.length) setTimeout(sendQueued, CLAIM_GRACE_MS + 10).unref();
    if (claimed.length === claimSize) return passes.wake(); // there may be more due
    claimable = false;
    await scheduleNextDue(fullEndpoints(heldByEndpoint(queue, inFlight), perEndpoint));
  }

  /** Starts queued deliveries while slots are free, each as soon as its endpoint has room. */
  function sendQueued(): void {
    handBackStale();
    while (!stopping && sending.size < config.concurrency) {
      const index = nextToSend(queue, inFlight, perEndpoint);
      if (index === -1) return;
      const [delivery] = queue.splice(index, 1);
      const { endpointId } = delivery!;
      inFlight.set(endpointId, (inFlight.get(endpointId) ?? 0) + 1);
      const task = attempt(delivery!).finally(() => {
        sending.delete(task);
        const left = inFlight.get(endpointId)! - 1;
        if (left) inFlight.set(endpointId, left);
        else inFlight.delete(endpointId);
        // The claim skipped this endpoint while it held a round; now it may take more of it.
        if (left + queue.filter((queued) => queued.endpointId === endpointId).length === perEndpoint - 1)
          claimable = true;
        sendQueued();
        if (wantsClaim()) passes.wake();
      });
      sending.add(task);
    }
  }

  /**
   * A claim is exclusive for the timeout plus CLAIM_GRACE_MS: started later, its attempt could
   * outlive the claim. Queued deliveries that could not start in time are handed back unsent, due
   * again at once and with no attempt spent, for this process or another.
   */
  function handBackStale(): void {
    const now = Date.now();
    const stale = queue.filter((delivery) => now - delivery.claimedAt > CLAIM_GRACE_MS);
    if (!stale.length) return;
    queue.splice(0, queue.length, ...queue.filter((delivery) => !stale.includes(delivery)));
    const handedBack = handBack(stale.map((delivery) => delivery.id))
      .catch((err) =>
        log.warn(
          { err },
          'claimed webhook deliveries could not be handed back; they are due again when their claim lapses',
        ),
      )
      .finally(() => handingBack.delete(handedBack));
    handingBack.add(handedBack);
  }

  async function handBack(ids: string[]): Promise<void> {
    await prisma.$executeRaw`UPDATE "WebhookDelivery" SET "claimedUntil" = NULL WHERE "id" = ANY(${ids}) AND "status" = 'pending'`;
  }

  /**
   * Claims up to `claimSize` due deliveries of enabled endpoints, in turns: every endpoint offers
   * its oldest due deliveries, up to two rounds (`2 × perEndpoint`) less what this process holds of
   * it, and none if it holds a round already; each tenant's offers are numbered round-robin over
   * its endpoints, and the claim takes every tenant's first turn, then every second, oldest first
   * within a turn. Their endpoints and events come in the same statement, each once however many
   * of the claimed deliveries share it. (`= ANY(ARRAY(…))` rather than `IN (…)`, with which the
   * planner, not knowing how few ids a claim has, was seen scanning the whole event log instead of
   * looking each one up.)
   */
  async function claim(held: Map<string, number>): Promise<Claimed[]> {
    type Row = {
      deliveries:
        | { id: string; endpointId: string; eventId: string; attemptCount: number; payload: EventEnvelope | null }[]
        | null;
      endpoints: { id: string; url: string; failingSince: string | null; secrets: string[] }[] | null;
      events: (Omit<EventFacts, 'occurredAt'> & { occurredAt: string; data: Prisma.JsonValue })[] | null;
    };
    const [row] = await database.query<Row>(
      `WITH held AS (
        SELECT * FROM unnest($2::text[], $3::int[]) AS h("endpointId", "count")
      ), offered AS (
        SELECT due."id", e."tenantId", due."nextAttemptAt",
          row_number() OVER (PARTITION BY e."id" ORDER BY due."nextAttemptAt", due."id") AS "endpointTurn"
        FROM "WebhookEndpoint" AS e
        LEFT JOIN held AS h ON h."endpointId" = e."id"
        CROSS JOIN LATERAL (
          SELECT d."id", d."nextAttemptAt" FROM "WebhookDelivery" AS d
          WHERE d."endpointId" = e."id" AND d."status" = 'pending' AND d."nextAttemptAt" <= now()
            AND (d."claimedUntil" IS NULL OR d."claimedUntil" <= now())
          ORDER BY d."nextAttemptAt" LIMIT ${2 * perEndpoint} - coalesce(h."count", 0)
          FOR UPDATE SKIP LOCKED) AS due
        WHERE e."enabled" AND coalesce(h."count", 0) < ${perEndpoint}
      ), chosen AS (
        SELECT "id", "turn", "nextAttemptAt" FROM (
          SELECT "id", "nextAttemptAt", row_number() OVER (PARTITION BY "tenantId" ORDER BY "endpointTurn", "nextAttemptAt") AS "turn"
          FROM offered) AS turns
        ORDER BY "turn", "nextAttemptAt" LIMIT ${claimSize}
      ), claimed AS (
        UPDATE "WebhookDelivery" AS d
        SET "claimedUntil" = now() + $1 * interval '1 millisecond'
        WHERE d."id" = ANY(ARRAY(SELECT "id" FROM chosen))
        RETURNING d."id", d."endpointId", d."eventId", d."payload", d."attemptCount")
      SELECT
        (SELECT json_agg(json_build_object('id', c."id", 'endpointId', c."endpointId", 'eventId', c."eventId",
           'attemptCount', c."attemptCount", 'payload', c."payload") ORDER BY ch."turn", ch."nextAttemptAt")
         FROM claimed AS c JOIN chosen AS ch ON ch."id" = c."id") AS "deliveries",
        (SELECT json_agg(json_build_object('id', e."id", 'url', e."url", 'failingSince', e."failingSince",
           'secrets', ARRAY(SELECT s."secret" FROM "WebhookSecret" AS s
                            WHERE s."endpointId" = e."id" AND (s."expiresAt" IS NULL OR s."expiresAt" > now())
                            ORDER BY s."createdAt" DESC)))
         FROM "WebhookEndpoint" AS e WHERE e."id" = ANY(ARRAY(SELECT "endpointId" FROM claimed))) AS "endpoints",
        (SELECT json_agg(json_build_object('id', ev."id", 'type', ev."type", 'tenantSequence', ev."tenantSequence",
           'occurredAt', ev."occurredAt", 'correlationId', ev."correlationId", 'resourceType', ev."resourceType",
           'resourceId', ev."resourceId", 'data', ev."data"))
         FROM "Event" AS ev WHERE ev."id" = ANY(ARRAY(SELECT "eventId" FROM claimed))) AS "events"`,
      [config.timeoutMs + CLAIM_GRACE_MS, [...held.keys()], [...held.values()]],
    );
    // json has timestamps without their zone, which is UTC.
    const utc = (timestamp: string) => new Date(`${timestamp}Z`);
    const endpoints = new Map(
      (row?.endpoints ?? []).map((endpoint) => [
        endpoint.id,
        {
          id: endpoint.id,
          target: targetOf(endpoint.url),
          failingSince: endpoint.failingSince === null ? null : utc(endpoint.failingSince),
          keys: endpoint.secrets.map(signingKey),
        },
      ]),
    );
    const events = new Map(
      (row?.events ?? []).map((event) => {
        const envelope = eventEnvelope({ ...event, occurredAt: utc(event.occurredAt) });
        return [event.id, { envelope, body: JSON.stringify(envelope) }];
      }),
    );
    return (row?.deliveries ?? []).map((delivery) => ({
      id: delivery.id,
      endpointId: delivery.endpointId,
      endpoint: endpoints.get(delivery.endpointId)!,
      attemptCount: delivery.attemptCount,
      // Test events carry their envelope; the others are the event's, as the log has it.
      ...(delivery.payload
        ? { envelope: delivery.payload, body: JSON.stringify(delivery.payload) }
        : events.get(delivery.eventId)!),
    }));
  }

  /**
   * An endpoint URL's origin and path, and its refusal when its host is an IP literal outside the
   * allowed addresses (names are checked by the agent's lookup, at connect time).
   */
  const targetOf = memoized((url: string): Target => {
    const parsed = new URL(url);
    const host = parsed.hostname.replace(/^\[|\]$/g, '');
    const blocked = isIP(host) && !guard.isAllowed(host) ? new BlockedAddressError(host, host) : null;
    return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, blocked };
  });
  const signingKey = memoized(secretKey);

  /**
   * Sleeps until the earliest scheduled retry (or the poll interval, whichever is sooner). Endpoints
   * the claim skips are left out: a slot of theirs freeing up wakes the worker.
   */
  async function scheduleNextDue(skipped: string[]): Promise<void> {
    const [next] = await prisma.$queryRaw<{ ms: number | null }[]>`
      SELECT EXTRACT(EPOCH FROM (min(GREATEST(d."nextAttemptAt", d."claimedUntil")) - now())) * 1000 AS ms
      FROM "WebhookDelivery" AS d JOIN "WebhookEndpoint" AS e ON e."id" = d."endpointId"
      WHERE d."status" = 'pending' AND e."enabled" AND d."endpointId" <> ALL(${skipped})`;
    clearTimeout(timer);
    const wait = next?.ms === null || next?.ms === undefined ? pollMs : Math.min(pollMs, Math.max(10, Number(next.ms)));
    timer = setTimeout(wake, wait);
    timer.unref();
  }

  /** Sends one delivery; its record is written afterwards, together with others (group commit). */
  async function attempt(delivery: Claimed): Promise<void> {
    const attemptedAt = new Date();
    const outcome = await send(delivery);
    countWebhookAttempt(outcome.statusCode);
    const recorded = records
      .add({ delivery, attemptedAt, outcome })
      .catch((err) => log.error({ err, deliveryId: delivery.id }, 'webhook attempt could not be recorded'))
      .finally(() => {
        recording.delete(recorded);
        if (wantsClaim()) wake();
      });
    recording.add(recorded);
  }

  async function send({ endpoint, envelope, body }: Claimed): Promise<Outcome> {
    const timestamp = Math.floor(Date.now() / 1000);
    // One "v1,<signature>" per active secret, so receivers on the old or the new secret both verify.
    const signature = endpoint.keys.map((key) => sign(key, envelope.id, timestamp, body)).join(' ');
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      if (endpoint.target.blocked) throw endpoint.target.blocked;
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'nilo-gateway-webhooks/1',
        'webhook-id': envelope.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signature,
        'x-correlation-id': envelope.correlationId,
      };
      const response = await post(agent, endpoint.target, headers, body, config.timeoutMs);
      return {
        statusCode: response.statusCode,
        headers: Object.fromEntries(
          Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
        ),
        body: response.body,
        error: null,
        durationMs: elapsed(),
        retryAfterMs: retryAfterMs(response.headers['retry-after']),
      };
    } catch (error) {
      return {
        statusCode: null,
        headers: null,
        body: null,
        error: describe(error),
        durationMs: elapsed(),
        retryAfterMs: null,
      };
    }
  }

  /** Logs a batch of attempts and schedules what is next for their deliveries and endpoints. */
  async function recordAttempts(batch: Attempted[]): Promise<void> {
    const endpoints = new Map<string, FailureRun & { failingSince: Date | null }>();
    const rows = batch.map(({ delivery, attemptedAt, outcome }) => {
      const ok = succeeded(outcome.statusCode);
      const gone = outcome.statusCode === 410;
      const delay = retryDelay(config.retryScheduleMs, delivery.attemptCount + 1, outcome.retryAfterMs);
      // The endpoint's failure run, as it stands after this attempt (attempts of a batch in order).
      const { failingSince } = delivery.endpoint;
      const run = endpoints.get(delivery.endpointId) ?? { failingSince, since: failingSince, disable: null };
      endpoints.set(delivery.endpointId, {
        failingSince,
        ...afterAttempt(run, { statusCode: outcome.statusCode, attemptedAt }, config.disableAfterMs),
      });
      return {
        attemptId: newId('whatt'),
        deliveryId: delivery.id,
        attemptedAt: attemptedAt.toISOString(),
        durationMs: outcome.durationMs,
        statusCode: outcome.statusCode,
        responseHeaders: outcome.headers,
        responseBody: outcome.body,
        error: outcome.error,
        status: ok ? 'succeeded' : gone || delay === null ? 'failed' : 'pending',
        nextAttemptAt: ok || gone || delay === null ? null : new Date(Date.now() + delay).toISOString(),
      };
    });
    // The endpoint row only when its failure run starts or ends, or it is disabled.
    for (const [id, { failingSince, since, disable }] of endpoints) {
      if (disable) {
        await prisma.webhookEndpoint.updateMany({
          where: { id },
          data: { failingSince: since, enabled: false, disabledReason: disable },
        });
        log.warn({ endpointId: id, reason: disable }, 'webhook endpoint disabled');
      } else if (since === null && failingSince !== null) {
        // Bookkeeping, not a change to the endpoint: raw, so updatedAt stays as the client left it.
        await prisma.$executeRaw`UPDATE "WebhookEndpoint" SET "failingSince" = NULL WHERE "id" = ${id}`;
      } else if (since !== null && failingSince === null) {
        await prisma.$executeRaw`UPDATE "WebhookEndpoint" SET "failingSince" = ${since} WHERE "id" = ${id} AND "failingSince" IS NULL`;
      }
    }
    // One statement for the whole batch. Deliveries deleted with their endpoint meanwhile are not
    // updated, so their attempts are not inserted either.
    await database.query(
      `
      WITH attempted AS (
        SELECT * FROM jsonb_to_recordset($1::jsonb) AS a(
          "attemptId" text, "deliveryId" text, "attemptedAt" timestamp(3), "durationMs" integer, "statusCode" integer,
          "responseHeaders" jsonb, "responseBody" text, "error" text, "status" text, "nextAttemptAt" timestamp(3))
      ), updated AS (
        UPDATE "WebhookDelivery" AS d
        SET "attemptCount" = d."attemptCount" + 1, "lastAttemptAt" = a."attemptedAt", "status" = a."status",
          "nextAttemptAt" = a."nextAttemptAt", "claimedUntil" = NULL
        -- The ids again as an array: the planner then reads them by primary key rather than
        -- joining the whole table to a function whose row count it cannot know.
        FROM attempted AS a WHERE d."id" = a."deliveryId" AND d."id" = ANY($2)
        RETURNING d."id"
      )
      INSERT INTO "WebhookAttempt" ("id", "deliveryId", "attemptedAt", "durationMs", "statusCode", "responseHeaders", "responseBody", "error")
      SELECT a."attemptId", a."deliveryId", a."attemptedAt", a."durationMs", a."statusCode", a."responseHeaders", a."responseBody", a."error"
      FROM attempted AS a JOIN updated AS u ON u."id" = a."deliveryId"`,
      [JSON.stringify(rows), rows.map((row) => row.deliveryId)],
    );
  }

  await database.listen(DELIVERIES_CHANNEL, wake);
  const poll = setInterval(wake, pollMs);
  poll.unref();
  wake();

  return {
    wake,
    /** Stops claiming and waits for the attempts in flight (each ends within the timeout). */
    async stop() {
      stopping = true;
      await passes.stop();
      clearInterval(poll);
      clearTimeout(timer);
      await Promise.all(sending);
      await Promise.all(recording);
      await agent.close();
      // What was claimed and not sent is due again at once, for this or another process.
      const unsent = queue.splice(0).map((delivery) => delivery.id);
      if (unsent.length) await handBack(unsent);
      await Promise.all(handingBack);
    },
  };
}

/** A secret's signing key: the base64 after `whsec_`. */
function secretKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret.replace(/^whsec_/, ''), 'base64'));
}

/**
 * A Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the
 * secret's key. node:crypto's HMAC, where the standardwebhooks package hashes in JavaScript; tests
 * verify with the package.
 */
function sign(key: KeyObject, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/** Where an endpoint's POSTs go, parsed once. */
type Target = { origin: string; path: string; blocked: BlockedAddressError | null };
type Answer = { statusCode: number; headers: Record<string, string | string[] | undefined>; body: string };

/** An attempt that had no complete answer within the timeout. */
class AttemptTimeoutError extends Error {}

/**
 * POSTs `body` and resolves with the answer's status, headers and first MAX_LOGGED_BODY bytes;
 * the rest is not read. The whole attempt (connecting, headers, body) has `timeoutMs`. On
 * undici's dispatcher directly rather than through request(), which wraps every answer in a
 * stream and a promise chain that cost as much as the rest of the request together.
 */
function post(
  agent: Agent,
  target: Target,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    let controller: Dispatcher.DispatchController | undefined;
    let settled = false;
    let statusCode = 0;
    let responseHeaders: Answer['headers'] = {};
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: Error | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) reject(error);
      else
        resolve({
          statusCode,
          headers: responseHeaders,
          body: Buffer.concat(chunks).subarray(0, MAX_LOGGED_BODY).toString('utf8'),
        });
    };
    const timer = setTimeout(() => {
      settle(new AttemptTimeoutError());
      controller?.abort(new AttemptTimeoutError());
    }, timeoutMs);
    agent.dispatch(
      { origin: target.origin, path: target.path, method: 'POST', headers, body },
      {
        onRequestStart(started) {
          controller = started;
          if (settled) started.abort(new AttemptTimeoutError());
        },
        onResponseStart(_, status, answerHeaders) {
          statusCode = status;
          responseHeaders = answerHeaders;
        },
        onResponseData(current, chunk) {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= MAX_LOGGED_BODY) {
            settle(null);
            current.abort(new Error('the rest of the answer is not read'));
          }
        },
        onResponseEnd() {
          settle(null);
        },
        onResponseError(_, error) {
          settle(error);
        },
      },
    );
  });
}

/**
 * `compute` remembered by its argument: endpoints come back in every claim, and parsing their
 * addresses and keys each time costs more than keeping them. Bounded by starting over.
 */
function memoized<T>(compute: (key: string) => T, max = 10_000): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    if (known.has(key)) return known.get(key)!;
    if (known.size >= max) known.clear();
    const value = compute(key);
    known.set(key, value);
    return value;
  };
}

function describe(error: unknown): string {
  if (error instanceof BlockedAddressError) return `blocked: ${error.message}`;
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (
    error instanceof AttemptTimeoutError ||
    err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err.code === 'UND_ERR_BODY_TIMEOUT'
  )
    return TIMED_OUT;
  if (err.cause instanceof BlockedAddressError) return `blocked: ${err.cause.message}`;
  const code = err.code ?? err.cause?.code;
  return [code, err.message ?? String(error)].filter(Boolean).join(': ').slice(0, 500);
}
