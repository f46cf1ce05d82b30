import { beforeAll, describe, expect, test } from 'vitest';
import { createTenant, eventsOf, http, useGateway, type Tenant } from './support/gateway.js';
import { failed, graphqlClient, ok } from './support/graphql.js';
import { recordSql, tablesRead } from './support/sql.js';

// GraphQL at /graphql against a real gateway, cross-checked with REST (/api/v1) and with the
// event outbox: the three surfaces must never disagree about a resource.

// The query-count test records every statement of this process: a database of its own, no relay
// and slow safety-net polls keep commits (this file's and others') and the workers' timers out of it.
const gw = useGateway({ EVENT_RELAY: 'off', EVENT_POLL_MS: '3600000' }, { ownDatabase: true });

const CONTACT_FIELDS = `fragment ContactFields on Contact {
  id email fullName firstName lastName phone company streetAddress city state postalCode country tag
  preferredLanguage formality preferredTone salutation addressingNotes note customData externalId createdAt updatedAt
}`;

const INVOICE_FIELDS = `fragment InvoiceFields on Invoice {
  id number status customer customerContactId customerCompany customerAddress customerVatId reference
  paymentInstructions note issuedDate paymentTermsDays dueDate currency
  items { description quantity price taxRate net tax gross }
  netTotal taxTotal grossTotal application { id name } createdAt updatedAt issuedAt paidAt voidedAt
}`;

const gql = graphqlClient(() => gw.url);
const rest = (method: string, path: string, key: string, body?: unknown) => http(gw.url, method, path, { key, body });

/** The GraphQL contact in REST's shape (only the id is named differently). */
function contactAsRest({ id, ...fields }: Record<string, unknown>) {
  return { contactId: id, ...fields };
}

const DECIMALS = ['quantity', 'price', 'taxRate', 'net', 'tax', 'gross'] as const;
const TOTALS = ['netTotal', 'taxTotal', 'grossTotal'] as const;

/**
 * GraphQL and REST agree on an invoice, field by field: one money format, so every decimal is the
 * same string on both (not merely the same number), everything else equal.
 */
function expectInvoiceAgrees(g: any, r: any) {
  const { id, number, application, ...same } = g;
  for (const [i, line] of (g.items as any[]).entries()) {
    for (const field of DECIMALS) expect(line[field], `items[${i}].${field}`).toBeTypeOf('string');
  }
  for (const field of TOTALS) expect(g[field], field).toBeTypeOf('string');
  expect({
    invoiceId: id,
    invoiceNumber: number,
    ...same,
    applicationId: application.id,
    applicationName: application.name,
  }).toStrictEqual(r);
}

async function eventCount(tenantId: string) {
  return (await eventsOf(gw.app, tenantId)).length;
}

/** The mutation left exactly one event, of this type, about this resource, from this request. */
async function expectOneNewEvent(
  tenantId: string,
  before: number,
  type: string,
  resourceId: string,
  correlationId: string | null,
) {
  const events = await eventsOf(gw.app, tenantId);
  expect(events.map((e) => e.type).slice(before)).toEqual([type]);
  const event = events.at(-1)!;
  expect(event).toMatchObject({ resourceId, correlationId, tenantSequence: before + 1 });
  return event;
}

const FULL_CONTACT = {
  email: 'Ada.Lovelace@Example.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  phone: '+44 20 7946 0000',
  company: 'Analytical Engines Ltd',
  streetAddress: "12 St James's Square",
  city: 'London',
  state: 'Greater London',
  postalCode: 'SW1Y 4JH',
  country: 'GB',
  tag: 'vip',
  preferredLanguage: 'en-GB',
  formality: 'formal',
  preferredTone: 'warm',
  salutation: 'Dear Countess',
  addressingNotes: 'Use her full title',
  note: 'Met at the Royal Society',
  customData: {
    erpId: 'ERP-1815',
    loyaltyTier: 'gold',
    score: 99.5,
    active: true,
    tags: ['engines', 'poetry'],
    preferences: { newsletter: true, sms: false, fax: null },
  },
};

const CREATE_CONTACT = `mutation ($input: CreateContactInput!) { createContact(input: $input) { ...ContactFields } } ${CONTACT_FIELDS}`;
const GET_CONTACT = `query ($id: ID!) { contact(id: $id) { ...ContactFields } } ${CONTACT_FIELDS}`;
const UPDATE_CONTACT = `mutation ($id: ID!, $input: UpdateContactInput!) { updateContact(id: $id, input: $input) { ...ContactFields } } ${CONTACT_FIELDS}`;
const DELETE_CONTACT = `mutation ($id: ID!) { deleteContact(id: $id) { deletedContactId } }`;
const CREATE_INVOICE = `mutation ($input: CreateInvoiceInput!) { createInvoice(input: $input) { ...InvoiceFields } } ${INVOICE_FIELDS}`;
const GET_INVOICE = `query ($id: ID!) { invoice(id: $id) { ...InvoiceFields } } ${INVOICE_FIELDS}`;
const TRANSITION = (action: string) =>
  `mutation ($id: ID!) { ${action}Invoice(id: $id) { ...InvoiceFields } } ${INVOICE_FIELDS}`;

const simpleInvoice = (customer: string) => ({
  customer,
  issuedDate: '2026-05-30',
  paymentTermsDays: 14,
  items: [{ description: 'Work', quantity: 1, price: 100, taxRate: 19 }],
});

let t: Tenant; // the main tenant of this file
let other: Tenant; // owns records the main tenant must never see
let otherContactId: string;
let otherInvoiceId: string;

beforeAll(async () => {
  t = await createTenant(gw.app);
  other = await createTenant(gw.app);
  const c = await rest('POST', '/api/v1/contacts/contacts', other.apiKey, { firstName: 'Other' });
  expect(c.status).toBe(201);
  otherContactId = c.body.contactId;
  const i = await rest('POST', '/api/v1/invoices', other.apiKey, simpleInvoice('Other customer'));
  expect(i.status).toBe(201);
  otherInvoiceId = i.body.invoiceId;
});

describe('viewer', () => {
  test('resolves the key to its application and tenant', async () => {
    const { tenantId } = await gw.app.services.admin.createTenant({
      name: 'Viewer GmbH',
      features: ['communication', 'accounting'],
    });
    const app = await gw.app.services.admin.createApplication({ tenantId, name: 'Viewer app' });
    const data = ok(await gql(app.apiKey, '{ viewer { application { id name } tenant { id name features } } }'));
    expect(data).toStrictEqual({
      viewer: {
        application: { id: app.applicationId, name: 'Viewer app' },
        tenant: { id: tenantId, name: 'Viewer GmbH', features: ['accounting', 'communication'] },
      },
    });
  });

  test('without a key, or with a revoked one, viewer is unauthorized', async () => {
    failed(await gql(undefined, '{ viewer { application { id } } }'), 'unauthorized', 'viewer');
    const { tenantId } = await gw.app.services.admin.createTenant({ name: 'Revoked', features: [] });
    const app = await gw.app.services.admin.createApplication({ tenantId, name: 'Gone' });
    await gw.app.services.admin.revokeKeys(app.applicationId);
    failed(await gql(app.apiKey, '{ viewer { application { id } } }'), 'unauthorized', 'viewer');
  });

  test('a feature the tenant lacks is feature_not_enabled', async () => {
    const accountingOnly = await createTenant(gw.app, ['accounting']);
    failed(
      await gql(accountingOnly.apiKey, '{ contacts(first: 1) { edges { node { id } } } }'),
      'feature_not_enabled',
      'contacts',
    );
    const communicationOnly = await createTenant(gw.app, ['communication']);
    failed(
      await gql(communicationOnly.apiKey, '{ invoices(first: 1) { edges { node { id } } } }'),
      'feature_not_enabled',
      'invoices',
    );
  });
});

describe('contacts', () => {
  let contactId: string;
  let lastRest: any;

  test('createContact with every field and customData round-trips, equal to REST and to the event', async () => {
    const before = await eventCount(t.tenantId);
    const created = await gql(t.apiKey, CREATE_CONTACT, { input: FULL_CONTACT });
    const c = ok(created).createContact;
    contactId = c.id;
    expect(c.id).toMatch(/^contact_[0-9A-HJKMNP-TV-Z]{26}$/);
    const { preferredLanguage: _lang, ...verbatim } = FULL_CONTACT;
    expect(c).toMatchObject({ ...verbatim, preferredLanguage: 'en-gb', fullName: 'Ada Lovelace' });
    expect(c.customData).toStrictEqual(FULL_CONTACT.customData);
    expect(new Date(c.createdAt).toISOString()).toBe(c.createdAt);

    const read = ok(await gql(t.apiKey, GET_CONTACT, { id: contactId })).contact;
    expect(read).toStrictEqual(c);

    const r = await rest('GET', `/api/v1/contacts/contacts/${contactId}`, t.apiKey);
    expect(r.status).toBe(200);
    expect(contactAsRest(read)).toStrictEqual(r.body);
    lastRest = r.body;

    const event = await expectOneNewEvent(
      t.tenantId,
      before,
      'communication.contact.created',
      contactId,
      created.correlationId,
    );
    expect(event.resourceType).toBe('contact');
    expect(event.data).toStrictEqual(r.body);
  });

  test('updateContact changes given fields, clears nulls, keeps the rest', async () => {
    const before = await eventCount(t.tenantId);
    const input = { firstName: 'Augusta Ada', tag: null, preferredLanguage: 'EN', customData: { erpId: 'ERP-1816' } };
    const updated = await gql(t.apiKey, UPDATE_CONTACT, { id: contactId, input });
    const c = ok(updated).updateContact;
    expect(contactAsRest(c)).toStrictEqual({
      ...lastRest,
      firstName: 'Augusta Ada',
      fullName: 'Augusta Ada Lovelace',
      tag: null,
      preferredLanguage: 'en',
      customData: { erpId: 'ERP-1816' },
      updatedAt: c.updatedAt,
    });
    expect(Date.parse(c.updatedAt)).toBeGreaterThanOrEqual(Date.parse(lastRest.updatedAt));

    const r = await rest('GET', `/api/v1/contacts/contacts/${contactId}`, t.apiKey);
    expect(contactAsRest(c)).toStrictEqual(r.body);
    expect(contactAsRest(ok(await gql(t.apiKey, GET_CONTACT, { id: contactId })).contact)).toStrictEqual(r.body);
    lastRest = r.body;

    const event = await expectOneNewEvent(
      t.tenantId,
      before,
      'communication.contact.updated',
      contactId,
      updated.correlationId,
    );
    expect(event.data).toStrictEqual(r.body);
  });

  test('deleteContact removes it from every surface', async () => {
    const before = await eventCount(t.tenantId);
    const deleted = await gql(t.apiKey, DELETE_CONTACT, { id: contactId });
    expect(ok(deleted)).toStrictEqual({ deleteContact: { deletedContactId: contactId } });

    expect((await rest('GET', `/api/v1/contacts/contacts/${contactId}`, t.apiKey)).status).toBe(404);
    failed(await gql(t.apiKey, GET_CONTACT, { id: contactId }), 'not_found', 'contact');
    failed(await gql(t.apiKey, DELETE_CONTACT, { id: contactId }), 'not_found', 'deleteContact');

    const event = await expectOneNewEvent(
      t.tenantId,
      before,
      'communication.contact.deleted',
      contactId,
      deleted.correlationId,
    );
    expect(event.data).toStrictEqual(lastRest);
  });

  test('contacts(first: 2) pages through every contact exactly once, oldest first', async () => {
    const pager = await createTenant(gw.app, ['communication']);
    const created: string[] = [];
    for (let i = 0; i < 5; i++) {
      const c = ok(
        await gql(pager.apiKey, CREATE_CONTACT, { input: { firstName: `P${i}`, email: `p${i}@example.com` } }),
      ).createContact;
      created.push(c.id);
    }
    const PAGE = `query ($after: String) {
      contacts(first: 2, after: $after) {
        edges { cursor node { id firstName } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }`;
    const seen: string[] = [];
    const pages: number[] = [];
    let after: string | null = null;
    for (let n = 0; n < 10; n++) {
      const { contacts } = ok(await gql(pager.apiKey, PAGE, { after }));
      const { edges, pageInfo } = contacts;
      pages.push(edges.length);
      seen.push(...edges.map((e: any) => e.node.id));
      expect(pageInfo.startCursor).toBe(edges[0].cursor);
      expect(pageInfo.endCursor).toBe(edges.at(-1).cursor);
      expect(pageInfo.hasPreviousPage).toBe(after !== null);
      expect(pageInfo.hasNextPage).toBe(seen.length < created.length);
      if (!pageInfo.hasNextPage) break;
      after = pageInfo.endCursor;
    }
    expect(pages).toEqual([2, 2, 1]);
    expect(seen).toEqual(created);

    // Past the end: an empty page.
    const lastPage = ok(await gql(pager.apiKey, PAGE, { after })).contacts;
    expect(lastPage.edges.map((e: any) => e.node.id)).toEqual([created[4]]);
    const beyond = ok(await gql(pager.apiKey, PAGE, { after: lastPage.pageInfo.endCursor }));
    expect(beyond.contacts).toStrictEqual({
      edges: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null },
    });

    // The whole list in one page is the same list, and REST lists the same ids in the same order.
    const all = ok(
      await gql(pager.apiKey, '{ contacts(first: 100) { edges { node { id } } pageInfo { hasNextPage } } }'),
    );
    expect(all.contacts.edges.map((e: any) => e.node.id)).toEqual(created);
    expect(all.contacts.pageInfo.hasNextPage).toBe(false);
    const r = await rest('GET', '/api/v1/contacts/contacts', pager.apiKey);
    expect(r.body.items.map((c: any) => c.contactId)).toEqual(created);
  });

  test('a page reads only the columns its selection needs (through fragments and aliases) and answers like REST', async () => {
    const reader = await createTenant(gw.app, ['communication']);
    const contactId = ok(await gql(reader.apiKey, CREATE_CONTACT, { input: FULL_CONTACT })).createContact.id;
    const stored = (await rest('GET', `/api/v1/contacts/contacts/${contactId}`, reader.apiKey)).body;
    const QUERY = `{ contacts(first: 10) { edges { cursor node { mail: email ...Names ... on Contact { customData } } } } }
      fragment Names on Contact { fullName }`;
    const recorder = recordSql();
    let page: any;
    try {
      page = ok(await gql(reader.apiKey, QUERY));
    } finally {
      recorder.stop();
    }
    const read = recorder.statements.find((sql) => /FROM "(public"\.")?Contact"/.test(sql))!;
    const columns = [...read.slice(0, read.indexOf(' FROM ')).matchAll(/"Contact"\."(\w+)"/g)].map((m) => m[1]);
    expect(columns.sort()).toEqual(['customData', 'email', 'firstName', 'id', 'lastName']);
    expect(page.contacts.edges).toStrictEqual([
      {
        cursor: expect.any(String),
        node: { mail: stored.email, fullName: stored.fullName, customData: stored.customData },
      },
    ]);

    // Every field selected: every column read, equal to REST.
    const full = ok(
      await gql(reader.apiKey, `{ contacts(first: 10) { edges { node { ...ContactFields } } } } ${CONTACT_FIELDS}`),
    );
    expect(full.contacts.edges.map((edge: any) => contactAsRest(edge.node))).toStrictEqual([stored]);
  });

  test('a garbage cursor is a client error, not an internal one', async () => {
    const res = await gql(t.apiKey, '{ contacts(first: 2, after: "not-a-cursor") { edges { node { id } } } }');
    const error = failed(res, 'invalid_request', 'contacts');
    expect(error.message).toMatch(/cursor/i);
  });
});

describe('invoices', () => {
  let contactId: string;
  let invoiceId: string;

  // 0.1 + 0.2 must be 0.3, 8.5 % tax rounds half-up per line, quantities come as numbers and strings.
  const AWKWARD = {
    customer: 'Decimal & Sons',
    customerCompany: 'Decimal & Sons Ltd',
    customerAddress: '1 Float Street, Rounding',
    customerVatId: 'GB123456789',
    reference: 'PO-0.1+0.2',
    paymentInstructions: 'Net 30',
    note: 'awkward decimals',
    issuedDate: '2026-01-31',
    paymentTermsDays: 30,
    items: [
      { description: 'a tenth', quantity: 1, price: 0.1, taxRate: 0 },
      { description: 'two tenths', quantity: 1, price: 0.2, taxRate: 0 },
      { description: 'three at 19.99, 8.5%', quantity: '3', price: 19.99, taxRate: 8.5 },
      { description: 'two and a half at 10.005, 8.5%', quantity: '2.5', price: '10.005', taxRate: '8.5' },
      { description: 'half a cent of tax', quantity: 1, price: 1, taxRate: 0.5 },
    ],
  };

  test('createInvoice computes exact decimals, returned as strings equal to REST numbers', async () => {
    contactId = ok(await gql(t.apiKey, CREATE_CONTACT, { input: { firstName: 'Invoice', lastName: 'Customer' } }))
      .createContact.id;
    const before = await eventCount(t.tenantId);
    const created = await gql(t.apiKey, CREATE_INVOICE, { input: { ...AWKWARD, customerContactId: contactId } });
    const inv = ok(created).createInvoice;
    invoiceId = inv.id;
    expect(inv.id).toMatch(/^inv_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(inv.number).toMatch(/^INV-2026-\d{5}$/);
    const { items: _items, ...header } = AWKWARD;
    expect(inv).toMatchObject({
      ...header,
      customerContactId: contactId,
      status: 'draft',
      dueDate: '2026-03-02',
      netTotal: '86.28',
      taxTotal: '7.24',
      grossTotal: '93.52',
      application: { id: t.applicationId, name: 'Test app' },
      issuedAt: null,
      paidAt: null,
      voidedAt: null,
    });
    expect(inv.items).toStrictEqual([
      { description: 'a tenth', quantity: '1', price: '0.10', taxRate: '0', net: '0.10', tax: '0.00', gross: '0.10' },
      {
        description: 'two tenths',
        quantity: '1',
        price: '0.20',
        taxRate: '0',
        net: '0.20',
        tax: '0.00',
        gross: '0.20',
      },
      {
        description: 'three at 19.99, 8.5%',
        quantity: '3',
        price: '19.99',
        taxRate: '8.5',
        net: '59.97',
        tax: '5.10',
        gross: '65.07',
      },
      {
        description: 'two and a half at 10.005, 8.5%',
        quantity: '2.5',
        price: '10.005',
        taxRate: '8.5',
        net: '25.01',
        tax: '2.13',
        gross: '27.14',
      },
      {
        description: 'half a cent of tax',
        quantity: '1',
        price: '1.00',
        taxRate: '0.5',
        net: '1.00',
        tax: '0.01',
        gross: '1.01',
      },
    ]);

    const r = await rest('GET', `/api/v1/invoices/${invoiceId}`, t.apiKey);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ currency: 'EUR', netTotal: '86.28', taxTotal: '7.24', grossTotal: '93.52' });
    expectInvoiceAgrees(inv, r.body);

    const event = await expectOneNewEvent(
      t.tenantId,
      before,
      'accounting.invoice.created',
      invoiceId,
      created.correlationId,
    );
    expect(event.resourceType).toBe('invoice');
    expect(event.data).toStrictEqual(r.body);
  });

  test('invoice(id) with items and application equals REST', async () => {
    const data = ok(
      await gql(
        t.apiKey,
        `query ($id: ID!) { invoice(id: $id) { id items { description quantity price taxRate net tax gross } application { name } } }`,
        { id: invoiceId },
      ),
    );
    const r = await rest('GET', `/api/v1/invoices/${invoiceId}`, t.apiKey);
    expect(data.invoice.id).toBe(invoiceId);
    expect(data.invoice.application).toStrictEqual({ name: r.body.applicationName });
    expect(data.invoice.items).toStrictEqual(r.body.items);
    expectInvoiceAgrees(ok(await gql(t.apiKey, GET_INVOICE, { id: invoiceId })).invoice, r.body);
  });

  test('decimal literals in the query document are accepted like variables', async () => {
    const res = await gql(
      t.apiKey,
      `mutation { createInvoice(input: { customer: "Literal", issuedDate: "2026-02-01", paymentTermsDays: 0,
        items: [{ description: "x", quantity: 0.3, price: "0.1", taxRate: 8.5 }, { description: "y", quantity: 3, price: 0.2, taxRate: "0" }] })
        { id netTotal taxTotal grossTotal items { net tax gross } } }`,
    );
    const inv = ok(res).createInvoice;
    expect(inv).toMatchObject({ netTotal: '0.63', taxTotal: '0.00', grossTotal: '0.63' });
    expect(inv.items).toStrictEqual([
      { net: '0.03', tax: '0.00', gross: '0.03' },
      { net: '0.60', tax: '0.00', gross: '0.60' },
    ]);
    const r = await rest('GET', `/api/v1/invoices/${inv.id}`, t.apiKey);
    expectInvoiceAgrees(ok(await gql(t.apiKey, GET_INVOICE, { id: inv.id })).invoice, r.body);
  });

  test('issue → pay, then every move the lifecycle forbids is invalid_transition', async () => {
    let before = await eventCount(t.tenantId);
    for (const [action, status, stamp, type] of [
      ['issue', 'issued', 'issuedAt', 'accounting.invoice.issued'],
      ['pay', 'paid', 'paidAt', 'accounting.invoice.paid'],
    ] as const) {
      const res = await gql(t.apiKey, TRANSITION(action), { id: invoiceId });
      const inv = ok(res)[`${action}Invoice`];
      expect(inv.status).toBe(status);
      expect(inv[stamp]).toMatch(/^\d{4}-\d\d-\d\dT/);
      const r = await rest('GET', `/api/v1/invoices/${invoiceId}`, t.apiKey);
      expectInvoiceAgrees(inv, r.body);
      const event = await expectOneNewEvent(t.tenantId, before, type, invoiceId, res.correlationId);
      expect(event.data).toStrictEqual(r.body);
      before += 1;
    }

    for (const action of ['issue', 'pay', 'void']) {
      const res = await gql(t.apiKey, TRANSITION(action), { id: invoiceId });
      const error = failed(res, 'invalid_transition', `${action}Invoice`);
      expect(error.extensions.status).toBe(422);
      expect(error.message).toContain('paid');
      expect(res.data).toBeNull();
    }
    expect((await rest('GET', `/api/v1/invoices/${invoiceId}`, t.apiKey)).body.status).toBe('paid');
    expect(await eventCount(t.tenantId)).toBe(before);
  });

  test('draft → void, and a void invoice moves no further', async () => {
    const id = ok(await gql(t.apiKey, CREATE_INVOICE, { input: simpleInvoice('To be voided') })).createInvoice.id;
    const before = await eventCount(t.tenantId);
    const res = await gql(t.apiKey, TRANSITION('void'), { id });
    const inv = ok(res).voidInvoice;
    expect(inv).toMatchObject({ status: 'void', issuedAt: null, paidAt: null });
    expect(inv.voidedAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    await expectOneNewEvent(t.tenantId, before, 'accounting.invoice.voided', id, res.correlationId);
    for (const action of ['issue', 'pay', 'void']) {
      failed(await gql(t.apiKey, TRANSITION(action), { id }), 'invalid_transition', `${action}Invoice`);
    }
    expect(await eventCount(t.tenantId)).toBe(before + 1);
  });

  test('invoices(first:) pages through every invoice exactly once', async () => {
    const pager = await createTenant(gw.app, ['accounting']);
    const created: string[] = [];
    for (let i = 0; i < 5; i++)
      created.push(ok(await gql(pager.apiKey, CREATE_INVOICE, { input: simpleInvoice(`C${i}`) })).createInvoice.id);
    const PAGE = `query ($after: String) {
      invoices(first: 3, after: $after) { edges { cursor node { id number customer } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }
    }`;
    const first = ok(await gql(pager.apiKey, PAGE, { after: null })).invoices;
    const second = ok(await gql(pager.apiKey, PAGE, { after: first.pageInfo.endCursor })).invoices;
    expect(first.edges.map((e: any) => e.node.id)).toEqual(created.slice(0, 3));
    expect(second.edges.map((e: any) => e.node.id)).toEqual(created.slice(3));
    expect(first.pageInfo).toMatchObject({
      hasNextPage: true,
      hasPreviousPage: false,
      startCursor: first.edges[0].cursor,
      endCursor: first.edges[2].cursor,
    });
    expect(second.pageInfo).toMatchObject({
      hasNextPage: false,
      hasPreviousPage: true,
      endCursor: second.edges[1].cursor,
    });
    expect([...first.edges, ...second.edges].map((e: any) => e.node.number)).toEqual(
      [1, 2, 3, 4, 5].map((n) => `INV-2026-0000${n}`),
    );
    expect([...first.edges, ...second.edges].map((e: any) => e.node.customer)).toEqual(['C0', 'C1', 'C2', 'C3', 'C4']);
  });
});

describe('errors', () => {
  test('validation failures name the field: items[0].price, items[1].quantity, email, issuedDate', async () => {
    const before = await eventCount(t.tenantId);
    const bad = await gql(t.apiKey, CREATE_INVOICE, {
      input: {
        ...simpleInvoice('Bad'),
        items: [
          { description: 'negative', quantity: 1, price: -5, taxRate: 0 },
          { description: 'zero', quantity: 0, price: 1, taxRate: 0 },
        ],
      },
    });
    const error = failed(bad, 'validation_failed', 'createInvoice');
    expect(error.extensions.status).toBe(400);
    expect(error.extensions.errors).toStrictEqual([
      { path: 'items[0].price', message: 'must not be negative' },
      { path: 'items[1].quantity', message: 'must be greater than 0' },
    ]);
    expect(error.message).toBe('items[0].price: must not be negative (and 1 more)');

    const notDecimal = await gql(t.apiKey, CREATE_INVOICE, {
      input: { ...simpleInvoice('Bad'), items: [{ description: 'x', quantity: '1,5', price: 1, taxRate: 0 }] },
    });
    expect(failed(notDecimal, 'validation_failed', 'createInvoice').extensions.errors.map((e: any) => e.path)).toEqual([
      'items[0].quantity',
    ]);

    const badDate = await gql(t.apiKey, CREATE_INVOICE, {
      input: { ...simpleInvoice('Bad'), issuedDate: '2026-02-30' },
    });
    expect(failed(badDate, 'validation_failed', 'createInvoice').extensions.errors).toStrictEqual([
      { path: 'issuedDate', message: 'must be an ISO-8601 date (YYYY-MM-DD)' },
    ]);

    const noItems = await gql(t.apiKey, CREATE_INVOICE, { input: { ...simpleInvoice('Bad'), items: [] } });
    expect(failed(noItems, 'validation_failed', 'createInvoice').extensions.errors).toStrictEqual([
      { path: 'items', message: 'At least one item is required.' },
    ]);

    const badEmail = await gql(t.apiKey, CREATE_CONTACT, { input: { firstName: 'X', email: 'not-an-email' } });
    expect(failed(badEmail, 'validation_failed', 'createContact').extensions.errors).toStrictEqual([
      { path: 'email', message: 'must be a valid email address' },
    ]);

    const c = ok(await gql(t.apiKey, CREATE_CONTACT, { input: { firstName: 'Valid' } })).createContact;
    const badUpdate = await gql(t.apiKey, UPDATE_CONTACT, { id: c.id, input: { preferredLanguage: 'english please' } });
    expect(failed(badUpdate, 'validation_failed', 'updateContact').extensions.errors.map((e: any) => e.path)).toEqual([
      'preferredLanguage',
    ]);

    // Only the one valid createContact left an event.
    expect((await eventsOf(gw.app, t.tenantId)).slice(before).map((e) => e.type)).toEqual([
      'communication.contact.created',
    ]);
  });

  test('a duplicate email is email_taken on the email field', async () => {
    ok(await gql(t.apiKey, CREATE_CONTACT, { input: { email: 'dup@example.com' } }));
    const dup = await gql(t.apiKey, CREATE_CONTACT, { input: { email: 'DUP@example.com' } });
    const error = failed(dup, 'email_taken', 'createContact');
    expect(error.extensions.errors).toStrictEqual([{ path: 'email', message: 'is already used by another contact' }]);
  });

  test('malformed ids are invalid_id on every operation', async () => {
    const before = await eventCount(t.tenantId);
    const cases: [string, string, Record<string, unknown>][] = [
      [GET_CONTACT, 'contact', { id: 'contact_123' }],
      [UPDATE_CONTACT, 'updateContact', { id: 'nope', input: { firstName: 'X' } }],
      [DELETE_CONTACT, 'deleteContact', { id: otherInvoiceId }], // an invoice id is not a contact id
      [GET_INVOICE, 'invoice', { id: 'inv_01ARZ3NDEKTSV4RRFFQ69G5FA' }], // 25 characters
      [TRANSITION('issue'), 'issueInvoice', { id: 'inv_' }],
      [TRANSITION('pay'), 'payInvoice', { id: otherContactId }],
      [TRANSITION('void'), 'voidInvoice', { id: 'INV-2026-00001' }],
    ];
    for (const [query, field, variables] of cases) {
      const error = failed(await gql(t.apiKey, query, variables), 'invalid_id', field);
      expect(error.extensions.status).toBe(400);
      expect(error.extensions.errors[0].path).toBe('id');
    }
    const badRef = await gql(t.apiKey, CREATE_INVOICE, {
      input: { ...simpleInvoice('X'), customerContactId: 'contact_abc123' },
    });
    expect(failed(badRef, 'invalid_id', 'createInvoice').extensions.errors[0].path).toBe('customerContactId');
    expect(await eventCount(t.tenantId)).toBe(before);
  });

  test("another tenant's ids are not_found and stay untouched", async () => {
    const before = await eventCount(t.tenantId);
    const otherBefore = await eventCount(other.tenantId);
    const cases: [string, string, Record<string, unknown>][] = [
      [GET_CONTACT, 'contact', { id: otherContactId }],
      [UPDATE_CONTACT, 'updateContact', { id: otherContactId, input: { firstName: 'Hijacked' } }],
      [DELETE_CONTACT, 'deleteContact', { id: otherContactId }],
      [GET_INVOICE, 'invoice', { id: otherInvoiceId }],
      [TRANSITION('issue'), 'issueInvoice', { id: otherInvoiceId }],
      [TRANSITION('void'), 'voidInvoice', { id: otherInvoiceId }],
    ];
    for (const [query, field, variables] of cases) {
      const error = failed(await gql(t.apiKey, query, variables), 'not_found', field);
      expect(error.extensions.status).toBe(404);
    }
    const ref = await gql(t.apiKey, CREATE_INVOICE, {
      input: { ...simpleInvoice('X'), customerContactId: otherContactId },
    });
    expect(failed(ref, 'customer_contact_not_found', 'createInvoice').extensions.errors).toStrictEqual([
      { path: 'customerContactId', message: 'names no contact of this tenant' },
    ]);

    const contact = await rest('GET', `/api/v1/contacts/contacts/${otherContactId}`, other.apiKey);
    expect(contact.body).toMatchObject({ firstName: 'Other', fullName: 'Other' });
    const invoice = await rest('GET', `/api/v1/invoices/${otherInvoiceId}`, other.apiKey);
    expect(invoice.body.status).toBe('draft');
    expect(await eventCount(t.tenantId)).toBe(before);
    expect(await eventCount(other.tenantId)).toBe(otherBefore);
  });

  test('a client X-Correlation-Id is echoed and reaches errors and events', async () => {
    const headers = { 'x-correlation-id': 'gql-test.corr:42' };
    const res = await gql(t.apiKey, GET_CONTACT, { id: 'bad' }, headers);
    expect(res.correlationId).toBe('gql-test.corr:42');
    failed(res, 'invalid_id', 'contact');

    const before = await eventCount(t.tenantId);
    const created = await gql(t.apiKey, CREATE_CONTACT, { input: { firstName: 'Traced' } }, headers);
    await expectOneNewEvent(
      t.tenantId,
      before,
      'communication.contact.created',
      ok(created).createContact.id,
      'gql-test.corr:42',
    );
  });

  test('queries the schema rejects are invalid_request, every error with the correlation id', async () => {
    const res = await gql(t.apiKey, '{ contacts(first: 1) { nope } invoices(first: 1) { alsoNope } }');
    expect(res.data).toBeUndefined();
    expect(res.errors!.map((e) => e.message)).toEqual([
      'Cannot query field "nope" on type "QueryContactsConnection".',
      'Cannot query field "alsoNope" on type "QueryInvoicesConnection".',
    ]);
    for (const e of res.errors!) {
      expect(e.extensions.code).toBe('invalid_request');
      expect(e.extensions.correlationId).toBe(res.correlationId);
    }
    const parse = await gql(t.apiKey, '{ viewer { ');
    expect(parse.errors).toHaveLength(1);
    expect(parse.errors![0].extensions).toMatchObject({ code: 'invalid_request', correlationId: parse.correlationId });
    const variable = await gql(t.apiKey, GET_CONTACT, {});
    expect(variable.errors).toHaveLength(1);
    expect(variable.errors![0].extensions).toMatchObject({
      code: 'invalid_request',
      correlationId: variable.correlationId,
    });
  });
});

describe('query counts', () => {
  const BIG = `query ($n: Int!) {
    contacts(first: 50) { edges { node { ...ContactFields } } }
    invoices(first: $n) { edges { node { id number customer netTotal items { description quantity price taxRate net tax gross } application { name } } } }
  } ${CONTACT_FIELDS}`;

  test('contacts and 20 invoices with items and application: no N+1', async () => {
    const n1 = await createTenant(gw.app);
    for (let i = 0; i < 5; i++)
      ok(await gql(n1.apiKey, CREATE_CONTACT, { input: { firstName: `N${i}`, customData: { i } } }));
    for (let i = 0; i < 20; i++) {
      const items = [1, 2, 3].map((q) => ({ description: `line ${q}`, quantity: q, price: '9.99', taxRate: 7 }));
      const r = await rest('POST', '/api/v1/invoices', n1.apiKey, { ...simpleInvoice(`N+1 ${i}`), items });
      expect(r.status).toBe(201);
    }
    ok(await gql(n1.apiKey, BIG, { n: 1 })); // warm-up (the key's lastUsedAt write happens here)
    await new Promise((resolve) => setTimeout(resolve, 200));

    const run = async (n: number) => {
      const recorder = recordSql();
      try {
        const data = ok(await gql(n1.apiKey, BIG, { n }));
        return { data, statements: [...recorder.statements] };
      } finally {
        recorder.stop();
      }
    };
    const small = await run(2);
    const big = await run(20);

    expect(big.data.contacts.edges).toHaveLength(5);
    expect(big.data.invoices.edges).toHaveLength(20);
    for (const { node } of big.data.invoices.edges) {
      expect(node.items).toHaveLength(3);
      expect(node.items.map((l: any) => l.net)).toEqual(['9.99', '19.98', '29.97']);
      expect(node.application).toStrictEqual({ name: 'Test app' });
      expect(node.netTotal).toBe('59.94');
    }
    expect(small.statements.length, 'the measurement saw no SQL at all').toBeGreaterThan(0);
    // The statement count does not grow with the number of invoices, and no table is read twice.
    expect(big.statements.length, big.statements.join('\n')).toBe(small.statements.length);
    console.log(
      `GraphQL contacts + 20 invoices: ${big.statements.length} SQL statements (tables: ${tablesRead(big.statements).join(', ')})`,
    );
    // At most: the key, its application and tenant (auth), contacts, invoices, their lines, their applications.
    expect(big.statements.length).toBeLessThanOrEqual(7);
    const linesRead = big.statements.filter((sql) => /FROM "(public"\.")?InvoiceLine"/.test(sql));
    expect(linesRead).toHaveLength(1);
  });
});
