import { describe, expect, test } from 'vitest';
import {
  afterAttempt,
  fullEndpoints,
  heldByEndpoint,
  nextToSend,
  retryAfterMs,
  retryDelay,
  succeeded,
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
