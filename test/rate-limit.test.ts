import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway } from './support/gateway.js';
import { expectGraphQLRequestError, expectProblem } from './support/problem.js';

// Limits are per application and minute; a small budget makes the refusal reachable.
const gw = useGateway({ RATE_LIMIT_PER_MINUTE: '5' });

describe('rate limits', () => {
  test('every answer carries the IETF draft headers; the 6th request in a minute → 429 with Retry-After', async () => {
    const tenant = await createTenant(gw.app);
    for (let used = 1; used <= 5; used++) {
      const res = await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"default";q=5;w=60');
      expect(res.headers.get('ratelimit')).toMatch(new RegExp(`^"default";r=${5 - used};t=([1-9]|[1-5][0-9]|60)$`));
    }
    const refused = await http(gw.url, 'POST', '/api/v1/contacts/contacts', { key: tenant.apiKey, body: { firstName: 'Late' } });
    expectProblem(refused, 429, 'rate_limited', { title: 'Too many requests' });
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(refused.headers.get('ratelimit')).toBe(`"default";r=0;t=${retryAfter}`);
    // Refused before anything ran: no contact was written.
    expect(await gw.app.services.prisma.contact.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
    // GraphQL shares the budget and answers in its own error shape.
    const gql = await http(gw.url, 'POST', '/graphql', { key: tenant.apiKey, body: { query: '{ viewer { application { id } } }' } });
    expectGraphQLRequestError(gql, 429, 'rate_limited');
  });

  test('each application has its own budget; unauthenticated requests are not counted against anyone', async () => {
    const busy = await createTenant(gw.app);
    const other = await createTenant(gw.app);
    for (let i = 0; i < 5; i++) await http(gw.url, 'GET', '/api/v1/hello', { key: busy.apiKey });
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: busy.apiKey })).status).toBe(429);

    const fresh = await http(gw.url, 'GET', '/api/v1/hello', { key: other.apiKey });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('ratelimit')).toMatch(/^"default";r=4;t=\d+$/);
    const anonymous = await http(gw.url, 'GET', '/api/v1/hello');
    expectProblem(anonymous, 401, 'unauthorized');
    expect(anonymous.headers.get('ratelimit')).toBeNull();
  });
});

// With REDIS_URL every gateway process draws on one budget per application.
if (process.env.REDIS_URL) {
  describe('rate limits across processes (Redis)', () => {
    const second = useGateway({ RATE_LIMIT_PER_MINUTE: '5' });

    test('requests to two gateways count against one budget', async () => {
      const tenant = await createTenant(gw.app);
      for (let i = 0; i < 3; i++) expect((await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey })).status).toBe(200);
      for (let i = 0; i < 2; i++) expect((await http(second.url, 'GET', '/api/v1/hello', { key: tenant.apiKey })).status).toBe(200);
      expectProblem(await http(second.url, 'GET', '/api/v1/hello', { key: tenant.apiKey }), 429, 'rate_limited');
      expectProblem(await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey }), 429, 'rate_limited');
    });
  });
}
