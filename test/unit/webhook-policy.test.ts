import { describe, expect, test } from 'vitest';
import {
  afterAttempt,
  CLAIM_GRACE_MS,
  claimLapsing,
  claimLeaseMs,
  claimSize,
  deliveryAfterAttempt,
  endpointChange,
  failureRuns,
  fullEndpoints,
  heldByEndpoint,
  nextToSend,
  nextWakeMs,
  retryAfterMs,
  retryDelay,
  roomAgain,
  succeeded,
  wantsClaim,
} from '../../src/features/webhooks/policy.js';

describe('retryDelay', () => {
  const schedule = [0, 5_000, 300_000];
  test('the schedule entry after the attempts made, ±20 %', () => {
    expect(retryDelay(schedule, 1, null, () => 0)).toBe(4_000);
    expect(retryDelay(schedule, 1, null, () => 0.5)).toBe(5_000);
    expect(retryDelay(schedule, 2, null, () => 0.999_999)).toBe(360_000);
  });
  test('Retry-After wins when later', () => {
    expect(retryDelay(schedule, 1, 60_000, () => 0.5)).toBe(60_000);
    expect(retryDelay(schedule, 2, 60_000, () => 0.5)).toBe(300_000);
  });
  test('null once the schedule is spent', () => {
    expect(retryDelay(schedule, 3, null)).toBeNull();
    expect(retryDelay(schedule, 7, 1_000)).toBeNull();
  });
});

describe('retryAfterMs', () => {
  const now = Date.parse('2026-12-06T00:00:00Z');
  test.each([
    ['120', 120_000],
    [' 5 ', 5_000],
    ['Sun, 06 Dec 2026 00:01:00 GMT', 60_000],
    [['30', '60'], 30_000],
    ['999999999', 86_400_000],
  ] as const)('%j', (header, ms) => expect(retryAfterMs(header as string | string[], now)).toBe(ms));
  test.each([undefined, '', '0', '-5', 'soon', 'Sat, 05 Dec 2026 00:00:00 GMT'])('%j is ignored', (header) =>
    expect(retryAfterMs(header, now)).toBeNull(),
  );
});

test('succeeded: any 2xx', () => {
  expect([200, 204, 299].every(succeeded)).toBe(true);
  expect([null, 199, 300, 410, 500].some(succeeded)).toBe(false);
});

describe('afterAttempt: the endpoint failure run and when it disables the endpoint', () => {
  const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 0, 0, s));
  const DAY = 10_000; // ten seconds stand for the disabling period
  test('a failure starts the run, a success ends it', () => {
    const failing = afterAttempt({ since: null, disable: null }, { statusCode: 500, attemptedAt: at(1) }, DAY);
    expect(failing).toEqual({ since: at(1), disable: null });
    expect(afterAttempt(failing, { statusCode: null, attemptedAt: at(5) }, DAY)).toEqual({
      since: at(1),
      disable: null,
    });
    expect(afterAttempt(failing, { statusCode: 204, attemptedAt: at(5) }, DAY)).toEqual({ since: null, disable: null });
  });
  test('failing for the whole period disables it', () => {
    expect(afterAttempt({ since: at(1), disable: null }, { statusCode: 503, attemptedAt: at(11) }, DAY)).toEqual({
      since: at(1),
      disable: 'failing',
    });
    expect(afterAttempt({ since: at(1), disable: null }, { statusCode: 503, attemptedAt: at(10) }, DAY)).toEqual({
      since: at(1),
      disable: null,
    });
  });
  test('410 Gone disables it at once', () => {
    expect(afterAttempt({ since: null, disable: null }, { statusCode: 410, attemptedAt: at(1) }, DAY)).toEqual({
      since: at(1),
      disable: 'gone',
    });
    expect(afterAttempt({ since: at(0), disable: 'failing' }, { statusCode: 410, attemptedAt: at(20) }, DAY)).toEqual({
      since: at(0),
      disable: 'gone',
    });
  });
  test('a decision taken in a batch stands', () => {
    expect(afterAttempt({ since: at(0), disable: 'gone' }, { statusCode: 200, attemptedAt: at(2) }, DAY)).toEqual({
      since: null,
      disable: 'gone',
    });
  });
});

describe('fair choice between endpoints', () => {
  const queue = [
    { endpointId: 'slow' },
    { endpointId: 'slow' },
    { endpointId: 'failing' },
    { endpointId: 'healthy' },
    { endpointId: 'slow' },
  ];
  test('the first queued delivery whose endpoint has room goes next', () => {
    expect(nextToSend(queue, new Map(), 2)).toBe(0);
    expect(nextToSend(queue, new Map([['slow', 2]]), 2)).toBe(2);
    expect(
      nextToSend(
        queue,
        new Map([
          ['slow', 2],
          ['failing', 2],
        ]),
        2,
      ),
    ).toBe(3);
    expect(
      nextToSend(
        queue,
        new Map([
          ['slow', 2],
          ['failing', 2],
          ['healthy', 2],
        ]),
        2,
      ),
    ).toBe(-1);
    expect(nextToSend([], new Map(), 2)).toBe(-1);
  });
  test('what a process holds per endpoint, and which endpoints a claim skips', () => {
    const held = heldByEndpoint(
      queue,
      new Map([
        ['slow', 1],
        ['other', 1],
      ]),
    );
    expect(Object.fromEntries(held)).toEqual({ slow: 4, failing: 1, healthy: 1, other: 1 });
    expect(fullEndpoints(held, 2)).toEqual(['slow']);
    expect(fullEndpoints(held, 1).sort()).toEqual(['failing', 'healthy', 'other', 'slow']);
  });
});

describe('deliveryAfterAttempt: what becomes of the delivery', () => {
  const schedule = [0, 5_000, 300_000];
  const now = Date.UTC(2026, 11, 6);
  const half = () => 0.5;
  const nextOf = (statusCode: number | null, attemptsMade: number, retryAfter: number | null = null) =>
    deliveryAfterAttempt({ statusCode, retryAfterMs: retryAfter }, attemptsMade, schedule, now, half);

  test('a 2xx ends it', () => {
    expect(nextOf(204, 1)).toEqual({ status: 'succeeded', nextAttemptAt: null });
    expect(nextOf(200, 3)).toEqual({ status: 'succeeded', nextAttemptAt: null });
  });
  test('any other outcome is retried on the schedule', () => {
    expect(nextOf(500, 1)).toEqual({ status: 'pending', nextAttemptAt: new Date(now + 5_000) });
    expect(nextOf(null, 2)).toEqual({ status: 'pending', nextAttemptAt: new Date(now + 300_000) });
    expect(nextOf(429, 1, 60_000)).toEqual({ status: 'pending', nextAttemptAt: new Date(now + 60_000) });
  });
  test('it fails once the schedule is spent, and at once on 410 Gone', () => {
    expect(nextOf(500, 3)).toEqual({ status: 'failed', nextAttemptAt: null });
    expect(nextOf(null, 3)).toEqual({ status: 'failed', nextAttemptAt: null });
    expect(nextOf(410, 1)).toEqual({ status: 'failed', nextAttemptAt: null });
  });
  test('the delays jitter by ±20 %, so receivers that failed together are not retried together', () => {
    const delays = [0, 0.25, 0.75, 0.999].map(
      (random) =>
        deliveryAfterAttempt(
          { statusCode: 503, retryAfterMs: null },
          1,
          schedule,
          now,
          () => random,
        ).nextAttemptAt!.getTime() - now,
    );
    expect(delays).toEqual([4_000, 4_500, 5_500, 5_998]);
  });
});

describe("failureRuns and endpointChange: an endpoint's row after a batch of attempts", () => {
  const at = (s: number) => new Date(Date.UTC(2026, 11, 6, 0, 0, s));
  const DAY = 10_000;
  const attempt = (endpointId: string, failingSince: Date | null, statusCode: number | null, s: number) => ({
    endpointId,
    failingSince,
    statusCode,
    attemptedAt: at(s),
  });

  test('attempts are taken in order, per endpoint', () => {
    const runs = failureRuns(
      [
        attempt('a', null, 500, 1),
        attempt('b', at(0), 200, 1),
        attempt('a', null, 502, 2),
        attempt('c', at(0), 503, 11),
        attempt('d', null, 500, 1),
        attempt('d', null, 200, 2),
      ],
      DAY,
    );
    expect(Object.fromEntries(runs)).toEqual({
      a: { failingSince: null, since: at(1), disable: null },
      b: { failingSince: at(0), since: null, disable: null },
      c: { failingSince: at(0), since: at(0), disable: 'failing' },
      d: { failingSince: null, since: null, disable: null },
    });
    expect(Object.fromEntries([...runs].map(([id, run]) => [id, endpointChange(run)]))).toEqual({
      a: { kind: 'failing', since: at(1) },
      b: { kind: 'recovered' },
      c: { kind: 'disable', since: at(0), reason: 'failing' },
      d: null,
    });
  });
  test('410 Gone disables the endpoint whatever follows in the batch', () => {
    const [run] = failureRuns([attempt('a', null, 410, 1), attempt('a', null, 200, 2)], DAY).values();
    expect(endpointChange(run!)).toEqual({ kind: 'disable', since: null, reason: 'gone' });
  });
  test('a run that goes on, or a success that changes nothing, leaves the row alone', () => {
    const [failing] = failureRuns([attempt('a', at(0), 500, 3)], DAY).values();
    const [fine] = failureRuns([attempt('a', null, 200, 3)], DAY).values();
    expect(endpointChange(failing!)).toBeNull();
    expect(endpointChange(fine!)).toBeNull();
  });
});

describe('claims', () => {
  test('a claim takes four rounds of the concurrency, always the same number', () => {
    expect(claimSize(8)).toBe(32);
    expect(claimSize(1)).toBe(4);
  });
  test('a claim outlasts the attempt: its timeout plus the grace to start it', () => {
    expect(claimLeaseMs(10_000)).toBe(10_000 + CLAIM_GRACE_MS);
  });
  test('a queued delivery that can no longer start within its claim goes back', () => {
    expect(claimLapsing(1_000, 1_000 + CLAIM_GRACE_MS)).toBe(false);
    expect(claimLapsing(1_000, 1_001 + CLAIM_GRACE_MS)).toBe(true);
  });
  test('claims wait while two rounds are queued or the records lag', () => {
    expect(wantsClaim(0, 0, 8)).toBe(true);
    expect(wantsClaim(15, 63, 8)).toBe(true);
    expect(wantsClaim(16, 0, 8)).toBe(false);
    expect(wantsClaim(0, 64, 8)).toBe(false);
  });
  test('a skipped endpoint is claimed again once it holds less than a round', () => {
    expect(roomAgain(1, 2)).toBe(true);
    expect(roomAgain(2, 2)).toBe(false);
    expect(roomAgain(0, 2)).toBe(false); // it was not skipped: it never held a round
  });
  test('the worker sleeps until the next delivery is due, at most the poll interval', () => {
    expect(nextWakeMs(null, 1_000)).toBe(1_000);
    expect(nextWakeMs(250, 1_000)).toBe(250);
    expect(nextWakeMs(60_000, 1_000)).toBe(1_000);
    expect(nextWakeMs(-5_000, 1_000)).toBe(10);
  });
});
