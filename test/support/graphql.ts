import { expect } from 'vitest';
import { http } from './gateway.js';

export type GqlError = { message: string; path?: (string | number)[]; extensions: Record<string, any> };
export type GqlResult = { status: number; correlationId: string | null; data?: any; errors?: GqlError[] };

/** POST /graphql on the gateway at `baseUrl()`; keeps the response's X-Correlation-Id next to the body. */
export function graphqlClient(baseUrl: () => string) {
  return async (
    key: string | undefined,
    query: string,
    variables?: Record<string, unknown>,
    headers?: Record<string, string>,
  ): Promise<GqlResult> => {
    const res = await http(baseUrl(), 'POST', '/graphql', { key, body: { query, variables }, headers });
    expect(res.body, `not a GraphQL response: ${res.text}`).toBeTypeOf('object');
    return {
      status: res.status,
      correlationId: res.headers.get('x-correlation-id'),
      data: res.body.data,
      errors: res.body.errors,
    };
  };
}

/** A successful result: no errors at all. */
export function ok(result: GqlResult) {
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  expect(result.status).toBe(200);
  return result.data;
}

/** Exactly one error with this code, on this field, carrying the response's correlation id. */
export function failed(result: GqlResult, code: string, field: string): GqlError {
  expect(result.errors, JSON.stringify(result.data)).toHaveLength(1);
  const [error] = result.errors!;
  expect(error!.extensions.code, JSON.stringify(error)).toBe(code);
  expect(error!.path).toEqual([field]);
  expect(result.correlationId).toMatch(/\S/);
  expect(error!.extensions.correlationId).toBe(result.correlationId);
  return error!;
}
