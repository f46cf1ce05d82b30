import { canRead, EVENT_TYPES, matchesPattern } from '../events/types.js';

// Webhooks' rules, as pure functions: which endpoints receive an event type, what an attempt's
// outcome means for its delivery and endpoint, and which claimed delivery goes next.

/** Whether an endpoint receives an event type: its patterns match, and the tenant has the feature. */
export function endpointWants(
  endpoint: { eventTypes: readonly string[] },
  features: readonly string[],
  type: string,
): boolean {
  return canRead(features, type) && endpoint.eventTypes.some((pattern) => matchesPattern(type, pattern));
}

/** The event types an endpoint's patterns name (whatever the tenant's features): what its filter's fields are checked against. */
export const typesOf = (patterns: readonly string[]): string[] =>
  EVENT_TYPES.filter((type) => patterns.some((pattern) => matchesPattern(type, pattern)));

/** Retry-After is honoured up to a day. */
const MAX_RETRY_AFTER_MS = 86_400_000;
/**
 * A claimed delivery must start within this of its claim, so that its claim (timeout + this)
 * outlasts the attempt; one that could not is handed back. A claimed delivery whose process died is
 * due again once the attempt could no longer be running.
 */
export const CLAIM_GRACE_MS = 5_000;
/** The shortest sleep between two looks for due deliveries. */
const MIN_WAIT_MS = 10;

/** Whether an answer counts as received: any 2xx. */
export function succeeded(statusCode: number | null): boolean {
  return statusCode !== null && statusCode >= 200 && statusCode < 300;
}

/**
 * The wait before the next attempt of a delivery that has failed `attemptsMade` times, or null when
 * the schedule is spent: the schedule's next delay with ±20 % jitter (so receivers that failed
 * together are not all retried at the same instant), or the receiver's Retry-After if later.
 */
export function retryDelay(
  scheduleMs: readonly number[],
  attemptsMade: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number | null {
  const planned = scheduleMs[attemptsMade];
  if (planned === undefined) return null;
  return Math.max(Math.round(planned * (0.8 + random() * 0.4)), retryAfterMs ?? 0);
}

/** Retry-After as seconds or an HTTP date, in milliseconds after `now`; null when absent or past. */
export function retryAfterMs(header: string | string[] | undefined, now: number = Date.now()): number | null {
  const value = Array.isArray(header) ? header[0] : header;
  if (!value) return null;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - now;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : null;
}

/** What becomes of a delivery after an attempt: done, or due again at `nextAttemptAt`. */
export type DeliveryNext = { status: 'succeeded' | 'failed' | 'pending'; nextAttemptAt: Date | null };

/**
 * A delivery after its attempt number `attemptsMade`: a 2xx ends it, 410 Gone fails it for good,
 * any other outcome is retried on the schedule (see retryDelay) until the schedule is spent.
 */
export function deliveryAfterAttempt(
  outcome: { statusCode: number | null; retryAfterMs: number | null },
  attemptsMade: number,
  scheduleMs: readonly number[],
  now: number = Date.now(),
  random: () => number = Math.random,
): DeliveryNext {
  if (succeeded(outcome.statusCode)) return { status: 'succeeded', nextAttemptAt: null };
  const delay = outcome.statusCode === 410 ? null : retryDelay(scheduleMs, attemptsMade, outcome.retryAfterMs, random);
  return delay === null
    ? { status: 'failed', nextAttemptAt: null }
    : { status: 'pending', nextAttemptAt: new Date(now + delay) };
}

/** An endpoint's run of failures: when it started (null: its last attempt succeeded). */
export type FailureRun = { since: Date | null; disable: 'gone' | 'failing' | null };

/**
 * The endpoint's failure run after one more attempt: a success ends it, a failure starts it or
 * carries it on; a 410 disables the endpoint at once, and failing for `disableAfterMs` does too.
 */
export function afterAttempt(
  run: FailureRun,
  attempt: { statusCode: number | null; attemptedAt: Date },
  disableAfterMs: number,
): FailureRun {
  if (succeeded(attempt.statusCode)) return { since: null, disable: run.disable };
  const since = run.since ?? attempt.attemptedAt;
  if (attempt.statusCode === 410) return { since, disable: 'gone' };
  const failing = attempt.attemptedAt.getTime() - since.getTime() >= disableAfterMs;
  return { since, disable: run.disable ?? (failing ? 'failing' : null) };
}

/** An endpoint's failure run as stored before a batch of attempts (`failingSince`) and after it. */
export type EndpointRun = FailureRun & { failingSince: Date | null };

/**
 * Each endpoint's failure run after a batch of attempts, taken in order, each with its endpoint's
 * `failingSince` as its claim read it.
 */
export function failureRuns(
  attempts: readonly { endpointId: string; failingSince: Date | null; statusCode: number | null; attemptedAt: Date }[],
  disableAfterMs: number,
): Map<string, EndpointRun> {
  const runs = new Map<string, EndpointRun>();
  for (const { endpointId, failingSince, statusCode, attemptedAt } of attempts) {
    const run = runs.get(endpointId) ?? { failingSince, since: failingSince, disable: null };
    runs.set(endpointId, { failingSince, ...afterAttempt(run, { statusCode, attemptedAt }, disableAfterMs) });
  }
  return runs;
}

/** What an endpoint's row needs after a batch of attempts. */
export type EndpointChange =
  | { kind: 'disable'; since: Date | null; reason: 'gone' | 'failing' }
  | { kind: 'recovered' }
  | { kind: 'failing'; since: Date }
  | null;

/** The endpoint row changes only when its failure run starts or ends, or it is disabled. */
export function endpointChange({ failingSince, since, disable }: EndpointRun): EndpointChange {
  if (disable) return { kind: 'disable', since, reason: disable };
  if (since === null && failingSince !== null) return { kind: 'recovered' };
  if (since !== null && failingSince === null) return { kind: 'failing', since };
  return null;
}

/**
 * Deliveries claimed per statement: a few rounds of sending, so claims do not pace the POSTs.
 * Always the same number in a process, written into the statement (see sql.ts).
 */
export function claimSize(concurrency: number): number {
  return concurrency * 4;
}

/** How long a claim is exclusive: the attempt's timeout plus the grace to start it. */
export function claimLeaseMs(timeoutMs: number): number {
  return timeoutMs + CLAIM_GRACE_MS;
}

/** Whether a queued delivery can no longer start within its claim, so goes back unsent. */
export function claimLapsing(claimedAt: number, now: number): boolean {
  return now - claimedAt > CLAIM_GRACE_MS;
}

/**
 * Whether to claim more now: claims wait while the queue holds two rounds (a claim takes
 * milliseconds under load, and a round of POSTs to fast receivers less), or while records lag far
 * behind the sending.
 */
export function wantsClaim(queued: number, recording: number, concurrency: number): boolean {
  return queued < 2 * concurrency && recording < 2 * claimSize(concurrency);
}

/**
 * How long to sleep before looking for due deliveries again: until the next one is due, at most the
 * poll interval (which covers deliveries created by a process that could not NOTIFY).
 */
export function nextWakeMs(msUntilNextDue: number | null, pollMs: number): number {
  return msUntilNextDue === null ? pollMs : Math.min(pollMs, Math.max(MIN_WAIT_MS, msUntilNextDue));
}

/**
 * Which queued delivery to send next: the first, in claim order (the claim's own fair order
 * across tenants and endpoints), whose endpoint has fewer than `perEndpoint` attempts in flight;
 * -1 when every queued one waits for its endpoint.
 */
export function nextToSend(
  queue: readonly { endpointId: string }[],
  inFlight: ReadonlyMap<string, number>,
  perEndpoint: number,
): number {
  return queue.findIndex((delivery) => (inFlight.get(delivery.endpointId) ?? 0) < perEndpoint);
}

/**
 * What one process holds of each endpoint (attempts in flight and queued), for the claim: an
 * endpoint holding `perEndpoint` or more gets none (its due deliveries are left to other processes
 * or for later), the others up to two rounds, `2 × perEndpoint`, minus what they hold.
 */
export function heldByEndpoint(
  queue: readonly { endpointId: string }[],
  inFlight: ReadonlyMap<string, number>,
): Map<string, number> {
  const held = new Map(inFlight);
  for (const { endpointId } of queue) held.set(endpointId, (held.get(endpointId) ?? 0) + 1);
  return held;
}

/** The endpoints a claim skips: those holding a round already. */
export function fullEndpoints(held: ReadonlyMap<string, number>, perEndpoint: number): string[] {
  return [...held].filter(([, count]) => count >= perEndpoint).map(([endpointId]) => endpointId);
}

/**
 * Whether an endpoint a claim skipped (see fullEndpoints) may be claimed again, now that one of its
 * attempts ended and it holds `held`.
 */
export function roomAgain(held: number, perEndpoint: number): boolean {
  return held === perEndpoint - 1;
}
