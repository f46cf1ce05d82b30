import { expect } from 'vitest';
import type { HttpResult } from './gateway.js';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
export const PROBLEM_JSON = 'application/problem+json; charset=utf-8';

/**
 * Asserts an RFC 9457 problem in the Nilo shape: status, content type, `type` derived from
 * `code`, and `correlationId` equal to the X-Correlation-Id response header.
 */
export function expectProblem(
  res: HttpResult,
  status: number,
  code: string,
  more: { title?: string; detail?: string; errors?: unknown } = {},
): void {
  expect({ status: res.status, body: res.body }, res.text).toMatchObject({ status, body: { code } });
  expect(res.headers.get('content-type')).toBe(PROBLEM_JSON);
  const correlationId = res.headers.get('x-correlation-id');
  expect(correlationId).toBeTruthy();
  // `errors` (field failures) is compared only when the caller names it.
  const { errors, ...body } = res.body;
  expect(body).toEqual({
    type: `https://nilo-assistant.com/problems/${code.replaceAll('_', '-')}`,
    title: more.title ?? expect.any(String),
    status,
    detail: more.detail ?? expect.stringMatching(/\S/),
    code,
    correlationId,
  });
  if (more.errors !== undefined) expect(errors).toEqual(more.errors);
}

/** The field paths a validation problem names. */
export function errorPaths(res: HttpResult): string[] {
  return (res.body.errors as { path: string }[]).map((e) => e.path);
}

export const ISO_TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function expectTimestampWithin(value: string, before: number, after: number): void {
  expect(value).toMatch(ISO_TIMESTAMP);
  const t = Date.parse(value);
  expect(t).toBeGreaterThanOrEqual(before);
  expect(t).toBeLessThanOrEqual(after);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Asserts an error refused by the HTTP layer before GraphQL ran (body, idempotency), answered
 * to a /graphql request as a GraphQL error body with the REST code.
 */
export function expectGraphQLRequestError(res: HttpResult, status: number, code: string): void {
  expect({ status: res.status, code: res.body?.errors?.[0]?.extensions?.code }, res.text).toEqual({ status, code });
  expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(res.body).toEqual({
    errors: [
      { message: expect.any(String), extensions: { code, status, correlationId: res.headers.get('x-correlation-id') } },
    ],
  });
}
