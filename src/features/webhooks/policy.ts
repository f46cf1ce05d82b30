// The delivery worker's rules, as pure functions: what an attempt's outcome means for its delivery
// and endpoint, and which claimed delivery goes next.

/** Retry-After is honoured up to a day. */
const MAX_RETRY_AFTER_MS = 86_400_000;

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
