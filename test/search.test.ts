import { beforeAll, describe, expect, test } from 'vitest';
import { createTenant, http, useGateway, type HttpResult, type Tenant } from './support/gateway.js';
import { errorPaths, expectProblem, sleep } from './support/problem.js';

// POST /api/v1/contacts/contacts/search and /api/v1/invoices/search over real HTTP: every
// operator on every kind of field with exact ids, sorting with ties, cursor paging, validation,
// the feature gate and tenant isolation.

const gw = useGateway();

const CONTACTS = '/api/v1/contacts/contacts';
const INVOICES = '/api/v1/invoices';

function post(t: Tenant, path: string, body: unknown): Promise<HttpResult> {
  return http(gw.url, 'POST', path, { key: t.apiKey, body });
}
const searchContacts = (t: Tenant, body: unknown) => post(t, `${CONTACTS}/search`, body);
const searchInvoices = (t: Tenant, body: unknown) => post(t, `${INVOICES}/search`, body);

async function created(res: Promise<HttpResult>, idKey: string): Promise<string> {
  const r = await res;
  expect(r.status, r.text).toBe(201);
  return r.body[idKey];
}

let a: Tenant;
let other: Tenant;
/** Contact ids of tenant a: c[1]…c[5]; `between` lies after c1–c3 were created and before c4–c5. */
const c: string[] = [];
const inv: string[] = [];
let between: string;
let otherContact: string;

beforeAll(async () => {
  a = await createTenant(gw.app);
  other = await createTenant(gw.app);
  const contact = (body: unknown) => created(post(a, CONTACTS, body), 'contactId');
  c[1] = await contact({
    firstName: 'Ada',
    lastName: 'Lovelace',
    email: 'ada@example.com',
    company: 'Analytical',
    city: 'London',
    country: 'GB',
    tag: 'vip',
    preferredLanguage: 'en-GB',
  });
  c[2] = await contact({
    firstName: 'Alan',
    lastName: 'Turing',
    email: 'alan@bletchley.org',
    company: 'Bletchley',
    city: 'London',
    country: 'GB',
    tag: 'lead',
  });
  c[3] = await contact({
    firstName: 'Grace',
    lastName: 'Hopper',
    email: 'grace@navy.mil',
    company: 'Navy',
    city: 'Arlington',
    state: 'VA',
    country: 'US',
    tag: 'vip',
    preferredLanguage: 'en-US',
  });
  await sleep(25);
  between = new Date().toISOString();
  await sleep(25);
  c[4] = await contact({ firstName: 'Linus', email: 'linus@kernel.org', city: 'Portland', state: 'OR', country: 'US' });
  c[5] = await contact({ lastName: 'Anonymous', company: 'Acme' });
  // The other tenant has look-alike rows that must never show up.
  otherContact = await created(
    post(other, CONTACTS, { firstName: 'Ada', email: 'ada@example.com', city: 'London', tag: 'vip' }),
    'contactId',
  );

  const invoice = (body: Record<string, unknown>, price: number) =>
    created(
      post(a, INVOICES, { ...body, items: [{ description: 'Item', quantity: 1, price, taxRate: 0 }] }),
      'invoiceId',
    );
  inv[1] = await invoice(
    {
      customer: 'Acme Floral',
      customerContactId: c[1],
      reference: 'PO-1',
      issuedDate: '2026-01-10',
      paymentTermsDays: 30,
    },
    100,
  );
  inv[2] = await invoice({ customer: 'Bloom & Co', issuedDate: '2026-02-01', paymentTermsDays: 14 }, 250.5);
  inv[3] = await invoice(
    { customer: 'acme industrial', reference: 'po-3', issuedDate: '2026-03-05', paymentTermsDays: 0 },
    100,
  );
  inv[4] = await invoice({ customer: 'Zeta', issuedDate: '2025-12-31', paymentTermsDays: 30 }, 10);
  for (const [id, action] of [
    [inv[2], 'issue'],
    [inv[3], 'issue'],
    [inv[3], 'pay'],
    [inv[4], 'void'],
  ] as const) {
    const res = await post(a, `${INVOICES}/${id}/${action}`, undefined);
    expect(res.status, res.text).toBe(200);
  }
  await created(
    post(other, INVOICES, {
      customer: 'Acme Floral',
      issuedDate: '2026-01-10',
      paymentTermsDays: 30,
      items: [{ description: 'x', quantity: 1, price: 100, taxRate: 0 }],
    }),
    'invoiceId',
  );
});

async function contactIds(body: unknown): Promise<string[]> {
  const res = await searchContacts(a, body);
  expect(res.status, res.text).toBe(200);
  return res.body.items.map((i: { contactId: string }) => i.contactId);
}
async function invoiceIds(body: unknown): Promise<string[]> {
  const res = await searchInvoices(a, body);
  expect(res.status, res.text).toBe(200);
  return res.body.items.map((i: { invoiceId: string }) => i.invoiceId);
}
const where = (field: string, operator: string, value: unknown) => ({ filters: [{ field, operator, value }] });

describe('POST /contacts/contacts/search', () => {
  test('empty filters return every contact of the tenant in id order, in the GET list shape', async () => {
    const res = await searchContacts(a, {});
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i: any) => i.contactId)).toEqual([c[1], c[2], c[3], c[4], c[5]]);
    expect(res.body).toMatchObject({ nextCursor: null, count: 5 });
    const one = await http(gw.url, 'GET', `${CONTACTS}/${c[1]}`, { key: a.apiKey });
    expect(res.body.items[0]).toEqual(one.body);
    expect(await contactIds({ filters: [], sort: [] })).toEqual([c[1], c[2], c[3], c[4], c[5]]);
  });

  test.each([
    ['is (ignores case)', where('city', 'is', 'london'), [1, 2]],
    ['is on preferredLanguage', where('preferredLanguage', 'is', 'EN-us'), [3]],
    ['is null', where('tag', 'is', null), [4, 5]],
    ['is_not (empty values match)', where('tag', 'is_not', 'VIP'), [2, 4, 5]],
    ['is_not null', where('company', 'is_not', null), [1, 2, 3, 5]],
    ['contains (ignores case)', where('email', 'contains', 'EXAMPLE'), [1]],
    ['contains on firstName', where('firstName', 'contains', 'a'), [1, 2, 3]],
    ['is_any_of', where('country', 'is_any_of', ['us', 'GB']), [1, 2, 3, 4]],
    [
      'includes_any_of (a scalar field: the same as is_any_of)',
      where('tag', 'includes_any_of', ['lead', 'vip']),
      [1, 2, 3],
    ],
    ['is_any_of on state', where('state', 'is_any_of', ['OR']), [4]],
    ['lastName is', where('lastName', 'is', 'turing'), [2]],
    ['company contains', where('company', 'contains', 'na'), [1, 3]],
  ])('text: %s', async (_name, body, expected) => {
    expect(await contactIds(body)).toEqual(expected.map((i) => c[i]));
  });

  test('date-times: createdAt and updatedAt is_before / is_after, accepting a date too', async () => {
    expect(await contactIds(where('createdAt', 'is_before', between))).toEqual([c[1], c[2], c[3]]);
    expect(await contactIds(where('createdAt', 'is_after', between))).toEqual([c[4], c[5]]);
    expect(await contactIds(where('updatedAt', 'is_after', between))).toEqual([c[4], c[5]]);
    expect(await contactIds(where('createdAt', 'is_after', '2000-01-01'))).toEqual([c[1], c[2], c[3], c[4], c[5]]);
    expect(await contactIds(where('createdAt', 'is_before', '2000-01-01'))).toEqual([]);
  });

  test('filters combine with AND', async () => {
    const body = {
      filters: [
        { field: 'tag', operator: 'is', value: 'vip' },
        { field: 'country', operator: 'is', value: 'US' },
      ],
    };
    expect(await contactIds(body)).toEqual([c[3]]);
  });

  test('sorts asc and desc, ties broken by id, empty values last', async () => {
    expect(await contactIds({ sort: [{ field: 'city', direction: 'asc' }] })).toEqual([c[3], c[1], c[2], c[4], c[5]]);
    expect(await contactIds({ sort: [{ field: 'city', direction: 'desc' }] })).toEqual([c[4], c[1], c[2], c[3], c[5]]);
    expect(await contactIds({ sort: [{ field: 'city' }] })).toEqual([c[3], c[1], c[2], c[4], c[5]]); // asc by default
    expect(
      await contactIds({
        sort: [
          { field: 'country', direction: 'asc' },
          { field: 'firstName', direction: 'desc' },
        ],
      }),
    ).toEqual([c[2], c[1], c[4], c[3], c[5]]);
    expect(
      await contactIds({ sort: [{ field: 'createdAt', direction: 'desc' }], ...where('tag', 'is', 'vip') }),
    ).toEqual([c[3], c[1]]);
  });

  test('pages through every result exactly once with the cursor', async () => {
    const body = { sort: [{ field: 'city', direction: 'desc' }], pageSize: 2 };
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const res = await searchContacts(a, { ...body, ...(cursor ? { cursor } : {}) });
      expect(res.status, res.text).toBe(200);
      pages.push(res.body.items.map((i: any) => i.contactId));
      expect(res.body.count).toBe(res.body.items.length);
      cursor = res.body.nextCursor ?? undefined;
    } while (cursor && pages.length < 10);
    expect(pages).toEqual([[c[4], c[1]], [c[2], c[3]], [c[5]]]);
  });

  test('a cursor of another query, another resource, or made up is 400 naming cursor', async () => {
    const first = await searchContacts(a, { pageSize: 1 });
    const cursor = first.body.nextCursor as string;
    expect(cursor).toEqual(expect.any(String));
    for (const res of [
      await searchContacts(a, { pageSize: 1, cursor, ...where('tag', 'is', 'vip') }),
      await searchContacts(a, { pageSize: 2, cursor }),
      await searchInvoices(a, { pageSize: 1, cursor }),
      await searchContacts(a, { pageSize: 1, cursor: 'not-a-cursor' }),
      await searchContacts(a, { pageSize: 1, cursor: Buffer.from('{"o":-1,"q":"x"}').toString('base64url') }),
    ]) {
      expectProblem(res, 400, 'validation_failed');
      expect(errorPaths(res)).toEqual(['cursor']);
    }
  });

  test("never shows another tenant's contacts", async () => {
    expect(await contactIds(where('email', 'is', 'ada@example.com'))).toEqual([c[1]]);
    const res = await searchContacts(other, {});
    expect(res.body.items.map((i: any) => i.contactId)).toEqual([otherContact]);
  });

  test('without the communication feature: 403', async () => {
    const t = await createTenant(gw.app, ['accounting']);
    expectProblem(await searchContacts(t, {}), 403, 'feature_not_enabled');
  });
});

describe('POST /invoices/search', () => {
  test('empty filters return every invoice of the tenant in id order, in the GET list shape', async () => {
    const res = await searchInvoices(a, {});
    expect(res.status, res.text).toBe(200);
    expect(res.body.items.map((i: any) => i.invoiceId)).toEqual([inv[1], inv[2], inv[3], inv[4]]);
    expect(res.body).toMatchObject({ nextCursor: null, count: 4 });
    const one = await http(gw.url, 'GET', `${INVOICES}/${inv[3]}`, { key: a.apiKey });
    expect(res.body.items[2]).toEqual(one.body);
  });

  test.each([
    ['status is', where('status', 'is', 'paid'), [3]],
    ['status is_not', where('status', 'is_not', 'draft'), [2, 3, 4]],
    ['status is_any_of', where('status', 'is_any_of', ['draft', 'void']), [1, 4]],
    ['status includes_any_of', where('status', 'includes_any_of', ['issued']), [2]],
    ['customer contains', where('customer', 'contains', 'ACME'), [1, 3]],
    ['customer is', where('customer', 'is', 'zeta'), [4]],
    ['invoiceNumber is', where('invoiceNumber', 'is', 'INV-2025-00001'), [4]],
    ['invoiceNumber is_any_of', where('invoiceNumber', 'is_any_of', ['INV-2026-00001', 'INV-2026-00003']), [1, 3]],
    ['invoiceNumber contains', where('invoiceNumber', 'contains', '2026'), [1, 2, 3]],
    ['reference contains', where('reference', 'contains', 'po'), [1, 3]],
    ['reference is null', where('reference', 'is', null), [2, 4]],
    ['reference is_not (empty values match)', where('reference', 'is_not', 'po-1'), [2, 3, 4]],
    ['issuedDate is', where('issuedDate', 'is', '2026-02-01'), [2]],
    ['issuedDate is_not', where('issuedDate', 'is_not', '2026-02-01'), [1, 3, 4]],
    ['issuedDate is_before', where('issuedDate', 'is_before', '2026-01-10'), [4]],
    ['issuedDate is_after', where('issuedDate', 'is_after', '2026-01-10'), [2, 3]],
    ['dueDate is_any_of', where('dueDate', 'is_any_of', ['2026-02-09', '2026-03-05']), [1, 3]],
    ['dueDate is_before', where('dueDate', 'is_before', '2026-02-15'), [1, 4]],
    ['grossTotal is', where('grossTotal', 'is', 100), [1, 3]],
    ['grossTotal is_not', where('grossTotal', 'is_not', 100), [2, 4]],
    ['grossTotal is_any_of', where('grossTotal', 'is_any_of', [10, 250.5]), [2, 4]],
    ['grossTotal is_before (less than)', where('grossTotal', 'is_before', 100), [4]],
    ['grossTotal is_after (greater than)', where('grossTotal', 'is_after', 99.99), [1, 2, 3]],
  ])('%s', async (_name, body, expected) => {
    expect(await invoiceIds(body)).toEqual(expected.map((i) => inv[i]));
  });

  test('customerContactId is, is null, is_not, is_any_of', async () => {
    expect(await invoiceIds(where('customerContactId', 'is', c[1]))).toEqual([inv[1]]);
    expect(await invoiceIds(where('customerContactId', 'is', null))).toEqual([inv[2], inv[3], inv[4]]);
    expect(await invoiceIds(where('customerContactId', 'is_not', c[1]))).toEqual([inv[2], inv[3], inv[4]]);
    expect(await invoiceIds(where('customerContactId', 'is_any_of', [c[2], c[1]]))).toEqual([inv[1]]);
  });

  test('createdAt is_before / is_after', async () => {
    expect(await invoiceIds(where('createdAt', 'is_after', between))).toEqual([inv[1], inv[2], inv[3], inv[4]]);
    expect(await invoiceIds(where('updatedAt', 'is_before', between))).toEqual([]);
  });

  test('sorts by grossTotal asc and desc with the tie broken by id; by dates', async () => {
    expect(await invoiceIds({ sort: [{ field: 'grossTotal', direction: 'asc' }] })).toEqual([
      inv[4],
      inv[1],
      inv[3],
      inv[2],
    ]);
    expect(await invoiceIds({ sort: [{ field: 'grossTotal', direction: 'desc' }] })).toEqual([
      inv[2],
      inv[1],
      inv[3],
      inv[4],
    ]);
    expect(await invoiceIds({ sort: [{ field: 'issuedDate', direction: 'desc' }] })).toEqual([
      inv[3],
      inv[2],
      inv[1],
      inv[4],
    ]);
    expect(await invoiceIds({ sort: [{ field: 'invoiceNumber', direction: 'asc' }] })).toEqual([
      inv[4],
      inv[1],
      inv[2],
      inv[3],
    ]);
  });

  test('pages through filtered, sorted results exactly once', async () => {
    const body = {
      ...where('status', 'is_not', 'void'),
      sort: [{ field: 'grossTotal', direction: 'desc' }],
      pageSize: 1,
    };
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const res = await searchInvoices(a, { ...body, ...(cursor ? { cursor } : {}) });
      expect(res.status, res.text).toBe(200);
      expect(res.body.count).toBe(1);
      seen.push(res.body.items[0].invoiceId);
      cursor = res.body.nextCursor ?? undefined;
    } while (cursor && seen.length < 10);
    expect(seen).toEqual([inv[2], inv[1], inv[3]]);
  });

  test("never shows another tenant's invoices", async () => {
    expect(await invoiceIds(where('customer', 'is', 'Acme Floral'))).toEqual([inv[1]]);
    const res = await searchInvoices(other, {});
    expect(res.body.count).toBe(1);
    expect(res.body.items.map((i: any) => i.invoiceId)).not.toContain(inv[1]);
  });

  test('without the accounting feature: 403', async () => {
    const t = await createTenant(gw.app, ['communication']);
    expectProblem(await searchInvoices(t, {}), 403, 'feature_not_enabled');
  });
});

describe('text values are literal: % _ and \\ are no wildcards', () => {
  let t: Tenant;
  beforeAll(async () => {
    t = await createTenant(gw.app);
    for (const [name, company] of [
      ['percent', '100% Organic'],
      ['underscore', 'snake_case ltd'],
      ['backslash', 'Back\\slash'],
      ['plain', '100 Organic'],
    ]) {
      await created(post(t, CONTACTS, { firstName: name, company }), 'contactId');
    }
  });
  const found = async (operator: string, value: unknown) => {
    const res = await searchContacts(t, where('company', operator, value));
    expect(res.status, res.text).toBe(200);
    return res.body.items.map((item: { firstName: string }) => item.firstName).sort();
  };

  test('is compares the whole text exactly, ignoring case', async () => {
    expect(await found('is', '%')).toEqual([]);
    expect(await found('is', '_%')).toEqual([]);
    expect(await found('is', '100% organic')).toEqual(['percent']);
    expect(await found('is', 'SNAKE_CASE LTD')).toEqual(['underscore']);
    expect(await found('is', 'snakeXcase ltd')).toEqual([]);
    expect(await found('is', 'back\\slash')).toEqual(['backslash']);
    expect(await found('is', 'Back\\')).toEqual([]); // a trailing backslash: no error, no match
    expect(await found('is_any_of', ['%', '100 organic'])).toEqual(['plain']);
    expect(await found('is_not', '100% Organic')).toEqual(['backslash', 'plain', 'underscore']);
  });

  test('contains matches the literal text', async () => {
    expect(await found('contains', '%')).toEqual(['percent']);
    expect(await found('contains', '0%')).toEqual(['percent']);
    expect(await found('contains', '_')).toEqual(['underscore']);
    expect(await found('contains', '\\')).toEqual(['backslash']);
    expect(await found('contains', 'k\\s')).toEqual(['backslash']);
    expect(await found('contains', 'organic')).toEqual(['percent', 'plain']);
  });
});

describe('search validation', () => {
  async function bad(search: typeof searchContacts, body: unknown, path: string, ...words: string[]) {
    const res = await search(a, body);
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toEqual([path]);
    const message = res.body.errors[0].message as string;
    for (const word of words) expect(message).toContain(word);
  }

  test('an unknown field names it and the allowed fields', async () => {
    const body = {
      filters: [
        { field: 'city', operator: 'is', value: 'London' },
        { field: 'phone', operator: 'is', value: '1' },
      ],
    };
    await bad(searchContacts, body, 'filters[1].field', '"phone"', 'email', 'preferredLanguage', 'updatedAt');
    await bad(
      searchInvoices,
      where('number', 'is', 'INV'),
      'filters[0].field',
      '"number"',
      'invoiceNumber',
      'grossTotal',
    );
    await bad(searchContacts, { sort: [{ field: 'phone' }] }, 'sort[0].field', '"phone"', 'email');
  });

  test('an unknown operator names it and the allowed operators', async () => {
    await bad(
      searchContacts,
      where('city', 'like', 'x'),
      'filters[0].operator',
      '"like"',
      'is_any_of',
      'includes_any_of',
      'is_after',
    );
  });

  test('an operator not valid for the field names both and the allowed ones', async () => {
    await bad(
      searchContacts,
      where('createdAt', 'contains', '2026'),
      'filters[0].operator',
      '"contains"',
      '"createdAt"',
      'is_before',
    );
    await bad(
      searchContacts,
      where('city', 'is_before', 'x'),
      'filters[0].operator',
      '"is_before"',
      '"city"',
      'contains',
    );
    await bad(
      searchInvoices,
      where('status', 'contains', 'pa'),
      'filters[0].operator',
      '"contains"',
      '"status"',
      'is_any_of',
    );
  });

  test('a value of the wrong type names it', async () => {
    await bad(searchInvoices, where('grossTotal', 'is', '100 EUR'), 'filters[0].value', 'number');
    await bad(searchInvoices, where('status', 'is', 'sent'), 'filters[0].value', 'draft, issued, paid, void');
    await bad(searchInvoices, where('issuedDate', 'is_before', '10/01/2026'), 'filters[0].value', 'YYYY-MM-DD');
    await bad(searchInvoices, where('customerContactId', 'is', 'abc'), 'filters[0].value', 'contact_');
    await bad(searchInvoices, where('status', 'is', null), 'filters[0].value', 'draft');
    await bad(searchInvoices, where('status', 'is_any_of', 'paid'), 'filters[0].value', 'array');
    await bad(searchInvoices, where('status', 'is_any_of', []), 'filters[0].value', 'array');
    await bad(searchInvoices, where('grossTotal', 'is_any_of', [1, 'x']), 'filters[0].value[1]', 'number');
    await bad(searchContacts, where('city', 'contains', 5), 'filters[0].value', 'string');
    await bad(searchContacts, where('city', 'contains', null), 'filters[0].value', 'string');
    await bad(searchContacts, where('createdAt', 'is_after', 'yesterday'), 'filters[0].value', 'date-time');
    await bad(searchContacts, { filters: [{ field: 'city', operator: 'is' }] }, 'filters[0].value', 'is required');
  });

  test('unknown body keys, a bad direction and a bad pageSize', async () => {
    await bad(searchContacts, { limit: 10 }, 'limit', 'not a known field');
    await bad(
      searchContacts,
      { filters: [{ field: 'city', operator: 'is', value: 'x', extra: 1 }] },
      'filters[0].extra',
      'not a known field',
    );
    await bad(searchContacts, { sort: [{ field: 'city', direction: 'up' }] }, 'sort[0].direction', 'asc');
    await bad(searchContacts, { pageSize: 0 }, 'pageSize', '500');
    await bad(searchInvoices, { pageSize: 501 }, 'pageSize', '500');
  });

  test('pageSize up to 500 is accepted', async () => {
    expect(await contactIds({ pageSize: 500 })).toHaveLength(5);
  });
});

describe('OpenAPI', () => {
  test('lists both search operations with their body schemas', async () => {
    const doc = (await http(gw.url, 'GET', '/openapi.json')).body;
    for (const path of ['/api/v1/contacts/contacts/search', '/api/v1/invoices/search']) {
      const schema = doc.paths[path].post.requestBody.content['application/json'].schema;
      expect(schema).toMatchObject({
        type: 'object',
        properties: { filters: expect.any(Object), sort: expect.any(Object), pageSize: expect.any(Object) },
      });
    }
  });
});
