import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, test } from 'vitest';
import { createTenant, eventsOf, http, useGateway, type HttpResult, type Tenant } from './support/gateway.js';
import { expectGraphQLRequestError, expectProblem, PROBLEM_JSON } from './support/problem.js';

// Idempotency-Key: replay of the first answer (successes and 4xx alike), 409 on reuse with a
// different request or while in flight, one key space per application shared by REST and GraphQL.

const gw = useGateway();

const INVOICE = {
  customer: 'Acme',
  issuedDate: '2026-05-30',
  paymentTermsDays: 30,
  items: [{ description: 'Roses', quantity: 2, price: 10, taxRate: 0 }],
};
const CREATE_CONTACT = 'mutation ($input: CreateContactInput!) { createContact(input: $input) { id firstName email } }';

let tenant: Tenant;
beforeAll(async () => {
  tenant = await createTenant(gw.app);
});

const newKey = () => `test-${randomUUID()}`;

function send(
  t: Tenant,
  method: string,
  path: string,
  key: string | undefined,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  return http(gw.url, method, path, {
    key: t.apiKey,
    body,
    headers: key === undefined ? headers : { ...headers, 'idempotency-key': key },
  });
}

function gqlSend(t: Tenant, key: string | undefined, query: string, variables?: Record<string, unknown>) {
  return http(gw.url, 'POST', '/graphql', {
    key: t.apiKey,
    body: { query, variables },
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });
}

const countContacts = (t: Tenant) => gw.app.services.prisma.contact.count({ where: { tenantId: t.tenantId } });
const eventTypes = async (t: Tenant, resourceId?: string) =>
  (await eventsOf(gw.app, t.tenantId)).filter((e) => !resourceId || e.resourceId === resourceId).map((e) => e.type);

/** `second` is a byte-for-byte replay of `first`. */
function expectReplay(first: HttpResult, second: HttpResult) {
  expect(first.headers.get('idempotent-replayed')).toBeNull();
  expect(second.headers.get('idempotent-replayed')).toBe('true');
  expect(second.status).toBe(first.status);
  expect(second.text).toBe(first.text);
  expect(second.headers.get('content-type')).toBe(first.headers.get('content-type'));
}

describe('REST create', () => {
  test('the same key and body twice: the second answer replays the first, and one contact exists', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    const body = { firstName: 'Jane', lastName: 'Doe', email: 'jane@acme.test', customData: { erpId: 'E-1' } };
    const first = await send(t, 'POST', '/api/v1/contacts/contacts', key, body);
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({
      contactId: expect.stringMatching(/^contact_/),
      fullName: 'Jane Doe',
      email: 'jane@acme.test',
    });

    const second = await send(t, 'POST', '/api/v1/contacts/contacts', key, body);
    expectReplay(first, second);
    expect(second.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(second.body).toEqual(first.body);
    // Each answer has its own correlation id, even a replay.
    expect(second.headers.get('x-correlation-id')).not.toBe(first.headers.get('x-correlation-id'));

    expect(await countContacts(t)).toBe(1);
    expect(await eventTypes(t)).toEqual(['communication.contact.created']);
  });

  test('the same key with a different body → 409 idempotency_key_reused, nothing written', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    expect((await send(t, 'POST', '/api/v1/contacts/contacts', key, { firstName: 'Jane' })).status).toBe(201);

    const reused = await send(t, 'POST', '/api/v1/contacts/contacts', key, { firstName: 'John' });
    expectProblem(reused, 409, 'idempotency_key_reused', {
      title: 'Conflict',
      detail: 'This Idempotency-Key was already used with a different request.',
    });
    expect(reused.headers.get('idempotent-replayed')).toBeNull();

    // Same body to another path with the same key is a different request too.
    const otherPath = await send(t, 'POST', '/api/v1/invoices', key, INVOICE);
    expectProblem(otherPath, 409, 'idempotency_key_reused');

    // And the original still replays afterwards.
    const replay = await send(t, 'POST', '/api/v1/contacts/contacts', key, { firstName: 'Jane' });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await countContacts(t)).toBe(1);
    expect(await gw.app.services.prisma.invoice.count({ where: { tenantId: t.tenantId } })).toBe(0);
    expect(await eventTypes(t)).toEqual(['communication.contact.created']);
  });

  test('keys are per application: another tenant, and another application of the same tenant, are independent', async () => {
    const a = await createTenant(gw.app);
    const b = await createTenant(gw.app);
    const key = 'shared-key-0001';
    const body = { firstName: 'Same' };

    const fromA = await send(a, 'POST', '/api/v1/contacts/contacts', key, body);
    const fromB = await send(b, 'POST', '/api/v1/contacts/contacts', key, body);
    expect([fromA.status, fromB.status]).toEqual([201, 201]);
    expect(fromB.headers.get('idempotent-replayed')).toBeNull();
    expect(fromB.body.contactId).not.toBe(fromA.body.contactId);

    // B using the key with a different body is fine too: A's use does not bind it.
    const other = await send(b, 'POST', '/api/v1/invoices', 'shared-key-0002', INVOICE);
    expect(other.status).toBe(201);
    expect((await send(a, 'POST', '/api/v1/contacts/contacts', 'shared-key-0002', body)).status).toBe(201);

    const secondApp = await gw.app.services.admin.createApplication({ tenantId: a.tenantId, name: 'Second' });
    const fromA2 = await http(gw.url, 'POST', '/api/v1/contacts/contacts', {
      key: secondApp.apiKey,
      body,
      headers: { 'idempotency-key': key },
    });
    expect(fromA2.status).toBe(201);
    expect(fromA2.headers.get('idempotent-replayed')).toBeNull();
    expect(fromA2.body.contactId).not.toBe(fromA.body.contactId);

    expect(await countContacts(a)).toBe(3);
    expect(await countContacts(b)).toBe(1);
  });

  test('10 concurrent identical requests with a new key create exactly one contact', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    const body = { firstName: 'Racer', email: 'racer@acme.test' };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => send(t, 'POST', '/api/v1/contacts/contacts', key, body)),
    );

    const originals = answers.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
    expect(originals).toHaveLength(1);
    const original = originals[0]!;
    for (const r of answers) {
      if (r === original) continue;
      if (r.status === 409) {
        expectProblem(r, 409, 'idempotency_key_in_flight', {
          detail: 'A request with this Idempotency-Key is still being processed; retry later.',
        });
      } else {
        expectReplay(original, r);
      }
    }
    expect(await countContacts(t)).toBe(1);
    expect(await eventTypes(t)).toEqual(['communication.contact.created']);

    // Once the first has finished, the key replays.
    expectReplay(original, await send(t, 'POST', '/api/v1/contacts/contacts', key, body));
  });

  test('POST /invoices replays status, body and Location; one invoice, one number', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    const first = await send(t, 'POST', '/api/v1/invoices', key, INVOICE);
    expect(first.status).toBe(201);
    expect(first.body).toEqual({
      invoiceId: expect.stringMatching(/^inv_/),
      invoiceNumber: 'INV-2026-00001',
      status: 'draft',
      applicationId: t.applicationId,
      applicationName: 'Test app',
    });
    const second = await send(t, 'POST', '/api/v1/invoices', key, INVOICE);
    expectReplay(first, second);
    expect(second.headers.get('location')).toBe(`/api/v1/invoices/${first.body.invoiceId}`);
    expect(first.headers.get('location')).toBe(second.headers.get('location'));

    expect(await gw.app.services.prisma.invoice.count({ where: { tenantId: t.tenantId } })).toBe(1);
    expect(await eventTypes(t)).toEqual(['accounting.invoice.created']);
    // The next invoice gets the next number: the replay consumed none.
    expect((await send(t, 'POST', '/api/v1/invoices', undefined, INVOICE)).body.invoiceNumber).toBe('INV-2026-00002');
  });
});

describe('replayed errors', () => {
  test('a first answer of 409 email_taken is replayed even after the conflict is gone', async () => {
    const t = await createTenant(gw.app);
    const existing = await send(t, 'POST', '/api/v1/contacts/contacts', undefined, { email: 'dup@acme.test' });
    expect(existing.status).toBe(201);

    const key = newKey();
    const body = { firstName: 'Dup', email: 'DUP@acme.test' };
    const first = await send(t, 'POST', '/api/v1/contacts/contacts', key, body);
    expectProblem(first, 409, 'email_taken', {
      errors: [{ path: 'email', message: 'is already used by another contact' }],
    });

    expect((await send(t, 'DELETE', `/api/v1/contacts/contacts/${existing.body.contactId}`, undefined)).status).toBe(
      204,
    );

    const second = await send(t, 'POST', '/api/v1/contacts/contacts', key, body);
    expectReplay(first, second);
    expect(second.headers.get('content-type')).toBe(PROBLEM_JSON);
    // A fresh key now succeeds: the 409 above really was a replay, not a new attempt.
    expect((await send(t, 'POST', '/api/v1/contacts/contacts', newKey(), body)).status).toBe(201);
    expect(await countContacts(t)).toBe(1);
  });

  test('a first answer of 422 invalid_transition is replayed even once the transition became valid', async () => {
    const t = await createTenant(gw.app);
    const invoice = await send(t, 'POST', '/api/v1/invoices', undefined, INVOICE);
    const path = `/api/v1/invoices/${invoice.body.invoiceId}`;
    const key = newKey();

    const first = await send(t, 'POST', `${path}/pay`, key);
    expectProblem(first, 422, 'invalid_transition');

    expect((await send(t, 'POST', `${path}/issue`, undefined)).status).toBe(200);

    const second = await send(t, 'POST', `${path}/pay`, key);
    expectReplay(first, second);
    expect((await send(t, 'GET', path, undefined)).body.status).toBe('issued');

    const fresh = await send(t, 'POST', `${path}/pay`, newKey());
    expect(fresh.status).toBe(200);
    expect(fresh.body.status).toBe('paid');
  });

  test('a first answer of 404 is replayed', async () => {
    const key = newKey();
    const path = '/api/v1/contacts/contacts/contact_01HZZZZZZZZZZZZZZZZZZZZZZZ';
    const first = await send(tenant, 'PATCH', path, key, { firstName: 'Ghost' });
    expectProblem(first, 404, 'not_found');
    expectReplay(first, await send(tenant, 'PATCH', path, key, { firstName: 'Ghost' }));
  });
});

describe('PATCH, DELETE and invoice actions', () => {
  test('PATCH replays the first answer and writes one update', async () => {
    const t = await createTenant(gw.app);
    const created = await send(t, 'POST', '/api/v1/contacts/contacts', undefined, { firstName: 'Jane' });
    const path = `/api/v1/contacts/contacts/${created.body.contactId}`;
    const key = newKey();

    const first = await send(t, 'PATCH', path, key, { note: 'first' });
    expect(first.status).toBe(200);
    expect(first.body.note).toBe('first');
    // Someone else changes the contact in between.
    expect((await send(t, 'PATCH', path, undefined, { note: 'second' })).status).toBe(200);

    const replay = await send(t, 'PATCH', path, key, { note: 'first' });
    expectReplay(first, replay);
    expect((await send(t, 'GET', path, undefined)).body.note).toBe('second');
    expect(await eventTypes(t, created.body.contactId)).toEqual([
      'communication.contact.created',
      'communication.contact.updated',
      'communication.contact.updated',
    ]);

    expectProblem(await send(t, 'PATCH', path, key, { note: 'third' }), 409, 'idempotency_key_reused');
  });

  test('DELETE replays 204 (not 404) and deletes once', async () => {
    const t = await createTenant(gw.app);
    const created = await send(t, 'POST', '/api/v1/contacts/contacts', undefined, { firstName: 'Jane' });
    const path = `/api/v1/contacts/contacts/${created.body.contactId}`;
    const key = newKey();

    const first = await send(t, 'DELETE', path, key);
    expect(first.status).toBe(204);
    expect(first.text).toBe('');
    const second = await send(t, 'DELETE', path, key);
    expect(second.status).toBe(204);
    expect(second.text).toBe('');
    expect(second.headers.get('idempotent-replayed')).toBe('true');

    // Without the key, the contact is simply gone.
    expectProblem(await send(t, 'DELETE', path, undefined), 404, 'not_found');
    expect(await eventTypes(t, created.body.contactId)).toEqual([
      'communication.contact.created',
      'communication.contact.deleted',
    ]);
  });

  test.each(['issue', 'void'])('POST /invoices/{id}/%s replays and transitions once', async (action) => {
    const t = await createTenant(gw.app);
    const invoice = await send(t, 'POST', '/api/v1/invoices', undefined, INVOICE);
    const path = `/api/v1/invoices/${invoice.body.invoiceId}/${action}`;
    const key = newKey();

    const first = await send(t, 'POST', path, key);
    expect(first.status).toBe(200);
    expect(first.body.status).toBe(action === 'issue' ? 'issued' : 'void');
    const second = await send(t, 'POST', path, key);
    expectReplay(first, second);
    expect(second.body).toEqual(first.body);

    // Without the key the repeat is a real (refused) transition.
    expectProblem(await send(t, 'POST', path, undefined), 422, 'invalid_transition');
    expect(await eventTypes(t, invoice.body.invoiceId)).toEqual([
      'accounting.invoice.created',
      action === 'issue' ? 'accounting.invoice.issued' : 'accounting.invoice.voided',
    ]);
  });

  test('a key is bound to the path: the same key on another invoice action is reused', async () => {
    const t = await createTenant(gw.app);
    const invoice = await send(t, 'POST', '/api/v1/invoices', undefined, INVOICE);
    const key = newKey();
    expect((await send(t, 'POST', `/api/v1/invoices/${invoice.body.invoiceId}/issue`, key)).status).toBe(200);
    expectProblem(
      await send(t, 'POST', `/api/v1/invoices/${invoice.body.invoiceId}/pay`, key),
      409,
      'idempotency_key_reused',
    );
    expect((await send(t, 'GET', `/api/v1/invoices/${invoice.body.invoiceId}`, undefined)).body.status).toBe('issued');
  });
});

describe('GraphQL mutations', () => {
  test('createContact with a key replays the same data and creates one contact', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    const variables = { input: { firstName: 'Gina', email: 'gina@acme.test' } };
    const first = await gqlSend(t, key, CREATE_CONTACT, variables);
    expect(first.status).toBe(200);
    expect(first.body).toEqual({
      data: { createContact: { id: expect.stringMatching(/^contact_/), firstName: 'Gina', email: 'gina@acme.test' } },
      extensions: { cost: expect.any(Object) },
    });

    const second = await gqlSend(t, key, CREATE_CONTACT, variables);
    expectReplay(first, second);
    expect(second.body).toEqual(first.body);
    expect(await countContacts(t)).toBe(1);
    expect(await eventTypes(t)).toEqual(['communication.contact.created']);
  });

  test('a GraphQL query sent with a key is not stored: it reads fresh data every time', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    const query = '{ contacts(first: 10) { edges { node { firstName } } } }';
    const before = await gqlSend(t, key, query);
    expect(before.body).toEqual({ data: { contacts: { edges: [] } }, extensions: { cost: expect.any(Object) } });
    expect((await gqlSend(t, undefined, CREATE_CONTACT, { input: { firstName: 'Fresh' } })).status).toBe(200);

    const after = await gqlSend(t, key, query);
    expect(after.headers.get('idempotent-replayed')).toBeNull();
    expect(after.body).toEqual({
      data: { contacts: { edges: [{ node: { firstName: 'Fresh' } }] } },
      extensions: { cost: expect.any(Object) },
    });
    // The key was never claimed, so a mutation may still use it.
    const mutation = await gqlSend(t, key, CREATE_CONTACT, { input: { firstName: 'Later' } });
    expect(mutation.body.data.createContact.firstName).toBe('Later');
  });

  test('a GraphQL error answer is replayed too', async () => {
    const t = await createTenant(gw.app);
    expect((await gqlSend(t, undefined, CREATE_CONTACT, { input: { email: 'taken@acme.test' } })).status).toBe(200);
    const key = newKey();
    const variables = { input: { email: 'TAKEN@acme.test' } };
    const first = await gqlSend(t, key, CREATE_CONTACT, variables);
    expect(first.body.data).toBeNull();
    expect(first.body.errors[0].extensions.code).toBe('email_taken');
    expectReplay(first, await gqlSend(t, key, CREATE_CONTACT, variables));
    expect(await countContacts(t)).toBe(1);
  });

  // The shared key space means a conflicting GraphQL request is refused by the HTTP layer before
  // GraphQL runs: HTTP 409 with a GraphQL `{ errors }` body carrying the REST code.
  test('a key first used on REST, then on GraphQL → HTTP 409 idempotency_key_reused as a GraphQL error', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    expect((await send(t, 'POST', '/api/v1/contacts/contacts', key, { firstName: 'Rita' })).status).toBe(201);

    const res = await gqlSend(t, key, CREATE_CONTACT, { input: { firstName: 'Rita' } });
    expectGraphQLRequestError(res, 409, 'idempotency_key_reused');
    expect(res.body.errors[0].message).toBe('This Idempotency-Key was already used with a different request.');
    expect(res.body.data).toBeUndefined();
    expect(await countContacts(t)).toBe(1);
  });

  test('a key first used on GraphQL, then on REST → 409 idempotency_key_reused', async () => {
    const t = await createTenant(gw.app);
    const key = newKey();
    expect((await gqlSend(t, key, CREATE_CONTACT, { input: { firstName: 'Gus' } })).status).toBe(200);
    expectProblem(
      await send(t, 'POST', '/api/v1/contacts/contacts', key, { firstName: 'Gus' }),
      409,
      'idempotency_key_reused',
    );
    // A different GraphQL document under the same key is also a different request.
    const res = await gqlSend(t, key, CREATE_CONTACT, { input: { firstName: 'Gustav' } });
    expectGraphQLRequestError(res, 409, 'idempotency_key_reused');
    expect(await countContacts(t)).toBe(1);
  });
});

describe('invalid keys', () => {
  test('a key over 255 characters → 400 invalid_request, nothing written', async () => {
    const t = await createTenant(gw.app);
    const res = await send(t, 'POST', '/api/v1/contacts/contacts', 'k'.repeat(256), { firstName: 'Long' });
    expectProblem(res, 400, 'invalid_request', {
      detail: 'Idempotency-Key must be 1 to 255 visible ASCII characters.',
    });
    expect(await countContacts(t)).toBe(0);

    // 255 is the longest accepted.
    const longest = 'k'.repeat(255);
    const ok = await send(t, 'POST', '/api/v1/contacts/contacts', longest, { firstName: 'Long' });
    expect(ok.status).toBe(201);
    expectReplay(ok, await send(t, 'POST', '/api/v1/contacts/contacts', longest, { firstName: 'Long' }));
    expect(await countContacts(t)).toBe(1);
  });

  test('a key with a space or a tab → 400 invalid_request', async () => {
    const t = await createTenant(gw.app);
    for (const key of ['has space', 'tab\there']) {
      const res = await send(t, 'POST', '/api/v1/contacts/contacts', key, { firstName: 'X' });
      expectProblem(res, 400, 'invalid_request', {
        detail: 'Idempotency-Key must be 1 to 255 visible ASCII characters.',
      });
    }
    const del = await send(
      t,
      'DELETE',
      '/api/v1/contacts/contacts/contact_01HZZZZZZZZZZZZZZZZZZZZZZZ',
      'x'.repeat(300),
    );
    expectProblem(del, 400, 'invalid_request');
    expect(await countContacts(t)).toBe(0);
  });
});
