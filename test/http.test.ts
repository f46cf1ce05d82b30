import { beforeAll, describe, expect, test } from 'vitest';
import { createTenant, eventsOf, http, useGateway, type HttpResult, type Tenant } from './support/gateway.js';
import { expectGraphQLRequestError, expectProblem, UUID } from './support/problem.js';

// The HTTP layer: body parsing and limits, routing errors, correlation ids, operational endpoints.
// Every answer here is a deliberate status; none may be a 500.

const gw = useGateway();

const INVOICE = {
  customer: 'Acme',
  issuedDate: '2026-05-30',
  paymentTermsDays: 30,
  items: [{ description: 'Roses', quantity: 2, price: 10, taxRate: 0 }],
};
const CONTACTS = '/api/v1/contacts/contacts';
const MISSING_CONTACT = `${CONTACTS}/contact_01HZZZZZZZZZZZZZZZZZZZZZZZ`;

let tenant: Tenant;
beforeAll(async () => {
  tenant = await createTenant(gw.app);
});

/** A JSON body `{"firstName":"Big","note":"xxx…"}` of exactly `bytes` bytes. */
function bodyOfSize(bytes: number, field = 'note'): string {
  const frame = JSON.stringify({ firstName: 'Big', [field]: '' }).length;
  const body = JSON.stringify({ firstName: 'Big', [field]: 'x'.repeat(bytes - frame) });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

function sortedAllow(res: HttpResult): string[] {
  return (res.headers.get('allow') ?? '')
    .split(',')
    .map((m) => m.trim())
    .sort();
}

describe('request bodies', () => {
  test('invalid JSON with Content-Type application/json → 400 invalid_request', async () => {
    for (const body of ['{not json', '{"firstName": "A",}', 'nul', '{"a":']) {
      const res = await http(gw.url, 'POST', CONTACTS, {
        key: tenant.apiKey,
        body,
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(res, 400, 'invalid_request', {
        title: 'Invalid request',
        detail: 'The request body is not valid JSON.',
      });
    }
    expect(await eventsOf(gw.app, tenant.tenantId)).toEqual([]);
  });

  test('JSON that is not an object → 400 validation_failed', async () => {
    for (const [body, got] of [
      ['null', 'null'],
      ['[]', 'array'],
      ['"text"', 'string'],
      ['42', 'number'],
    ]) {
      const res = await http(gw.url, 'POST', CONTACTS, {
        key: tenant.apiKey,
        body,
        headers: { 'content-type': 'application/json' },
      });
      expectProblem(res, 400, 'validation_failed', {
        detail: `Invalid input: expected object, received ${got}`,
        errors: [{ path: '', message: `Invalid input: expected object, received ${got}` }],
      });
    }
  });

  test('application/json with a charset parameter is accepted', async () => {
    const res = await http(gw.url, 'POST', CONTACTS, {
      key: tenant.apiKey,
      body: { firstName: 'Charset' },
      headers: { 'content-type': 'application/json; charset=utf-8' },
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.firstName).toBe('Charset');
  });

  test('a +json media type (merge-patch) is accepted', async () => {
    const created = await http(gw.url, 'POST', CONTACTS, { key: tenant.apiKey, body: { firstName: 'Merge' } });
    const res = await http(gw.url, 'PATCH', `${CONTACTS}/${created.body.contactId}`, {
      key: tenant.apiKey,
      body: { lastName: 'Patch' },
      headers: { 'content-type': 'application/merge-patch+json' },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.fullName).toBe('Merge Patch');
  });

  test.each([
    ['POST', CONTACTS, 'text/plain', 'hello'],
    ['POST', CONTACTS, 'text/plain', '{"firstName":"A"}'],
    ['POST', CONTACTS, 'text/plain;charset=UTF-8', '{"firstName":"A"}'], // what fetch sends for a bare string
    ['POST', CONTACTS, 'application/xml', '<contact/>'],
    ['POST', CONTACTS, 'application/x-www-form-urlencoded', 'firstName=A'],
    ['PATCH', MISSING_CONTACT, 'text/plain', '{}'],
    ['POST', '/api/v1/invoices', 'text/csv', 'a,b'],
  ])('%s %s with %s → 415 unsupported_media_type', async (method, path, contentType, body) => {
    const res = await http(gw.url, method, path, {
      key: tenant.apiKey,
      body,
      headers: { 'content-type': contentType },
    });
    expectProblem(res, 415, 'unsupported_media_type', {
      title: 'Unsupported media type',
      detail: 'Send the request body as application/json.',
    });
  });

  test('POST /graphql with text/plain → 415 as problem details: not a GraphQL request, so not a GraphQL error body', async () => {
    const res = await http(gw.url, 'POST', '/graphql', {
      key: tenant.apiKey,
      body: '{"query":"{ __typename }"}',
      headers: { 'content-type': 'text/plain' },
    });
    expectProblem(res, 415, 'unsupported_media_type', {
      title: 'Unsupported media type',
      detail: 'Send the request body as application/json.',
    });
  });

  test('nothing was written by the refused bodies', async () => {
    const contacts = await gw.app.services.prisma.contact.findMany({ where: { tenantId: tenant.tenantId } });
    expect(contacts.map((c) => c.firstName).sort()).toEqual(['Charset', 'Merge']);
  });

  test('a body of exactly 1 MiB is read; one byte more → 413 payload_too_large', async () => {
    const atLimit = await http(gw.url, 'POST', CONTACTS, { key: tenant.apiKey, body: bodyOfSize(1_048_576) });
    // Read and validated (note is at most 10 000 characters), not refused for its size.
    expectProblem(atLimit, 400, 'validation_failed', { errors: [{ path: 'note', message: expect.any(String) }] });

    const over = await http(gw.url, 'POST', CONTACTS, { key: tenant.apiKey, body: bodyOfSize(1_048_577) });
    expectProblem(over, 413, 'payload_too_large', {
      title: 'Payload too large',
      detail: 'The request body is larger than this endpoint accepts.',
    });
  });

  test('the body limit applies to every endpoint, GraphQL included', async () => {
    const big = bodyOfSize(1_100_000, 'query');
    for (const [method, path] of [
      ['POST', '/api/v1/invoices'],
      ['PATCH', MISSING_CONTACT],
    ]) {
      const res = await http(gw.url, method!, path!, { key: tenant.apiKey, body: big });
      expectProblem(res, 413, 'payload_too_large');
    }
    expectGraphQLRequestError(
      await http(gw.url, 'POST', '/graphql', { key: tenant.apiKey, body: big }),
      413,
      'payload_too_large',
    );
  });
});

describe('invoice actions and DELETE without a body', () => {
  test('an action with no body at all, and with Content-Type: application/json and an empty body', async () => {
    const first = await http(gw.url, 'POST', '/api/v1/invoices', { key: tenant.apiKey, body: INVOICE });
    const second = await http(gw.url, 'POST', '/api/v1/invoices', { key: tenant.apiKey, body: INVOICE });
    expect([first.status, second.status]).toEqual([201, 201]);

    const bare = await http(gw.url, 'POST', `/api/v1/invoices/${first.body.invoiceId}/issue`, { key: tenant.apiKey });
    expect(bare.status, bare.text).toBe(200);
    expect(bare.body).toMatchObject({ invoiceId: first.body.invoiceId, status: 'issued' });

    const empty = await http(gw.url, 'POST', `/api/v1/invoices/${second.body.invoiceId}/void`, {
      key: tenant.apiKey,
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(empty.status, empty.text).toBe(200);
    expect(empty.body).toMatchObject({ invoiceId: second.body.invoiceId, status: 'void' });

    const emptyObject = await http(gw.url, 'POST', `/api/v1/invoices/${first.body.invoiceId}/pay`, {
      key: tenant.apiKey,
      body: {},
    });
    expect(emptyObject.status, emptyObject.text).toBe(200);
    expect(emptyObject.body.status).toBe('paid');
  });

  test('DELETE with Content-Type: application/json and an empty body → 204', async () => {
    const created = await http(gw.url, 'POST', CONTACTS, { key: tenant.apiKey, body: { firstName: 'Gone' } });
    const res = await http(gw.url, 'DELETE', `${CONTACTS}/${created.body.contactId}`, {
      key: tenant.apiKey,
      body: '',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
  });
});

describe('routing errors', () => {
  test.each([
    ['GET', '/nope'],
    ['GET', '/api/v1/nope'],
    ['POST', '/api/v1/nope'],
    ['GET', '/api/v2/hello'],
    ['GET', `${MISSING_CONTACT}/extra`],
    ['GET', '/api/v1/hello/'], // Fastify does not ignore trailing slashes: 404, not a nonsensical 405
    ['GET', '/health/'],
    ['GET', '/openapiXjson'], // "." in a route is not a wildcard
  ])('%s %s → 404 not_found problem, with or without a key', async (method, path) => {
    for (const key of [undefined, tenant.apiKey]) {
      const res = await http(gw.url, method, path, { key });
      expectProblem(res, 404, 'not_found', { title: 'Not found', detail: `No route ${method} ${path}.` });
      expect(res.headers.get('allow')).toBeNull();
    }
  });

  test('the query string is not part of the 404 detail', async () => {
    const res = await http(gw.url, 'GET', '/nope?secret=1');
    expectProblem(res, 404, 'not_found', { detail: 'No route GET /nope.' });
  });

  test.each([
    ['DELETE', '/api/v1/hello', ['GET']],
    ['POST', '/api/v1/hello', ['GET']],
    ['PUT', CONTACTS, ['GET', 'POST']],
    ['DELETE', CONTACTS, ['GET', 'POST']],
    ['POST', MISSING_CONTACT, ['DELETE', 'GET', 'PATCH']],
    ['PUT', '/api/v1/invoices', ['GET', 'POST']],
    ['DELETE', '/api/v1/invoices/inv_01HZZZZZZZZZZZZZZZZZZZZZZZ', ['GET']],
    ['GET', '/api/v1/invoices/inv_01HZZZZZZZZZZZZZZZZZZZZZZZ/issue', ['POST']],
    ['PUT', '/health', ['GET']],
    ['POST', '/openapi.json', ['GET']],
    ['PATCH', '/graphql', ['DELETE', 'GET', 'OPTIONS', 'POST', 'PUT']],
  ])('%s %s → 405 with Allow', async (method, path, allowed) => {
    for (const key of [undefined, tenant.apiKey]) {
      const res = await http(gw.url, method, path, {
        key,
        body: method === 'GET' || method === 'DELETE' ? undefined : {},
      });
      expectProblem(res, 405, 'method_not_allowed', { title: 'Method not allowed' });
      expect(sortedAllow(res)).toEqual(allowed);
      expect(res.body.detail).toBe(`${method} is not allowed here; use ${res.headers.get('allow')}.`);
    }
  });
});

describe('X-Correlation-Id', () => {
  test('echoed on success and on problems, and used in the problem body', async () => {
    const ok = await http(gw.url, 'GET', '/api/v1/hello', {
      key: tenant.apiKey,
      headers: { 'x-correlation-id': 'corr-ok-1' },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-correlation-id')).toBe('corr-ok-1');

    for (const [method, path, status] of [
      ['GET', '/nope', 404],
      ['DELETE', '/api/v1/hello', 405],
      ['GET', `${CONTACTS}/bad`, 400],
    ] as const) {
      const res = await http(gw.url, method, path, {
        key: tenant.apiKey,
        headers: { 'x-correlation-id': 'trace:abc.123@svc_x-1' },
      });
      expect(res.status).toBe(status);
      expect(res.headers.get('x-correlation-id')).toBe('trace:abc.123@svc_x-1');
      expect(res.body.correlationId).toBe('trace:abc.123@svc_x-1');
    }
    const tooLarge = await http(gw.url, 'POST', CONTACTS, {
      key: tenant.apiKey,
      body: bodyOfSize(1_048_577),
      headers: { 'x-correlation-id': 'corr-413' },
    });
    expectProblem(tooLarge, 413, 'payload_too_large');
    expect(tooLarge.body.correlationId).toBe('corr-413');
  });

  test('a fresh UUID is generated when absent, different for each request', async () => {
    const a = await http(gw.url, 'GET', '/health');
    const b = await http(gw.url, 'GET', '/nope');
    expect(a.headers.get('x-correlation-id')).toMatch(UUID);
    expect(b.headers.get('x-correlation-id')).toMatch(UUID);
    expect(b.body.correlationId).toBe(b.headers.get('x-correlation-id'));
    expect(a.headers.get('x-correlation-id')).not.toBe(b.headers.get('x-correlation-id'));
  });

  test('exactly 128 allowed characters are kept', async () => {
    const id = `${'a'.repeat(127)}Z`;
    const res = await http(gw.url, 'GET', '/nope', { headers: { 'x-correlation-id': id } });
    expect(res.headers.get('x-correlation-id')).toBe(id);
    expect(res.body.correlationId).toBe(id);
  });

  test.each([
    ['longer than 128', 'a'.repeat(129)],
    ['with a space', 'has space'],
    ['with markup', '<script>alert(1)</script>'],
    ['with a quote', 'abc"def'],
    ['with a slash', 'a/b'],
    ['with non-ASCII (latin-1) text', 'caf\u00e9'],
  ])('replaced by a UUID when %s', async (_name, id) => {
    const res = await http(gw.url, 'GET', '/nope', { headers: { 'x-correlation-id': id } });
    expect(res.status).toBe(404);
    expect(res.headers.get('x-correlation-id')).toMatch(UUID);
    expect(res.body.correlationId).toBe(res.headers.get('x-correlation-id'));
  });

  test('written into the event envelope and GraphQL error extensions', async () => {
    const t = await createTenant(gw.app);
    const created = await http(gw.url, 'POST', CONTACTS, {
      key: t.apiKey,
      body: { firstName: 'Traced' },
      headers: { 'x-correlation-id': 'corr-event-1' },
    });
    expect(created.status).toBe(201);
    expect((await eventsOf(gw.app, t.tenantId)).map((e) => [e.type, e.correlationId])).toEqual([
      ['communication.contact.created', 'corr-event-1'],
    ]);

    const gql = await http(gw.url, 'POST', '/graphql', {
      key: t.apiKey,
      body: { query: '{ contact(id: "bad") { id } }' },
      headers: { 'x-correlation-id': 'corr-gql-1' },
    });
    expect(gql.headers.get('x-correlation-id')).toBe('corr-gql-1');
    expect(gql.body.errors[0].extensions).toMatchObject({ code: 'invalid_id', correlationId: 'corr-gql-1' });
  });
});

describe('operational endpoints', () => {
  test('/health and /ready answer 200 without a key', async () => {
    const health = await http(gw.url, 'GET', '/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });
    const ready = await http(gw.url, 'GET', '/ready');
    expect(ready.status).toBe(200);
    const up = { status: 'up', latencyMs: expect.any(Number) };
    // Without REDIS_URL the process needs no Redis: its check says so and the process is ready.
    expect(ready.body).toEqual({
      status: 'ready',
      checks: { database: up, redis: process.env.REDIS_URL ? up : { status: 'not_configured' } },
    });
    expect(ready.headers.get('x-correlation-id')).toMatch(UUID);
  });

  test('/docs serves the human docs of the OpenAPI document, without a key', async () => {
    const page = await fetch(`${gw.url}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('swagger-ui');
    const doc = await http(gw.url, 'GET', '/docs/json');
    expect(doc.body.paths).toHaveProperty('/api/v1/invoices');
  });

  test('/metrics counts requests by route pattern, never by raw URL', async () => {
    await http(gw.url, 'GET', '/api/v1/contacts/contacts/contact_01HZZZZZZZZZZZZZZZZZZZZZZZ', { key: tenant.apiKey });
    const res = await fetch(`${gw.url}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toMatch(
      /^http_request_duration_seconds_count\{method="GET",route="\/api\/v1\/contacts\/contacts\/:contactId",status="404"\} [1-9]/m,
    );
    expect(text).not.toContain('contact_01HZZZZZZZZZZZZZZZZZZZZZZZ');
    expect(text).toContain('process_cpu_seconds_total');
  });

  test('/openapi.json is an OpenAPI 3.1 document listing the /api/v1 operations', async () => {
    const res = await http(gw.url, 'GET', '/openapi.json');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const doc = res.body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });

    const operations = Object.entries(doc.paths as Record<string, Record<string, unknown>>)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([path, item]) =>
        Object.keys(item)
          .filter((k) => k !== 'parameters')
          .map((method) => `${method.toUpperCase()} ${path}`),
      );
    expect(operations).toEqual(
      expect.arrayContaining([
        'GET /api/v1/hello',
        'POST /api/v1/contacts/contacts',
        'GET /api/v1/contacts/contacts',
        'GET /api/v1/contacts/contacts/{contactId}',
        'PATCH /api/v1/contacts/contacts/{contactId}',
        'DELETE /api/v1/contacts/contacts/{contactId}',
        'POST /api/v1/invoices',
        'GET /api/v1/invoices',
        'GET /api/v1/invoices/{invoiceId}',
        'POST /api/v1/invoices/{invoiceId}/issue',
        'POST /api/v1/invoices/{invoiceId}/pay',
        'POST /api/v1/invoices/{invoiceId}/void',
      ]),
    );
    // Operational endpoints are hidden; both auth headers are declared.
    expect(Object.keys(doc.paths)).not.toContain('/health');
    expect(Object.keys(doc.paths)).not.toContain('/openapi.json');
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(['apiKey', 'bearer', 'runnerKey']);
    expect(doc.paths['/api/v1/contacts/contacts'].post.requestBody.content['application/json'].schema).toMatchObject({
      type: 'object',
    });
  });
});

describe('odd requests never answer 500', () => {
  const long = (n: number) => `${CONTACTS}/${'x'.repeat(n)}`;
  test.each([
    ['GET', `${CONTACTS}/%E0%A4%A`, 400, 'invalid_request', undefined], // undecodable percent-encoding
    ['GET', `${CONTACTS}/${'x'.repeat(300)}`, 400, 'invalid_id', undefined],
    ['GET', long(1001), 414, 'uri_too_long', undefined],
    ['GET', `${CONTACTS}/contact_01hzzzzzzzzzzzzzzzzzzzzzzz`, 400, 'invalid_id', undefined],
    ['GET', `${CONTACTS}?limit=abc`, 400, 'validation_failed', undefined],
    ['GET', `${CONTACTS}?limit=0`, 400, 'validation_failed', undefined],
    ['GET', `${CONTACTS}?limit=501`, 400, 'validation_failed', undefined],
    ['GET', `${CONTACTS}?cursor=!!!`, 400, 'validation_failed', undefined],
    ['GET', `${CONTACTS}?unknown=1`, 400, 'validation_failed', undefined],
    ['POST', CONTACTS, 400, 'validation_failed', { customData: 'not an object' }],
    ['POST', CONTACTS, 400, 'validation_failed', { firstName: 'A', unknownField: 1 }],
    ['POST', CONTACTS, 400, 'validation_failed', { email: `${'x'.repeat(300)}@a.test` }],
    ['POST', '/api/v1/invoices', 400, 'validation_failed', { ...INVOICE, issuedDate: '2026-02-30' }],
    [
      'POST',
      '/api/v1/invoices',
      400,
      'validation_failed',
      { ...INVOICE, items: [{ description: 'x', quantity: 1e300, price: 1e300, taxRate: 0 }] },
    ],
    [
      'POST',
      '/api/v1/invoices',
      400,
      'validation_failed',
      { ...INVOICE, items: [{ description: 'x', quantity: 'NaN', price: 1, taxRate: 0 }] },
    ],
    ['POST', '/api/v1/invoices', 400, 'invalid_id', { ...INVOICE, customerContactId: 'nope' }],
    ['POST', '/api/v1/invoices/inv_bad/issue', 400, 'invalid_id', undefined],
  ])('%s %s → %i %s', async (method, path, status, code, body) => {
    const res = await http(gw.url, method, path, { key: tenant.apiKey, body });
    expectProblem(
      res,
      status,
      code,
      code === 'validation_failed' || code === 'invalid_id' ? { errors: expect.any(Array) } : {},
    );
  });

  test('a /graphql body that is not JSON → 400 invalid_request as a GraphQL error body', async () => {
    expectGraphQLRequestError(
      await http(gw.url, 'POST', '/graphql', { key: tenant.apiKey, body: '{' }),
      400,
      'invalid_request',
    );
  });

  test('malformed GraphQL requests answer GraphQL errors, not 500', async () => {
    // The client's request is wrong: GraphQL errors with the REST code invalid_request.
    const cases: [unknown, number][] = [
      [{ query: 1 }, 400],
      [{}, 400],
      [{ query: '{ nope }' }, 200],
      [{ query: '{' }, 200],
      [{ query: 'query ($n: Int!) { __typename }', variables: { n: 'x' } }, 200],
    ];
    for (const [body, status] of cases) {
      const code = 'invalid_request';
      const res = await http(gw.url, 'POST', '/graphql', { key: tenant.apiKey, body });
      expect({ status: res.status, code: res.body?.errors?.[0]?.extensions?.code }, res.text).toEqual({ status, code });
      expect(res.body.errors[0].extensions.correlationId).toBe(res.headers.get('x-correlation-id'));
    }
  });
});

describe('BODY_LIMIT_BYTES override', () => {
  const small = useGateway({ BODY_LIMIT_BYTES: '2048' });

  test('a 2048-byte body is accepted; 2049 bytes → 413 payload_too_large, REST and GraphQL', async () => {
    const t = await createTenant(small.app);
    const atLimit = await http(small.url, 'POST', CONTACTS, { key: t.apiKey, body: bodyOfSize(2048) });
    expect(atLimit.status, atLimit.text).toBe(201);

    expectProblem(
      await http(small.url, 'POST', CONTACTS, { key: t.apiKey, body: bodyOfSize(2049) }),
      413,
      'payload_too_large',
    );
    expectGraphQLRequestError(
      await http(small.url, 'POST', '/graphql', { key: t.apiKey, body: bodyOfSize(2049) }),
      413,
      'payload_too_large',
    );
    expect(await small.app.services.prisma.contact.count({ where: { tenantId: t.tenantId } })).toBe(1);
  });
});
