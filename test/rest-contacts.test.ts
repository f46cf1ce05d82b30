import { ulid } from 'ulid';
import { describe, expect, test } from 'vitest';
import {
  createTenant,
  eventsOf,
  expectOneNewEvent,
  http,
  useGateway,
  type HttpResult,
  type Tenant,
} from './support/gateway.js';
import { errorPaths, expectProblem, expectTimestampWithin, sleep } from './support/problem.js';

// REST contacts, end to end over real HTTP: shape, pagination, partial update, delete,
// case-insensitive email uniqueness, validation, ids, tenant isolation and the event outbox.

const gw = useGateway();

const BASE = '/api/v1/contacts/contacts';
const CONTACT_ID = /^contact_[0-9A-Z]{26}$/;

/** Every documented request field, plus customData of every JSON kind. */
const FULL_INPUT = {
  firstName: 'Jane',
  lastName: 'Doe',
  email: 'jane@acme.com',
  phone: '+1-555-1234',
  company: 'Acme Inc',
  streetAddress: '123 Commerce Blvd, Suite 200',
  city: 'Portland',
  state: 'OR',
  postalCode: '97201',
  country: 'US',
  tag: 'lead',
  preferredLanguage: 'en-US',
  formality: 'informal',
  preferredTone: 'friendly',
  salutation: 'Hi',
  addressingNotes: 'Prefers first name',
  note: 'Met at trade show',
  customData: {
    erpId: 'ERP-12345',
    loyaltyTier: 'gold',
    preferences: { newsletter: true, sms: false },
    scores: [1, 2.5, -3, 0],
    mixed: ['a', { b: null, c: [true] }, 42],
    nested: { deep: { deeper: { deepest: 'yes', list: [[1, 2], [3]] } } },
    ratio: 0.1,
    big: 1234567890123,
    empty: {},
    none: null,
    unicode: 'Grüße — 日本',
  },
  externalId: 'crm-4711',
};

/** The REST representation FULL_INPUT should produce, minus server-assigned fields. */
const FULL_OUTPUT = {
  ...FULL_INPUT,
  fullName: 'Jane Doe',
  preferredLanguage: 'en-us',
};

const ALL_KEYS = [
  'contactId',
  'email',
  'fullName',
  'firstName',
  'lastName',
  'phone',
  'company',
  'streetAddress',
  'city',
  'state',
  'postalCode',
  'country',
  'tag',
  'preferredLanguage',
  'formality',
  'preferredTone',
  'salutation',
  'addressingNotes',
  'note',
  'customData',
  'externalId',
  'createdAt',
  'updatedAt',
].sort();

/** A contact with only the given fields: everything else null. */
function sparse(fields: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const key of ALL_KEYS) if (!['contactId', 'createdAt', 'updatedAt'].includes(key)) out[key] = null;
  return { ...out, ...fields };
}

function create(t: Tenant, body: unknown, headers?: Record<string, string>) {
  return http(gw.url, 'POST', BASE, { key: t.apiKey, body, headers });
}
function get(t: Tenant, id: string) {
  return http(gw.url, 'GET', `${BASE}/${id}`, { key: t.apiKey });
}
function patch(t: Tenant, id: string, body: unknown, headers?: Record<string, string>) {
  return http(gw.url, 'PATCH', `${BASE}/${id}`, { key: t.apiKey, body, headers });
}
function del(t: Tenant, id: string, headers?: Record<string, string>) {
  return http(gw.url, 'DELETE', `${BASE}/${id}`, { key: t.apiKey, headers });
}
function list(t: Tenant, query = '') {
  return http(gw.url, 'GET', `${BASE}${query}`, { key: t.apiKey });
}
async function countContacts(t: Tenant) {
  return gw.app.services.prisma.contact.count({ where: { tenantId: t.tenantId } });
}

async function eventCount(t: Tenant) {
  return (await eventsOf(gw.app, t.tenantId)).length;
}

describe('POST /contacts/contacts', () => {
  test('creates a contact with every documented field and customData, answering the documented shape', async () => {
    const t = await createTenant(gw.app);
    const before = Date.now();
    const res = await create(t, FULL_INPUT, { 'x-correlation-id': 'contact-create-full-1' });
    const after = Date.now();

    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-correlation-id')).toBe('contact-create-full-1');
    expect(Object.keys(res.body).sort()).toEqual(ALL_KEYS);
    expect(res.body.contactId).toMatch(CONTACT_ID);
    expect(res.body).toEqual({
      ...FULL_OUTPUT,
      contactId: res.body.contactId,
      createdAt: res.body.createdAt,
      updatedAt: res.body.updatedAt,
    });
    // customData round-trips exactly, including nested objects, arrays, numbers, booleans and null.
    expect(res.body.customData).toStrictEqual(FULL_INPUT.customData);
    expectTimestampWithin(res.body.createdAt, before, after);
    expectTimestampWithin(res.body.updatedAt, before, after);
    expect(Date.parse(res.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(res.body.createdAt));

    const fetched = await get(t, res.body.contactId);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toStrictEqual(res.body);

    await expectOneNewEvent(gw.app, t, 0, res, 'communication.contact.created', res.body.contactId, res.body);
  });

  test('derives fullName from whichever name parts are present', async () => {
    const t = await createTenant(gw.app);
    const first = await create(t, { firstName: 'Jane' });
    const last = await create(t, { lastName: 'Doe' });
    const none = await create(t, { company: 'Acme Inc' });
    const both = await create(t, { firstName: 'Ana María', lastName: 'de la Cruz' });
    expect([first.status, last.status, none.status, both.status]).toEqual([201, 201, 201, 201]);
    expect(first.body.fullName).toBe('Jane');
    expect(last.body.fullName).toBe('Doe');
    expect(none.body.fullName).toBeNull();
    expect(both.body.fullName).toBe('Ana María de la Cruz');
    expect(none.body).toEqual({
      ...sparse({ company: 'Acme Inc' }),
      contactId: none.body.contactId,
      createdAt: none.body.createdAt,
      updatedAt: none.body.updatedAt,
    });
  });

  test('lower-cases preferredLanguage and keeps explicit nulls as null', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, {
      firstName: 'Luis',
      preferredLanguage: 'ES-419',
      email: null,
      customData: null,
      note: null,
    });
    expect(res.status, res.text).toBe(201);
    expect(res.body.preferredLanguage).toBe('es-419');
    expect(res.body.email).toBeNull();
    expect(res.body.customData).toBeNull();
    expect(res.body.note).toBeNull();
    expect((await get(t, res.body.contactId)).body).toStrictEqual(res.body);
  });

  test('several contacts without an email may coexist', async () => {
    const t = await createTenant(gw.app);
    const a = await create(t, { firstName: 'A' });
    const b = await create(t, { firstName: 'B', email: null });
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(a.body.contactId).not.toBe(b.body.contactId);
  });
});

describe('GET /contacts/contacts (list)', () => {
  test('an empty tenant lists nothing', async () => {
    const t = await createTenant(gw.app);
    const res = await list(t);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ items: [], nextCursor: null, count: 0 });
  });

  test('pages with ?limit=2 by following nextCursor until null: every contact once, in creation order', async () => {
    const t = await createTenant(gw.app);
    const created: any[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await create(t, { firstName: `Person${i}`, email: `p${i}@example.com` });
      expect(res.status).toBe(201);
      created.push(res.body);
    }

    const pages: any[] = [];
    let cursor: string | null = null;
    for (let guard = 0; guard < 10; guard++) {
      const res = await list(t, `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.body).sort()).toEqual(['count', 'items', 'nextCursor']);
      expect(res.body.count).toBe(res.body.items.length);
      pages.push(res.body);
      cursor = res.body.nextCursor;
      if (cursor === null) break;
      expect(typeof cursor).toBe('string');
    }
    expect(pages.map((p) => p.count)).toEqual([2, 2, 1]);
    expect(pages.map((p) => p.nextCursor === null)).toEqual([false, false, true]);
    // Items are the full REST representation, in creation order, each exactly once.
    expect(pages.flatMap((p) => p.items)).toEqual(created);

    // Without a limit: everything on one page.
    const all = await list(t);
    expect(all.body).toEqual({ items: created, nextCursor: null, count: 5 });
  });

  test('a last page that is exactly full has no nextCursor', async () => {
    const t = await createTenant(gw.app);
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) ids.push((await create(t, { firstName: `P${i}` })).body.contactId);

    const exact = await list(t, '?limit=4');
    expect(exact.body.count).toBe(4);
    expect(exact.body.nextCursor).toBeNull();

    const first = await list(t, '?limit=2');
    expect(first.body.items.map((c: any) => c.contactId)).toEqual(ids.slice(0, 2));
    expect(first.body.nextCursor).not.toBeNull();
    const second = await list(t, `?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((c: any) => c.contactId)).toEqual(ids.slice(2, 4));
    expect(second.body.nextCursor).toBeNull();

    const one = await list(t, '?limit=1');
    expect(one.body.items.map((c: any) => c.contactId)).toEqual([ids[0]]);
    const max = await list(t, '?limit=500');
    expect(max.status).toBe(200);
    expect(max.body.count).toBe(4);
  });

  test.each(['0', '501', 'abc', '-1', '2.5', ''])('limit=%s is 400 naming limit', async (limit) => {
    const t = await createTenant(gw.app);
    await create(t, { firstName: 'X' });
    const res = await list(t, `?limit=${limit}`);
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toContain('limit');
  });

  test.each([
    ['garbage', 'not-a-cursor!!'],
    ['random base64url', Buffer.from('hello world').toString('base64url')],
    ['a raw contact id', 'contact_01ARZ3NDEKTSV4RRFFQ69G5FAV'],
    ['a base64url of a malformed id', Buffer.from('contact_123').toString('base64url')],
  ])('a %s cursor is 400 naming cursor', async (_name, cursor) => {
    const t = await createTenant(gw.app);
    await create(t, { firstName: 'X' });
    const res = await list(t, `?cursor=${encodeURIComponent(cursor)}`);
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toContain('cursor');
  });

  test("lists only the caller's tenant", async () => {
    const a = await createTenant(gw.app);
    const b = await createTenant(gw.app);
    const mine = await create(a, { firstName: 'Mine' });
    await create(b, { firstName: 'Theirs' });
    const res = await list(a);
    expect(res.body.items.map((c: any) => c.contactId)).toEqual([mine.body.contactId]);
  });
});

describe('GET /contacts/contacts/{id}', () => {
  test.each([
    ['too short', 'contact_123'],
    ['another type', `inv_${ulid()}`],
    ['no prefix', ulid()],
    ['invalid ULID characters', `contact_${'U'.repeat(26)}`],
    ['ULID too long', `contact_${ulid()}0`],
  ])('a malformed id (%s) is 400 invalid_id on GET, PATCH and DELETE', async (_name, id) => {
    const t = await createTenant(gw.app);
    for (const res of [await get(t, id), await patch(t, id, { firstName: 'X' }), await del(t, id)]) {
      expectProblem(res, 400, 'invalid_id');
    }
    expect(await eventCount(t)).toBe(0);
  });

  test('a well-formed unknown id is 404 not_found on GET, PATCH and DELETE', async () => {
    const t = await createTenant(gw.app);
    const id = `contact_${ulid()}`;
    for (const res of [await get(t, id), await patch(t, id, { firstName: 'X' }), await del(t, id)]) {
      expectProblem(res, 404, 'not_found');
    }
    expect(await eventCount(t)).toBe(0);
  });
});

describe('PATCH /contacts/contacts/{id}', () => {
  test('a partial update changes only the given fields and leaves the rest unchanged', async () => {
    const t = await createTenant(gw.app);
    const created = (await create(t, FULL_INPUT)).body;
    await sleep(5);

    const before = Date.now();
    const res = await patch(
      t,
      created.contactId,
      { firstName: 'Janet', tag: 'customer' },
      { 'x-correlation-id': 'patch-partial-1' },
    );
    const after = Date.now();
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('x-correlation-id')).toBe('patch-partial-1');
    expect(res.body).toEqual({
      ...created,
      firstName: 'Janet',
      fullName: 'Janet Doe',
      tag: 'customer',
      updatedAt: res.body.updatedAt,
    });
    expect(res.body.createdAt).toBe(created.createdAt);
    expectTimestampWithin(res.body.updatedAt, before, after);
    expect((await get(t, created.contactId)).body).toStrictEqual(res.body);

    await expectOneNewEvent(gw.app, t, 1, res, 'communication.contact.updated', created.contactId, res.body);
  });

  test('a PATCH that would leave no email, name, company or phone → 400, nothing changed', async () => {
    const t = await createTenant(gw.app);
    const created = (await create(t, { firstName: 'Only', email: 'only@example.com' })).body;
    const eventsBefore = (await eventsOf(gw.app, t.tenantId)).length;

    const res = await patch(t, created.contactId, { firstName: null, email: null });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.detail).toBe('at least one of email, firstName, lastName, company, phone is required');
    expect((await get(t, created.contactId)).body).toStrictEqual(created);
    expect(await eventsOf(gw.app, t.tenantId)).toHaveLength(eventsBefore);

    // Clearing one while another remains is fine.
    const ok = await patch(t, created.contactId, { firstName: null });
    expect(ok.status, ok.text).toBe(200);
  });

  test('null clears a field; customData is replaced, not merged; null clears customData', async () => {
    const t = await createTenant(gw.app);
    const created = (await create(t, FULL_INPUT)).body;

    const cleared = await patch(t, created.contactId, { phone: null, lastName: null, note: null });
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body).toEqual({
      ...created,
      phone: null,
      lastName: null,
      note: null,
      fullName: 'Jane',
      updatedAt: cleared.body.updatedAt,
    });

    const replaced = await patch(t, created.contactId, { customData: { onlyKey: [1, { two: 2 }] } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.customData).toStrictEqual({ onlyKey: [1, { two: 2 }] });
    expect(replaced.body).toEqual({
      ...cleared.body,
      customData: { onlyKey: [1, { two: 2 }] },
      updatedAt: replaced.body.updatedAt,
    });

    const nulled = await patch(t, created.contactId, { customData: null });
    expect(nulled.status).toBe(200);
    expect(nulled.body.customData).toBeNull();
    expect(nulled.body).toEqual({ ...replaced.body, customData: null, updatedAt: nulled.body.updatedAt });

    const lang = await patch(t, created.contactId, { preferredLanguage: 'PT-BR' });
    expect(lang.body.preferredLanguage).toBe('pt-br');

    expect((await get(t, created.contactId)).body).toStrictEqual(lang.body);
    const events = await eventsOf(gw.app, t.tenantId);
    expect(events.map((e) => [e.tenantSequence, e.type])).toEqual([
      [1, 'communication.contact.created'],
      [2, 'communication.contact.updated'],
      [3, 'communication.contact.updated'],
      [4, 'communication.contact.updated'],
      [5, 'communication.contact.updated'],
    ]);
    expect(events.map((e) => e.data)).toEqual([created, cleared.body, replaced.body, nulled.body, lang.body]);
  });

  test('changing the email frees the old address; changing only its case is allowed', async () => {
    const t = await createTenant(gw.app);
    const a = (await create(t, { firstName: 'A', email: 'Old@Example.com' })).body;

    const recased = await patch(t, a.contactId, { email: 'OLD@example.COM' });
    expect(recased.status, recased.text).toBe(200);
    expect(recased.body.email).toBe('OLD@example.COM');

    const moved = await patch(t, a.contactId, { email: 'new@example.com' });
    expect(moved.status).toBe(200);
    const b = await create(t, { firstName: 'B', email: 'old@example.com' });
    expect(b.status, b.text).toBe(201);

    const cleared = await patch(t, a.contactId, { email: null });
    expect(cleared.status).toBe(200);
    expect(cleared.body.email).toBeNull();
    const c = await create(t, { firstName: 'C', email: 'NEW@example.com' });
    expect(c.status, c.text).toBe(201);
  });
});

describe('DELETE /contacts/contacts/{id}', () => {
  test('204 with no body, then GET 404 and a second DELETE 404', async () => {
    const t = await createTenant(gw.app);
    const created = (await create(t, FULL_INPUT)).body;
    const updated = (await patch(t, created.contactId, { city: 'Salem' })).body;

    const res = await del(t, created.contactId, { 'x-correlation-id': 'delete-1' });
    expect(res.status).toBe(204);
    expect(res.text).toBe('');
    expect(res.headers.get('x-correlation-id')).toBe('delete-1');
    await expectOneNewEvent(gw.app, t, 2, res, 'communication.contact.deleted', created.contactId, updated);

    expectProblem(await get(t, created.contactId), 404, 'not_found');
    expectProblem(await del(t, created.contactId), 404, 'not_found');
    expectProblem(await patch(t, created.contactId, { city: 'X' }), 404, 'not_found');
    expect(await eventCount(t)).toBe(3);
    expect(await countContacts(t)).toBe(0);
    expect((await list(t)).body).toEqual({ items: [], nextCursor: null, count: 0 });

    // The deleted contact's email is free again.
    expect((await create(t, { email: 'JANE@acme.com' })).status).toBe(201);
  });
});

describe('concurrent PATCH and DELETE of one contact', () => {
  test('never 500: one DELETE wins, the rest are 404 or 200 before it; the deleted event carries the last state', async () => {
    const t = await createTenant(gw.app);
    for (let round = 0; round < 8; round++) {
      const created = await create(t, { firstName: 'Race', email: `race${round}@example.com` });
      expect(created.status).toBe(201);
      const id = created.body.contactId;
      const results = await Promise.all([
        patch(t, id, { firstName: 'P1' }),
        del(t, id),
        patch(t, id, { firstName: 'P2' }),
        del(t, id),
        patch(t, id, { lastName: 'P3' }),
      ]);
      const deletes = [results[1]!, results[3]!];
      const patches = [results[0]!, results[2]!, results[4]!];
      expect(deletes.map((r) => r.status).sort()).toEqual([204, 404]);
      for (const r of patches) expect([200, 404]).toContain(r.status);
      for (const r of results.filter((r) => r.status === 404)) expectProblem(r, 404, 'not_found');

      const events = (await eventsOf(gw.app, t.tenantId)).filter((e) => e.resourceId === id);
      const succeededPatches = patches.filter((r) => r.status === 200);
      expect(events.map((e) => e.type)).toEqual([
        'communication.contact.created',
        ...succeededPatches.map(() => 'communication.contact.updated'),
        'communication.contact.deleted',
      ]);
      // The deleted event describes the contact as it was when deleted: the last state before it.
      expect(events.at(-1)!.data).toEqual(events.at(-2)!.data);
      expectProblem(await get(t, id), 404, 'not_found');
    }
    const all = await eventsOf(gw.app, t.tenantId);
    expect(all.map((e) => e.tenantSequence)).toEqual(all.map((_, i) => i + 1));
  });
});

describe('email uniqueness (case-insensitive, per tenant)', () => {
  test('create with an email differing only in case is 409 email_taken and writes nothing', async () => {
    const t = await createTenant(gw.app);
    const first = await create(t, { firstName: 'Jane', email: 'Jane@Acme.com' });
    expect(first.status).toBe(201);

    const dup = await create(t, { firstName: 'Other', email: 'jane@ACME.COM' });
    expectProblem(dup, 409, 'email_taken');
    expect(dup.body.errors).toEqual([{ path: 'email', message: expect.any(String) }]);
    expect(await countContacts(t)).toBe(1);
    expect(await eventCount(t)).toBe(1);
    expect((await list(t)).body.items).toEqual([first.body]);
  });

  test('PATCH to another contact’s email (other case) is 409 email_taken and leaves the contact unchanged', async () => {
    const t = await createTenant(gw.app);
    const a = (await create(t, { firstName: 'A', email: 'a@example.com' })).body;
    const b = (await create(t, { firstName: 'B', email: 'b@example.com' })).body;

    const res = await patch(t, b.contactId, { email: 'A@EXAMPLE.com', firstName: 'Changed' });
    expectProblem(res, 409, 'email_taken');
    expect(res.body.errors.map((e: any) => e.path)).toEqual(['email']);
    expect((await get(t, b.contactId)).body).toStrictEqual(b);
    expect((await get(t, a.contactId)).body).toStrictEqual(a);
    expect(await eventCount(t)).toBe(2);
  });

  test('the same email in another tenant is fine', async () => {
    const a = await createTenant(gw.app);
    const b = await createTenant(gw.app);
    expect((await create(a, { email: 'shared@example.com' })).status).toBe(201);
    expect((await create(b, { email: 'SHARED@example.com' })).status).toBe(201);
  });

  test('concurrent creates with the same email: exactly one wins', async () => {
    const t = await createTenant(gw.app);
    const results = await Promise.all(
      ['race@example.com', 'RACE@example.com', 'Race@Example.com', 'race@EXAMPLE.com'].map((email) =>
        create(t, { email }),
      ),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    for (const r of results.filter((r) => r.status === 409)) expectProblem(r, 409, 'email_taken');
    expect(await countContacts(t)).toBe(1);
    const events = await eventsOf(gw.app, t.tenantId);
    expect(events.map((e) => [e.tenantSequence, e.type])).toEqual([[1, 'communication.contact.created']]);
  });
});

describe('validation', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['invalid email', { email: 'not-an-email' }, 'email'],
    ['email without domain', { email: 'jane@' }, 'email'],
    ['email too long', { email: `${'a'.repeat(250)}@x.com` }, 'email'],
    ['email as number', { email: 42 }, 'email'],
    ['firstName too long', { firstName: 'x'.repeat(201) }, 'firstName'],
    ['lastName too long', { lastName: 'x'.repeat(201) }, 'lastName'],
    ['phone too long', { phone: '1'.repeat(51) }, 'phone'],
    ['company too long', { company: 'x'.repeat(201) }, 'company'],
    ['streetAddress too long', { streetAddress: 'x'.repeat(501) }, 'streetAddress'],
    ['postalCode too long', { postalCode: '9'.repeat(51) }, 'postalCode'],
    ['country too long', { country: 'x'.repeat(101) }, 'country'],
    ['tag too long', { tag: 'x'.repeat(101) }, 'tag'],
    ['addressingNotes too long', { addressingNotes: 'x'.repeat(2001) }, 'addressingNotes'],
    ['note too long', { note: 'x'.repeat(10_001) }, 'note'],
    ['firstName as number', { firstName: 123 }, 'firstName'],
    ['lastName as boolean', { lastName: true }, 'lastName'],
    ['phone as object', { phone: { n: 1 } }, 'phone'],
    ['tag as array', { tag: ['a'] }, 'tag'],
    ['unknown field foo', { foo: 'bar' }, 'foo'],
    ['customData as array', { customData: [1, 2] }, 'customData'],
    ['customData as string', { customData: 'x' }, 'customData'],
    ['customData as number', { customData: 42 }, 'customData'],
    ['preferredLanguage not a tag', { preferredLanguage: 'english' }, 'preferredLanguage'],
    ['preferredLanguage with underscore', { preferredLanguage: 'en_US' }, 'preferredLanguage'],
    ['preferredLanguage empty', { preferredLanguage: '' }, 'preferredLanguage'],
    [
      'preferredLanguage too long',
      { preferredLanguage: 'en-aaaaaaaa-bbbbbbbb-cccccccc-dddddddd' },
      'preferredLanguage',
    ],
    ['preferredLanguage as number', { preferredLanguage: 5 }, 'preferredLanguage'],
  ];

  test.each(cases)('create with %s is 400 validation_failed naming the field', async (_name, bad, path) => {
    const t = await createTenant(gw.app);
    const res = await create(t, { firstName: 'Valid', lastName: 'Person', ...bad });
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors.length).toBeGreaterThan(0);
    expect(new Set(errorPaths(res))).toEqual(new Set([path]));
    for (const e of res.body.errors) expect(typeof e.message).toBe('string');
    expect(await countContacts(t)).toBe(0);
    expect(await eventCount(t)).toBe(0);
  });

  test.each(cases)(
    'PATCH with %s is 400 validation_failed naming the field and changes nothing',
    async (_name, bad, path) => {
      const t = await createTenant(gw.app);
      const created = (await create(t, FULL_INPUT)).body;
      const res = await patch(t, created.contactId, { city: 'Changed', ...bad });
      expectProblem(res, 400, 'validation_failed');
      expect(new Set(errorPaths(res))).toEqual(new Set([path]));
      expect((await get(t, created.contactId)).body).toStrictEqual(created);
      expect(await eventCount(t)).toBe(1);
    },
  );

  test('every bad field of one request is named', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, {
      email: 'nope',
      firstName: 7,
      lastName: 'x'.repeat(201),
      customData: ['array'],
      preferredLanguage: 'not a language',
      foo: 1,
    });
    expectProblem(res, 400, 'validation_failed');
    expect(new Set(errorPaths(res))).toEqual(
      new Set(['email', 'firstName', 'lastName', 'customData', 'preferredLanguage', 'foo']),
    );
    expect(await countContacts(t)).toBe(0);
  });

  test('a body that is not JSON is 400 and writes nothing', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, '{"firstName": ');
    expectProblem(res, 400, 'invalid_request');
    expect(await countContacts(t)).toBe(0);
    expect(await eventCount(t)).toBe(0);
  });
});

describe('tenant isolation', () => {
  test("another tenant's contact: GET, PATCH and DELETE are 404 and change nothing", async () => {
    const owner = await createTenant(gw.app);
    const other = await createTenant(gw.app);
    const created = (await create(owner, FULL_INPUT)).body;

    expectProblem(await get(other, created.contactId), 404, 'not_found');
    expectProblem(await patch(other, created.contactId, { firstName: 'Hacked', email: 'x@y.com' }), 404, 'not_found');
    expectProblem(await del(other, created.contactId), 404, 'not_found');

    expect((await get(owner, created.contactId)).body).toStrictEqual(created);
    expect(await countContacts(owner)).toBe(1);
    expect(await eventCount(owner)).toBe(1);
    expect(await eventCount(other)).toBe(0);
  });
});

describe('auth and feature gate', () => {
  test('no key is 401; a tenant without communication is 403 feature_not_enabled, even for an invalid body', async () => {
    const noKey = await http(gw.url, 'POST', BASE, { body: { firstName: 'X' } });
    expectProblem(noKey, 401, 'unauthorized');

    const t = await createTenant(gw.app, ['accounting']);
    expectProblem(await create(t, { firstName: 'X' }), 403, 'feature_not_enabled');
    expectProblem(await create(t, { firstName: 7 }), 403, 'feature_not_enabled');
    expectProblem(await list(t), 403, 'feature_not_enabled');
    expectProblem(await get(t, `contact_${ulid()}`), 403, 'feature_not_enabled');
    expect(await countContacts(t)).toBe(0);
    expect(await eventCount(t)).toBe(0);
  });
});

describe('events', () => {
  test('a run of mutations leaves one event each, gapless, matching the responses; failures leave none', async () => {
    const t = await createTenant(gw.app);
    const expected: { type: string; data: unknown; correlationId: string | null }[] = [];
    const record = (res: HttpResult, type: string, data: unknown) =>
      expected.push({ type, data, correlationId: res.headers.get('x-correlation-id') });

    const a = await create(t, { firstName: 'A', email: 'a@example.com' });
    record(a, 'communication.contact.created', a.body);
    const b = await create(t, { firstName: 'B', email: 'b@example.com', customData: { n: 1 } });
    record(b, 'communication.contact.created', b.body);

    // Failures in between: none may leave an event or take a sequence number.
    expect((await create(t, { email: 'A@example.com' })).status).toBe(409);
    expect((await create(t, { firstName: 1 })).status).toBe(400);
    expect((await patch(t, b.body.contactId, { email: 'a@EXAMPLE.com' })).status).toBe(409);
    expect((await patch(t, `contact_${ulid()}`, { firstName: 'X' })).status).toBe(404);
    expect((await del(t, `contact_${ulid()}`)).status).toBe(404);

    const a2 = await patch(t, a.body.contactId, { lastName: 'Anders' });
    record(a2, 'communication.contact.updated', a2.body);
    const bDel = await del(t, b.body.contactId);
    record(bDel, 'communication.contact.deleted', b.body);

    const events = await eventsOf(gw.app, t.tenantId);
    expect(events.map((e) => e.tenantSequence)).toEqual([1, 2, 3, 4]);
    expect(events.map((e) => ({ type: e.type, data: e.data, correlationId: e.correlationId }))).toEqual(expected);
    expect(events.map((e) => e.resourceId)).toEqual([
      a.body.contactId,
      b.body.contactId,
      a.body.contactId,
      b.body.contactId,
    ]);
    expect(new Set(expected.map((e) => e.correlationId)).size).toBe(4);
  });

  test('concurrent creates get gapless, distinct sequence numbers, one event per response', async () => {
    const t = await createTenant(gw.app);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        create(t, { firstName: `C${i}`, email: `c${i}@example.com` }, { 'x-correlation-id': `concurrent-create-${i}` }),
      ),
    );
    expect(results.map((r) => r.status)).toEqual(Array(12).fill(201));
    const events = await eventsOf(gw.app, t.tenantId);
    expect(events.map((e) => e.tenantSequence)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    const byCorrelation = new Map(events.map((e) => [e.correlationId, e]));
    expect(byCorrelation.size).toBe(12);
    results.forEach((res, i) => {
      const event = byCorrelation.get(`concurrent-create-${i}`)!;
      expect(event.type).toBe('communication.contact.created');
      expect(event.resourceId).toBe(res.body.contactId);
      expect(event.data).toEqual(res.body);
    });
  });
});
