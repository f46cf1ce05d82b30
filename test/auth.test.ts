import { beforeAll, describe, expect, test } from 'vitest';
import { API_KEY_PREFIX, fingerprintOf, generateKey, hashKey, isWellFormedKey } from '../src/auth/keys.js';
import { adminService } from '../src/features/admin/service.js';
import { createTenant, eventsOf, http, useGateway, type HttpResult, type Tenant } from './support/gateway.js';
import { expectProblem, UUID } from './support/problem.js';

// Authentication (Bearer / X-API-Key, revocation, rotation), feature gates and key bookkeeping,
// over REST and GraphQL alike.

const gw = useGateway();

const VIEWER = '{ viewer { application { id } } }';
const UNKNOWN_KEY = generateKey(API_KEY_PREFIX).key;
const CONTACT_ID = 'contact_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const INVOICE_ID = 'inv_01HZZZZZZZZZZZZZZZZZZZZZZZ';
const INVOICE = {
  customer: 'Acme',
  issuedDate: '2026-05-30',
  paymentTermsDays: 30,
  items: [{ description: 'Roses', quantity: 2, price: 10, taxRate: 0 }],
};

/** A GraphQL POST with full access to status and headers. */
function gql(headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<HttpResult> {
  return http(gw.url, 'POST', '/graphql', { headers, body: { query, variables } });
}

/** A GraphQL answer whose only error is `code`, with the request's correlationId. */
function expectGraphQLError(res: HttpResult, code: string, message?: string) {
  expect(res.status, res.text).toBe(200);
  expect(res.body.data).toBeNull();
  expect(res.body.errors).toHaveLength(1);
  expect(res.body.errors[0]).toMatchObject({
    ...(message ? { message } : {}),
    extensions: { code, correlationId: res.headers.get('x-correlation-id') },
  });
}

let tenant: Tenant;
beforeAll(async () => {
  tenant = await createTenant(gw.app);
});

// Every way of presenting no usable key; each must be refused with 401.
const refusedCredentials: [string, () => Record<string, string>, string][] = [
  ['no key at all', () => ({}), 'A valid API key is required (Authorization: Bearer nilo_ak_... or X-API-Key).'],
  ['"Bearer" with nothing after it', () => ({ authorization: 'Bearer' }), 'The API key is malformed.'],
  ['a malformed key (nilo_ak_short)', () => ({ authorization: 'Bearer nilo_ak_short' }), 'The API key is malformed.'],
  ['a malformed X-API-Key', () => ({ 'x-api-key': 'nilo_ak_short' }), 'The API key is malformed.'],
  ['Basic authentication', () => ({ authorization: 'Basic abc' }), 'The API key is malformed.'],
  [
    'a valid key under the Basic scheme',
    () => ({ authorization: `Basic ${tenant.apiKey}` }),
    'The API key is malformed.',
  ],
  ['a key followed by junk', () => ({ authorization: `Bearer ${tenant.apiKey} extra` }), 'The API key is malformed.'],
  [
    'a key with the wrong prefix',
    () => ({ authorization: `Bearer ${tenant.apiKey.replace('nilo_ak_', 'nilo_sk_')}` }),
    'The API key is malformed.',
  ],
  [
    'an unknown well-formed key',
    () => ({ authorization: `Bearer ${UNKNOWN_KEY}` }),
    'The API key is unknown or revoked.',
  ],
  ['an unknown well-formed X-API-Key', () => ({ 'x-api-key': UNKNOWN_KEY }), 'The API key is unknown or revoked.'],
];

describe('REST authentication', () => {
  test('the unknown key used below is well-formed, so it reaches the lookup', () => {
    expect(isWellFormedKey(API_KEY_PREFIX, UNKNOWN_KEY)).toBe(true);
    expect(isWellFormedKey(API_KEY_PREFIX, 'nilo_ak_short')).toBe(false);
  });

  test('GET /api/v1/hello with Authorization: Bearer answers the documented body', async () => {
    const res = await http(gw.url, 'GET', '/api/v1/hello', { headers: { authorization: `Bearer ${tenant.apiKey}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.body).toEqual({ status: 'ok', applicationId: tenant.applicationId, applicationName: 'Test app' });
  });

  test('GET /api/v1/hello with X-API-Key answers the same body', async () => {
    const res = await http(gw.url, 'GET', '/api/v1/hello', { headers: { 'x-api-key': tenant.apiKey } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', applicationId: tenant.applicationId, applicationName: 'Test app' });
  });

  test('the Bearer scheme name is case-insensitive (RFC 9110)', async () => {
    const res = await http(gw.url, 'GET', '/api/v1/hello', { headers: { authorization: `bearer ${tenant.apiKey}` } });
    expect(res.status).toBe(200);
    expect(res.body.applicationId).toBe(tenant.applicationId);
  });

  test.each(refusedCredentials)('%s → 401 unauthorized problem', async (_name, headers, detail) => {
    const res = await http(gw.url, 'GET', '/api/v1/hello', { headers: headers() });
    expectProblem(res, 401, 'unauthorized', { title: 'Unauthorized', detail });
    expect(res.body.correlationId).toMatch(UUID);
    expect(res.headers.get('www-authenticate')).toBe('Bearer'); // RFC 9110: a 401 names its scheme
  });

  test('the 401 carries the caller’s X-Correlation-Id', async () => {
    const res = await http(gw.url, 'GET', '/api/v1/hello', { headers: { 'x-correlation-id': 'auth-test-401' } });
    expectProblem(res, 401, 'unauthorized');
    expect(res.body.correlationId).toBe('auth-test-401');
    expect(res.headers.get('x-correlation-id')).toBe('auth-test-401');
  });

  test('401 comes before body validation, feature gates and id checks', async () => {
    const badBody = await http(gw.url, 'POST', '/api/v1/contacts/contacts', { body: { nonsense: true } });
    expectProblem(badBody, 401, 'unauthorized');
    const badJson = await http(gw.url, 'POST', '/api/v1/invoices', {
      headers: { 'x-api-key': UNKNOWN_KEY },
      body: '{not json',
    });
    expectProblem(badJson, 401, 'unauthorized');
    const badId = await http(gw.url, 'GET', '/api/v1/contacts/contacts/not-an-id');
    expectProblem(badId, 401, 'unauthorized');
    const missing = await http(gw.url, 'DELETE', `/api/v1/contacts/contacts/${CONTACT_ID}`, { key: 'nilo_ak_short' });
    expectProblem(missing, 401, 'unauthorized');
    expect(await eventsOf(gw.app, tenant.tenantId)).toEqual([]);
  });
});

describe('GraphQL authentication', () => {
  test('viewer resolves the Bearer key and the X-API-Key alike', async () => {
    for (const headers of [{ authorization: `Bearer ${tenant.apiKey}` }, { 'x-api-key': tenant.apiKey }] as Record<
      string,
      string
    >[]) {
      const res = await gql(headers, VIEWER);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        data: { viewer: { application: { id: tenant.applicationId } } },
        extensions: { cost: expect.any(Object) },
      });
    }
  });

  test.each(refusedCredentials)('%s → extensions.code unauthorized', async (_name, headers, message) => {
    const res = await gql(headers(), VIEWER);
    expectGraphQLError(res, 'unauthorized', message);
    expect(res.body.errors[0].path).toEqual(['viewer']);
    expect(res.body.errors[0].extensions.status).toBe(401);
  });

  test('an unauthenticated mutation writes nothing', async () => {
    const res = await gql(
      { authorization: `Bearer ${UNKNOWN_KEY}` },
      'mutation { createContact(input: { firstName: "Eve" }) { id } }',
    );
    expectGraphQLError(res, 'unauthorized', 'The API key is unknown or revoked.');
    expect(await gw.app.services.prisma.contact.count({ where: { tenantId: tenant.tenantId } })).toBe(0);
  });

  test('introspection needs no key (and is not broken by a bad one)', async () => {
    for (const headers of [{}, { authorization: 'Bearer nilo_ak_short' }] as Record<string, string>[]) {
      const res = await gql(headers, '{ __schema { queryType { name } mutationType { name } } __typename }');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        data: { __schema: { queryType: { name: 'Query' }, mutationType: { name: 'Mutation' } }, __typename: 'Query' },
        extensions: { cost: expect.any(Object) },
      });
    }
  });

  test('GraphiQL is served to a browser without a key', async () => {
    const res = await http(gw.url, 'GET', '/graphql', { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.text).toMatch(/^\s*<!doctype html>/i);
    expect(res.text).toContain('<title>Nilo gateway</title>');
    // Self-contained: nothing is fetched from a CDN, so it works on hosts without internet.
    expect(res.text).not.toMatch(/<(script|link)[^>]+(src|href)=["']?https?:/i);
  });
});

describe('revocation and rotation', () => {
  test('a revoked key is refused at once, over REST and GraphQL; other applications keep working', async () => {
    const revoked = await gw.app.services.admin.createApplication({ tenantId: tenant.tenantId, name: 'To revoke' });
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: revoked.apiKey })).status).toBe(200);

    expect(await gw.app.services.admin.revokeKeys(revoked.applicationId)).toEqual({
      applicationId: revoked.applicationId,
      revokedKeys: 1,
    });

    for (const headers of [{ authorization: `Bearer ${revoked.apiKey}` }, { 'x-api-key': revoked.apiKey }] as Record<
      string,
      string
    >[]) {
      const res = await http(gw.url, 'GET', '/api/v1/hello', { headers });
      expectProblem(res, 401, 'unauthorized', { detail: 'The API key is unknown or revoked.' });
      expectGraphQLError(await gql(headers, VIEWER), 'unauthorized', 'The API key is unknown or revoked.');
    }
    const write = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: revoked.apiKey,
      body: { firstName: 'Ann' },
    });
    expectProblem(write, 401, 'unauthorized');

    // The tenant's other application is unaffected.
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey })).status).toBe(200);
    const [listed] = (await gw.app.services.admin.listApplications(tenant.tenantId)).filter(
      (a) => a.applicationId === revoked.applicationId,
    );
    expect(listed!.keys).toEqual([
      expect.objectContaining({ fingerprint: revoked.fingerprint, status: 'revoked', revokedAt: expect.any(String) }),
    ]);
  });

  test('a revocation made by another process (announced by NOTIFY) reaches this gateway’s key cache', async () => {
    const app = await gw.app.services.admin.createApplication({ tenantId: tenant.tenantId, name: 'Revoked elsewhere' });
    // Used twice, so the key is certainly cached by the gateway.
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: app.apiKey })).status).toBe(200);
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: app.apiKey })).status).toBe(200);

    // An admin service of its own, as the CLI in another process has: it cannot touch this cache.
    await adminService(gw.app.services.prisma).revokeKeys(app.applicationId);

    const deadline = Date.now() + 2_000;
    let status = 200;
    while (status === 200 && Date.now() < deadline) {
      status = (await http(gw.url, 'GET', '/api/v1/hello', { key: app.apiKey })).status;
      if (status === 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(401);
  });

  test('rotation: the old key is refused and the new key works immediately, as the same application', async () => {
    const app = await gw.app.services.admin.createApplication({ tenantId: tenant.tenantId, name: 'Rotating' });
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: app.apiKey })).status).toBe(200);

    const rotated = await gw.app.services.admin.rotateKey(app.applicationId);
    expect(rotated).toMatchObject({
      applicationId: app.applicationId,
      applicationName: 'Rotating',
      tenantId: tenant.tenantId,
    });
    expect(rotated.apiKey).not.toBe(app.apiKey);

    const fresh = await http(gw.url, 'GET', '/api/v1/hello', { key: rotated.apiKey });
    expect(fresh.status).toBe(200);
    expect(fresh.body).toEqual({ status: 'ok', applicationId: app.applicationId, applicationName: 'Rotating' });
    expect((await gql({ 'x-api-key': rotated.apiKey }, VIEWER)).body).toEqual({
      data: { viewer: { application: { id: app.applicationId } } },
      extensions: { cost: expect.any(Object) },
    });

    expectProblem(await http(gw.url, 'GET', '/api/v1/hello', { key: app.apiKey }), 401, 'unauthorized', {
      detail: 'The API key is unknown or revoked.',
    });
    expectGraphQLError(
      await gql({ authorization: `Bearer ${app.apiKey}` }, VIEWER),
      'unauthorized',
      'The API key is unknown or revoked.',
    );

    const [listed] = (await gw.app.services.admin.listApplications(tenant.tenantId)).filter(
      (a) => a.applicationId === app.applicationId,
    );
    expect(listed!.keys.map((k) => [k.fingerprint, k.status])).toEqual([
      [app.fingerprint, 'revoked'],
      [rotated.fingerprint, 'active'],
    ]);
  });
});

describe('feature gates', () => {
  let noCommunication: Tenant;
  let noAccounting: Tenant;
  beforeAll(async () => {
    noCommunication = await createTenant(gw.app, ['accounting']);
    noAccounting = await createTenant(gw.app, ['communication']);
  });

  const contactRequests: [string, string, unknown?][] = [
    ['POST', '/api/v1/contacts/contacts', { firstName: 'Jane' }],
    ['POST', '/api/v1/contacts/contacts', { nonsense: 1, email: 42 }], // invalid body: still 403
    ['POST', '/api/v1/contacts/contacts', {}],
    ['POST', '/api/v1/contacts/contacts', '{not json'], // unparseable body: still 403
    ['GET', '/api/v1/contacts/contacts'],
    ['GET', '/api/v1/contacts/contacts?limit=9999'], // invalid query: still 403
    ['GET', `/api/v1/contacts/contacts/${CONTACT_ID}`],
    ['GET', '/api/v1/contacts/contacts/not-an-id'],
    ['PATCH', `/api/v1/contacts/contacts/${CONTACT_ID}`, { firstName: 'Janet' }],
    ['PATCH', `/api/v1/contacts/contacts/${CONTACT_ID}`, { email: 'not an email' }],
    ['DELETE', `/api/v1/contacts/contacts/${CONTACT_ID}`],
  ];

  test.each(contactRequests)('without communication: %s %s → 403 feature_not_enabled', async (method, path, body) => {
    const res = await http(gw.url, method, path, { key: noCommunication.apiKey, body });
    expectProblem(res, 403, 'feature_not_enabled', {
      title: 'Feature not enabled',
      detail: 'The "communication" feature is not enabled for this tenant.',
    });
  });

  const invoiceRequests: [string, string, unknown?][] = [
    ['POST', '/api/v1/invoices', INVOICE],
    ['POST', '/api/v1/invoices', { items: [] }], // invalid body: still 403
    ['POST', '/api/v1/invoices', '{"customer":'], // unparseable body: still 403
    ['GET', '/api/v1/invoices'],
    ['GET', `/api/v1/invoices/${INVOICE_ID}`],
    ['GET', '/api/v1/invoices/inv_bad'],
    ['POST', `/api/v1/invoices/${INVOICE_ID}/issue`],
    ['POST', `/api/v1/invoices/${INVOICE_ID}/pay`],
    ['POST', `/api/v1/invoices/${INVOICE_ID}/void`],
  ];

  test.each(invoiceRequests)('without accounting: %s %s → 403 feature_not_enabled', async (method, path, body) => {
    const res = await http(gw.url, method, path, { key: noAccounting.apiKey, body });
    expectProblem(res, 403, 'feature_not_enabled', {
      title: 'Feature not enabled',
      detail: 'The "accounting" feature is not enabled for this tenant.',
    });
  });

  test('the gate answers before the body is even read: wrong media type or oversized body → still 403', async () => {
    const plain = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: noCommunication.apiKey,
      body: 'hi',
      headers: { 'content-type': 'text/plain' },
    });
    expectProblem(plain, 403, 'feature_not_enabled');
    const big = await http(gw.url, 'POST', '/api/v1/invoices', {
      key: noAccounting.apiKey,
      body: JSON.stringify({ note: 'x'.repeat(1_100_000) }),
    });
    expectProblem(big, 403, 'feature_not_enabled');
  });

  const contactOperations = [
    '{ contacts { edges { node { id } } } }',
    `{ contact(id: "${CONTACT_ID}") { id } }`,
    'mutation { createContact(input: { firstName: "Jane" }) { id } }',
    'mutation { createContact(input: {}) { id } }',
    `mutation { updateContact(id: "${CONTACT_ID}", input: { firstName: "J" }) { id } }`,
    `mutation { deleteContact(id: "${CONTACT_ID}") { deletedContactId } }`,
  ];

  test.each(contactOperations)('without communication, GraphQL %s → feature_not_enabled', async (query) => {
    const res = await gql({ authorization: `Bearer ${noCommunication.apiKey}` }, query);
    expectGraphQLError(res, 'feature_not_enabled', 'The "communication" feature is not enabled for this tenant.');
    expect(res.body.errors[0].extensions.status).toBe(403);
  });

  const invoiceOperations = [
    '{ invoices { edges { node { id } } } }',
    `{ invoice(id: "${INVOICE_ID}") { id } }`,
    'mutation { createInvoice(input: { customer: "Acme", issuedDate: "2026-05-30", paymentTermsDays: 30, items: [{ description: "Roses", quantity: 2, price: 10, taxRate: 0 }] }) { id } }',
    `mutation { issueInvoice(id: "${INVOICE_ID}") { id } }`,
    `mutation { payInvoice(id: "${INVOICE_ID}") { id } }`,
    `mutation { voidInvoice(id: "${INVOICE_ID}") { id } }`,
  ];

  test.each(invoiceOperations)('without accounting, GraphQL %s → feature_not_enabled', async (query) => {
    const res = await gql({ 'x-api-key': noAccounting.apiKey }, query);
    expectGraphQLError(res, 'feature_not_enabled', 'The "accounting" feature is not enabled for this tenant.');
  });

  test('refused requests wrote nothing; the enabled feature works', async () => {
    const prisma = gw.app.services.prisma;
    for (const t of [noCommunication, noAccounting]) {
      expect(await eventsOf(gw.app, t.tenantId)).toEqual([]);
      expect(await prisma.contact.count({ where: { tenantId: t.tenantId } })).toBe(0);
      expect(await prisma.invoice.count({ where: { tenantId: t.tenantId } })).toBe(0);
    }
    const invoice = await http(gw.url, 'POST', '/api/v1/invoices', { key: noCommunication.apiKey, body: INVOICE });
    expect(invoice.status).toBe(201);
    const contact = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: noAccounting.apiKey,
      body: { firstName: 'Jane' },
    });
    expect(contact.status).toBe(201);
  });

  test('setFeatures takes effect on the next request, and a refused write leaves no trace', async () => {
    const t = await createTenant(gw.app);
    const auth = { authorization: `Bearer ${t.apiKey}` };
    const created = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: t.apiKey,
      body: { firstName: 'Jane', email: 'jane@acme.test' },
    });
    expect(created.status).toBe(201);
    const contactId = created.body.contactId;
    const before = await eventsOf(gw.app, t.tenantId);
    expect(before.map((e) => e.type)).toEqual(['communication.contact.created']);

    await gw.app.services.admin.setFeatures({ tenantId: t.tenantId, features: ['accounting'] });

    const detail = 'The "communication" feature is not enabled for this tenant.';
    expectProblem(
      await http(gw.url, 'POST', '/api/v1/contacts/contacts', { key: t.apiKey, body: { firstName: 'Bob' } }),
      403,
      'feature_not_enabled',
      { detail },
    );
    expectProblem(
      await http(gw.url, 'PATCH', `/api/v1/contacts/contacts/${contactId}`, {
        key: t.apiKey,
        body: { firstName: 'Janet' },
      }),
      403,
      'feature_not_enabled',
      { detail },
    );
    expectProblem(
      await http(gw.url, 'DELETE', `/api/v1/contacts/contacts/${contactId}`, { key: t.apiKey }),
      403,
      'feature_not_enabled',
      { detail },
    );
    expectProblem(
      await http(gw.url, 'GET', `/api/v1/contacts/contacts/${contactId}`, { key: t.apiKey }),
      403,
      'feature_not_enabled',
      { detail },
    );
    expectGraphQLError(
      await gql(auth, 'mutation { createContact(input: { firstName: "Bob" }) { id } }'),
      'feature_not_enabled',
      detail,
    );
    expectGraphQLError(
      await gql(auth, `mutation { updateContact(id: "${contactId}", input: { firstName: "Janet" }) { id } }`),
      'feature_not_enabled',
      detail,
    );
    expectGraphQLError(
      await gql(auth, `mutation { deleteContact(id: "${contactId}") { deletedContactId } }`),
      'feature_not_enabled',
      detail,
    );
    // The other feature is still on.
    expect((await http(gw.url, 'GET', '/api/v1/invoices', { key: t.apiKey })).status).toBe(200);

    expect(await eventsOf(gw.app, t.tenantId)).toEqual(before);
    const rows = await gw.app.services.prisma.contact.findMany({ where: { tenantId: t.tenantId } });
    expect(rows.map((c) => [c.id, c.firstName])).toEqual([[contactId, 'Jane']]);

    // And back on: the next request is served again.
    await gw.app.services.admin.setFeatures({ tenantId: t.tenantId, features: ['accounting', 'communication'] });
    const again = await http(gw.url, 'GET', `/api/v1/contacts/contacts/${contactId}`, { key: t.apiKey });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(created.body);

    await gw.app.services.admin.setFeatures({ tenantId: t.tenantId, features: [] });
    expectProblem(await http(gw.url, 'GET', '/api/v1/invoices', { key: t.apiKey }), 403, 'feature_not_enabled', {
      detail: 'The "accounting" feature is not enabled for this tenant.',
    });
    // Hello needs no feature.
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: t.apiKey })).status).toBe(200);
  });
});

describe('key bookkeeping', () => {
  test('lastUsedAt is null until the key is used, then records the use', async () => {
    const admin = gw.app.services.admin;
    const app = await admin.createApplication({ tenantId: tenant.tenantId, name: 'Bookkeeping' });
    const keysOf = async () =>
      (await admin.listApplications(tenant.tenantId)).find((a) => a.applicationId === app.applicationId)!.keys;
    expect((await keysOf())[0]!.lastUsedAt).toBeNull();

    const startedAt = Date.now();
    expect((await http(gw.url, 'GET', '/api/v1/hello', { key: app.apiKey })).status).toBe(200);

    // The timestamp is written fire-and-forget, so it may land just after the response.
    await expect.poll(async () => (await keysOf())[0]!.lastUsedAt, { timeout: 5_000 }).not.toBeNull();
    const lastUsedAt = Date.parse((await keysOf())[0]!.lastUsedAt!);
    expect(lastUsedAt).toBeGreaterThanOrEqual(startedAt - 1_000);
    expect(lastUsedAt).toBeLessThanOrEqual(Date.now());
  });

  test('a GraphQL request also counts as use', async () => {
    const admin = gw.app.services.admin;
    const app = await admin.createApplication({ tenantId: tenant.tenantId, name: 'GraphQL user' });
    expect((await gql({ 'x-api-key': app.apiKey }, VIEWER)).body.data.viewer.application.id).toBe(app.applicationId);
    await expect
      .poll(
        async () =>
          (await admin.listApplications(tenant.tenantId)).find((a) => a.applicationId === app.applicationId)!.keys[0]!
            .lastUsedAt,
        { timeout: 5_000 },
      )
      .toEqual(expect.any(String));
  });

  test('listApplications shows fingerprints, never the key or its hash', async () => {
    const admin = gw.app.services.admin;
    const t = await createTenant(gw.app);
    const rotated = await admin.rotateKey(t.applicationId);
    const list = await admin.listApplications(t.tenantId);

    expect(list).toEqual([
      {
        applicationId: t.applicationId,
        applicationName: 'Test app',
        keys: [
          {
            fingerprint: fingerprintOf(t.apiKey),
            status: 'revoked',
            createdAt: expect.any(String),
            revokedAt: expect.any(String),
            lastUsedAt: null,
          },
          {
            fingerprint: fingerprintOf(rotated.apiKey),
            status: 'active',
            createdAt: expect.any(String),
            revokedAt: null,
            lastUsedAt: null,
          },
        ],
      },
    ]);
    const dump = JSON.stringify(list);
    for (const key of [t.apiKey, rotated.apiKey]) {
      expect(dump).not.toContain(key);
      expect(dump).not.toContain(key.slice('nilo_ak_'.length));
      expect(dump).not.toContain(hashKey(key));
    }
  });
});
