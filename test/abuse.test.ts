import net from 'node:net';
import { beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createTenant, eventsOf, http, useGateway, type HttpResult, type Tenant } from './support/gateway.js';
import { expectProblem, PROBLEM_JSON, UUID } from './support/problem.js';

// Abusive input, sent as an attacker would: every request is refused quickly with a 4xx problem
// (never a 500, never a hang), changes nothing, and the process's memory stays bounded.

// Short HTTP time limits, so the slow-client tests take a second or two.
const LIMIT_MS = 1500;
const gw = useGateway({ REQUEST_HEADERS_TIMEOUT: `${LIMIT_MS}ms`, REQUEST_BODY_TIMEOUT: `${LIMIT_MS}ms` });

const CONTACTS = '/api/v1/contacts/contacts';
const INVOICE = { customer: 'Acme', issuedDate: '2026-05-30', paymentTermsDays: 30 };
const LINE = { description: 'Roses', price: 10, taxRate: 0 };

/** The tenant every refused request is sent as: it must end the suite with nothing stored. */
let victim: Tenant;
let rssBefore: number;
beforeAll(async () => {
  victim = await createTenant(gw.app);
  rssBefore = process.memoryUsage().rss;
});

/** Sends `body` as raw text with Content-Type application/json, and how long the answer took. */
async function post(
  path: string,
  body: string,
  headers: Record<string, string> = {},
): Promise<HttpResult & { ms: number }> {
  const started = performance.now();
  const res = await http(gw.url, 'POST', path, {
    key: victim.apiKey,
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  return { ...res, ms: performance.now() - started };
}

/** A refusal that came quickly: an answer in seconds, not a hang or a crawl through the input. */
function expectQuickProblem(res: HttpResult & { ms: number }, status: number, code: string, errors?: unknown) {
  expectProblem(res, status, code, errors === undefined ? {} : { errors });
  expect(res.ms).toBeLessThan(3000);
}

const nestedArrays = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
const nestedObjects = (levels: number) => `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;

describe('deep JSON', () => {
  test('5,000 levels in a body, customData, a search or GraphQL variables → 400 invalid_request before anything recurses', async () => {
    for (const [path, body] of [
      [CONTACTS, nestedArrays(5000)],
      [CONTACTS, `{"firstName":"Deep","customData":${nestedObjects(5000)}}`],
      [`${CONTACTS}/search`, `{"filters":[{"field":"email","operator":"is","value":${nestedArrays(5000)}}]}`],
      ['/api/v1/jobs', `{"resourceType":"demo.echo","input":${nestedObjects(100_000)}}`],
    ] as const) {
      expectQuickProblem(await post(path, body), 400, 'invalid_request');
    }
    const gql = await post('/graphql', `{"query":"{ __typename }","variables":{"x":${nestedObjects(5000)}}}`);
    expect(gql.status).toBe(400);
    expect(gql.body.errors[0].extensions).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(gql.body.errors[0].message).toBe('The request body nests deeper than 64 levels.');
  });

  test("GraphQL GET: variables in the URL are held to the body's rules (depth, exact numbers, storable text)", async () => {
    const query = 'query($x: [EventFilterInput!]) { events(first: 1, filters: $x) { edges { node { id } } } }';
    const get = (variables: string) =>
      http(gw.url, 'GET', `/graphql?query=${encodeURIComponent(query)}&variables=${encodeURIComponent(variables)}`, {
        key: victim.apiKey,
      });
    const filter = (value: string) => `{"x":[{"field":"correlationId","operator":"is","value":${value}}]}`;
    const deep = await get(filter(nestedArrays(200)));
    expect(deep.status).toBe(400);
    expect(deep.body.errors[0]).toMatchObject({
      message: 'The variables parameter nests deeper than 64 levels.',
      extensions: { code: 'invalid_request', status: 400 },
    });
    const refused = [
      ['"a\\u0000"', 'must not contain NUL characters (U+0000)'],
      ['12345678901234567890123', expect.stringContaining('cannot be represented exactly')],
    ] as const;
    for (const [value, message] of refused) {
      const res = await get(filter(value));
      expect(res.status, res.text).toBe(400);
      expect(res.body.errors[0].extensions).toMatchObject({
        code: 'validation_failed',
        errors: [{ path: 'variables.x[0].value', message }],
      });
    }
    const fine = await get(filter('"ok"'));
    expect(fine.status, fine.text).toBe(200);
    expect(fine.body.data).toEqual({ events: { edges: [] } });
  });

  test('64 levels are accepted up to the domain, which names what it refuses', async () => {
    // The body is 64 deep: {customData:{a:{a:…}}} with the innermost at level 64.
    const res = await post(CONTACTS, `{"firstName":"\\u0000","customData":${nestedObjects(63)}}`);
    expectProblem(res, 400, 'validation_failed', {
      errors: [{ path: 'firstName', message: 'must not contain NUL characters (U+0000)' }],
    });
  });
});

describe('NUL and unpaired surrogates', () => {
  const NUL = 'must not contain NUL characters (U+0000)';
  const SURROGATE = 'must not contain unpaired UTF-16 surrogates';

  test.each([
    ['POST', CONTACTS, '{"firstName":"Ada\\u0000"}', 'firstName', NUL],
    ['POST', CONTACTS, '{"firstName":"\\ud800"}', 'firstName', SURROGATE],
    ['POST', CONTACTS, '{"firstName":"Ada","customData":{"note":["ok","\\udfff"]}}', 'customData.note[1]', SURROGATE],
    [
      'POST',
      CONTACTS,
      '{"firstName":"Ada","customData":{"k\\u0000":1}}',
      'customData.k\u0000',
      `has a key that ${NUL}`,
    ],
    ['PATCH', `${CONTACTS}/contact_01HZZZZZZZZZZZZZZZZZZZZZZZ`, '{"city":"\\u0000"}', 'city', NUL],
    [
      'POST',
      '/api/v1/invoices',
      JSON.stringify({ ...INVOICE, items: [{ ...LINE, quantity: 1, description: 'x\ud800' }] }),
      'items[0].description',
      SURROGATE,
    ],
    [
      'POST',
      `${CONTACTS}/search`,
      '{"filters":[{"field":"email","operator":"contains","value":"\\u0000"}]}',
      'filters[0].value',
      NUL,
    ],
    [
      'POST',
      `${CONTACTS}/import`,
      '{"contacts":[{"email":"a@example.com"},{"email":"b@example.com","firstName":"\\udc00"}]}',
      'contacts[1].firstName',
      SURROGATE,
    ],
    ['POST', '/api/v1/jobs', '{"resourceType":"demo.echo","input":{"message":"\\u0000"}}', 'input.message', NUL],
    [
      'POST',
      '/api/v1/webhooks/endpoints',
      '{"url":"https://example.com/hook","description":"\\ud83d"}',
      'description',
      SURROGATE,
    ],
  ])('%s %s %s → 400 validation_failed naming %s', async (method, path, body, field, message) => {
    const started = performance.now();
    const res = await http(gw.url, method, path, {
      key: victim.apiKey,
      body,
      headers: { 'content-type': 'application/json' },
    });
    expectQuickProblem({ ...res, ms: performance.now() - started }, 400, 'validation_failed', [
      { path: field, message },
    ]);
  });

  test('escaped surrogate pairs (emoji) are ordinary text', async () => {
    const res = await http(gw.url, 'POST', `${CONTACTS}/search`, {
      key: victim.apiKey,
      body: '{"filters":[{"field":"firstName","operator":"is","value":"\\ud83d\\ude00"}]}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status, res.text).toBe(200);
  });

  test('in query strings and path ids (decoded %00) → 400 validation_failed naming the parameter', async () => {
    for (const [path, field] of [
      [`${CONTACTS}?cursor=%00`, 'cursor'],
      ['/api/v1/events?types=accounting.%00', 'types'],
      ['/api/v1/jobs?resourceType=a%00', 'resourceType'],
      [`${CONTACTS}/contact_%00`, 'contactId'],
      ['/api/v1/invoices/inv_%00/pdf', 'invoiceId'],
    ]) {
      const res = await http(gw.url, 'GET', path!, { key: victim.apiKey });
      expectProblem(res, 400, 'validation_failed', { errors: [{ path: field, message: NUL }] });
    }
    // A surrogate cannot be percent-encoded as UTF-8: the URL itself is refused.
    expectProblem(await http(gw.url, 'GET', `${CONTACTS}/%ED%A0%80`, { key: victim.apiKey }), 400, 'invalid_request');
  });

  test('in an Idempotency-Key: NUL is refused by the HTTP parser, other bytes by the key rule, both as problems', async () => {
    const nul = await rawExchange(
      `POST ${CONTACTS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${victim.apiKey}\r\nContent-Type: application/json\r\n` +
        'Idempotency-Key: a\0b\r\nContent-Length: 2\r\n\r\n{}',
    );
    expectRawProblem(nul, 400, 'invalid_request');
    const latin1 = await rawExchange(
      `POST ${CONTACTS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${victim.apiKey}\r\nContent-Type: application/json\r\n` +
        'Idempotency-Key: a\xffb\r\nContent-Length: 20\r\nConnection: close\r\n\r\n{"firstName":"Idem"}',
    );
    expectRawProblem(latin1, 400, 'invalid_request');
  });

  test('in GraphQL variables → validation_failed naming the variable; in literals → refused by the domain or the parser', async () => {
    const mutation = 'mutation($in: CreateContactInput!) { createContact(input: $in) { id } }';
    const variables = await post(
      '/graphql',
      `{"query":${JSON.stringify(mutation)},"variables":{"in":{"firstName":"\\u0000"}}}`,
    );
    expect(variables.status).toBe(400);
    expect(variables.body.errors[0].extensions).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'variables.in.firstName', message: NUL }],
    });

    const literal = await post(
      '/graphql',
      JSON.stringify({
        query: 'mutation { createContact(input: {firstName: "a", customData: {k: "\\u0000"}}) { id } }',
      }),
    );
    expect(literal.status).toBe(200);
    expect(literal.body.errors[0].extensions).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'customData.k', message: NUL }],
    });

    const lone = await post(
      '/graphql',
      JSON.stringify({ query: 'mutation { createContact(input: {firstName: "\\uD800"}) { id } }' }),
    );
    expect(lone.body.errors[0].extensions.code).toBe('invalid_request');

    for (const query of [
      '{ contacts(after: "\\u0000") { edges { cursor } } }',
      '{ events(types: ["\\u0000"]) { edges { cursor } } }',
      '{ contact(id: "\\u0000") { id } }',
    ]) {
      const res = await post('/graphql', JSON.stringify({ query }));
      expect(['invalid_request', 'invalid_id', 'validation_failed'], query).toContain(
        res.body.errors[0].extensions.code,
      );
    }
  });
});

describe('numbers that a double would change', () => {
  test('0.99999999999999999999 and 1e400 are refused naming their paths, never rounded', async () => {
    const body = `{"customer":"Acme","issuedDate":"2026-05-30","paymentTermsDays":30,"items":[{"description":"a","quantity":0.99999999999999999999,"price":1,"taxRate":0},{"description":"b","quantity":1,"price":1e400,"taxRate":0}]}`;
    const res = await post('/api/v1/invoices', body);
    expectQuickProblem(res, 400, 'validation_failed', [
      {
        path: 'items[0].quantity',
        message:
          '0.99999999999999999999 cannot be represented exactly as a number (it would become 1); send it as a decimal string',
      },
      {
        path: 'items[1].price',
        message:
          '1e400 cannot be represented exactly as a number (it would become Infinity); send it as a decimal string',
      },
    ]);
    expect(res.body.detail).toBe(`items[0].quantity: ${res.body.errors[0].message} (and 1 more)`);
  });

  test('in GraphQL variables too', async () => {
    const query = 'mutation($in: CreateInvoiceInput!) { createInvoice(input: $in) { id } }';
    const res = await post(
      '/graphql',
      `{"query":${JSON.stringify(query)},"variables":{"in":{"customer":"A","issuedDate":"2026-05-30","paymentTermsDays":30,"items":[{"description":"a","quantity":12345678901234567890,"price":1,"taxRate":0}]}}}`,
    );
    expect(res.status).toBe(400);
    expect(res.body.errors[0].extensions).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'variables.in.items[0].quantity' }],
    });
  });
});

describe('over a websocket (graphql-ws parses messages itself)', () => {
  test('a rounded number, NUL, or a 5,000-level document in a message refuses its operation, naming the path', async () => {
    const ws = new WebSocket(`${gw.url.replace('http', 'ws')}/graphql`, 'graphql-transport-ws');
    const received: any[] = [];
    ws.on('message', (data) => received.push(JSON.parse(String(data))));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${victim.apiKey}` } }));
    await waitFor(() => received.some((m) => m.type === 'connection_ack'));
    const mutation = JSON.stringify('mutation($in: CreateContactInput!) { createContact(input: $in) { id } }');
    const subscribe = (id: string, input: string) =>
      ws.send(`{"id":"${id}","type":"subscribe","payload":{"query":${mutation},"variables":{"in":${input}}}}`);
    subscribe('rounded', '{"firstName":"Ws","customData":{"n":0.99999999999999999999}}');
    subscribe('nul', '{"firstName":"Ws\\u0000"}');
    subscribe('deep', `{"firstName":"Ws","customData":${nestedObjects(5000)}}`);
    await waitFor(() => received.filter((m) => m.type === 'error').length === 3);
    const errorOf = (id: string) => received.find((m) => m.id === id && m.type === 'error').payload[0].extensions;
    expect(errorOf('rounded')).toMatchObject({
      code: 'validation_failed',
      status: 400,
      errors: [{ path: 'payload.variables.in.customData.n' }],
    });
    expect(errorOf('nul')).toMatchObject({
      code: 'validation_failed',
      errors: [{ path: 'payload.variables.in.firstName', message: 'must not contain NUL characters (U+0000)' }],
    });
    expect(errorOf('deep')).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(received.filter((m) => m.type === 'next')).toEqual([]);
    ws.close();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('search values are literal text', () => {
  test('% and _ match nothing they do not equal; a trailing backslash is no error', async () => {
    for (const [operator, value] of [
      ['is', '%'],
      ['is', '_'],
      ['contains', '%'],
      ['is', 'a\\'],
      ['contains', '\\'],
      ['is_any_of', ['%', 'x\\']],
    ]) {
      const res = await post(`${CONTACTS}/search`, JSON.stringify({ filters: [{ field: 'email', operator, value }] }));
      expect(res.status, res.text).toBe(200);
      expect(res.body.count).toBe(0);
    }
  });
});

/** One raw HTTP/1.1 exchange: what the server wrote and how long until it closed the connection. */
function rawExchange(
  request: string,
  { stallAfterWrite = false } = {},
): Promise<{ text: string; closedAfterMs: number }> {
  const { port } = new URL(gw.url);
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const socket = net.connect(Number(port), '127.0.0.1', () => socket.write(Buffer.from(request, 'latin1')));
    let text = '';
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('error', () => {}); // a reset after the answer is still an answer
    socket.on('close', () => resolve({ text, closedAfterMs: performance.now() - started }));
    // A hung connection fails the test instead of hanging it.
    const guard = setTimeout(
      () => {
        socket.destroy();
        reject(new Error(`the server kept the connection open; it wrote ${JSON.stringify(text.slice(0, 200))}`));
      },
      stallAfterWrite ? LIMIT_MS * 4 : 10_000,
    );
    socket.on('close', () => clearTimeout(guard));
  });
}

/** The last response on a raw exchange, as a problem (RFC 9457, with code and correlationId). */
function expectRawProblem(exchange: { text: string }, status: number, code: string) {
  const responses = exchange.text.split(/(?=HTTP\/1\.1 \d{3} )/);
  const last = responses.at(-1)!;
  const [head, body] = last.split('\r\n\r\n');
  expect(head, exchange.text).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(head!.toLowerCase()).toContain(`content-type: ${PROBLEM_JSON}`);
  const problem = JSON.parse(body!);
  expect(problem).toMatchObject({
    status,
    code,
    type: `https://nilo-assistant.com/problems/${code.replaceAll('_', '-')}`,
  });
  expect(problem.correlationId).toMatch(UUID);
  expect(head!.toLowerCase()).toContain(`x-correlation-id: ${problem.correlationId}`);
  return problem;
}

describe('the HTTP layer', () => {
  test('a body that never finishes is answered 408 and closed within the limit, with a key', async () => {
    const stalled = await rawExchange(
      `POST ${CONTACTS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${victim.apiKey}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"firstName":"Sl`,
      { stallAfterWrite: true },
    );
    expectRawProblem(stalled, 408, 'request_timeout');
    expect(stalled.closedAfterMs).toBeGreaterThanOrEqual(LIMIT_MS - 100);
    expect(stalled.closedAfterMs).toBeLessThan(LIMIT_MS + 2000);
  });

  test('… and without one: the 401 comes at once, the connection is closed within the limit', async () => {
    const stalled = await rawExchange(
      `POST ${CONTACTS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"firstName":"Sl`,
      { stallAfterWrite: true },
    );
    expect(stalled.text).toMatch(/^HTTP\/1\.1 401 /);
    expect(stalled.closedAfterMs).toBeLessThan(LIMIT_MS + 2000);
  });

  test('headers that never finish are answered 408 and closed within the limit', async () => {
    const stalled = await rawExchange(`GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: `, { stallAfterWrite: true });
    expectRawProblem(stalled, 408, 'request_timeout');
    expect(stalled.closedAfterMs).toBeLessThan(LIMIT_MS + 2000);
  });

  test('headers too large → 431 headers_too_large as a problem', async () => {
    const res = await rawExchange(`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expectRawProblem(res, 431, 'headers_too_large');
  });

  test('malformed HTTP and a bad Content-Length → 400 invalid_request as a problem', async () => {
    expectRawProblem(await rawExchange('GARBAGE\r\n\r\n'), 400, 'invalid_request');
    const badLength = expectRawProblem(
      await rawExchange(`POST ${CONTACTS} HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n`),
      400,
      'invalid_request',
    );
    expect(badLength.detail).toBe('The Content-Length header is not valid for this request.');
    expectRawProblem(
      await rawExchange(`POST ${CONTACTS} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}`),
      400,
      'invalid_request',
    );
  });

  test('/graphql with a body that is not JSON → 415 as a problem, like every other route', async () => {
    for (const contentType of ['text/plain', 'application/graphql', 'multipart/form-data; boundary=x']) {
      const res = await post('/graphql', '{"query":"{ __typename }"}', { 'content-type': contentType });
      expectProblem(res, 415, 'unsupported_media_type', { title: 'Unsupported media type' });
    }
  });

  test('a websocket upgrade on another path → 404 not_found as a problem', async () => {
    const res = await rawExchange(
      'GET /api/v1/events HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    expectRawProblem(res, 404, 'not_found');
  });

  test('an undecodable URL → 400 invalid_request as a problem', async () => {
    expectProblem(await http(gw.url, 'GET', `${CONTACTS}/%E0%A4%A`, { key: victim.apiKey }), 400, 'invalid_request');
  });
});

describe('afterwards', () => {
  test('the abused tenant has nothing stored: no contact, invoice, job, endpoint or event', async () => {
    const prisma = gw.app.services.prisma;
    const where = { tenantId: victim.tenantId };
    expect(await prisma.contact.count({ where })).toBe(0);
    expect(await prisma.invoice.count({ where })).toBe(0);
    expect(await prisma.job.count({ where })).toBe(0);
    expect(await prisma.webhookEndpoint.count({ where })).toBe(0);
    expect(await eventsOf(gw.app, victim.tenantId)).toEqual([]);
  });

  test('the gateway still answers, and a burst of 40 deep 1 MB bodies leaves the memory bounded', async () => {
    const deep = `{"customData":${nestedObjects(170_000)}}`; // just under the 1 MiB body limit
    const answers = await Promise.all(Array.from({ length: 40 }, () => post(CONTACTS, deep)));
    for (const res of answers) expectProblem(res, 400, 'invalid_request');
    const grownMb = (process.memoryUsage().rss - rssBefore) / 1_048_576;
    expect(grownMb).toBeLessThan(300);
    expect((await http(gw.url, 'GET', '/health')).status).toBe(200);
  });
});
