import { describe, expect, test } from 'vitest';
import { createTenant, eventsOf, http, useGateway, type Tenant } from './support/gateway.js';
import { failed, graphqlClient, ok } from './support/graphql.js';
import { startReceiver } from './support/receiver.js';
import { errorPaths, expectProblem } from './support/problem.js';

// Every invoice has an ISO 4217 currency (the request's, else the seller profile's default, else
// EUR) whose minor units decide the rounding of its amounts, and every channel shows each amount
// the same way: a decimal string with exactly those units. Over real HTTP, GraphQL, the event log
// and a webhook receiver verifying signatures.

const gw = useGateway(
  { WEBHOOK_ALLOWED_CIDRS: '127.0.0.0/8,::1/128', EVENT_POLL_MS: '200', WEBHOOK_RETRY_SCHEDULE: '0,100ms' },
  { ownDatabase: true },
);
const gql = graphqlClient(() => gw.url);

const AMOUNTS = 'currency netTotal taxTotal grossTotal items { quantity price taxRate net tax gross }';

/** 3 × 1234.5 at 10 % and 1 × 0.5 at 0 %: where JPY, EUR and KWD round differently. */
const LINES = [
  { description: 'Widget', quantity: 3, price: '1234.5', taxRate: 10 },
  { description: 'Half', quantity: 1, price: 0.5, taxRate: 0 },
];

/** What each currency makes of LINES: nets, taxes and totals at its minor units. */
const EXPECTED = {
  // 3703.50 → 3704 (half-up to yen); tax 370.4 → 370; 0.5 → 1
  JPY: {
    items: [
      { quantity: '3', price: '1234.5', taxRate: '10', net: '3704', tax: '370', gross: '4074' },
      { quantity: '1', price: '0.5', taxRate: '0', net: '1', tax: '0', gross: '1' },
    ],
    netTotal: '3705',
    taxTotal: '370',
    grossTotal: '4075',
  },
  EUR: {
    items: [
      { quantity: '3', price: '1234.50', taxRate: '10', net: '3703.50', tax: '370.35', gross: '4073.85' },
      { quantity: '1', price: '0.50', taxRate: '0', net: '0.50', tax: '0.00', gross: '0.50' },
    ],
    netTotal: '3704.00',
    taxTotal: '370.35',
    grossTotal: '4074.35',
  },
  KWD: {
    items: [
      { quantity: '3', price: '1234.500', taxRate: '10', net: '3703.500', tax: '370.350', gross: '4073.850' },
      { quantity: '1', price: '0.500', taxRate: '0', net: '0.500', tax: '0.000', gross: '0.500' },
    ],
    netTotal: '3704.000',
    taxTotal: '370.350',
    grossTotal: '4074.350',
  },
} as const;

const invoiceBody = (extra: Record<string, unknown> = {}) => ({
  customer: 'Currency Customer',
  issuedDate: '2026-06-01',
  paymentTermsDays: 30,
  items: LINES,
  ...extra,
});

async function createInvoice(t: Tenant, extra: Record<string, unknown> = {}) {
  const res = await http(gw.url, 'POST', '/api/v1/invoices', { key: t.apiKey, body: invoiceBody(extra) });
  expect(res.status, res.text).toBe(201);
  const full = await http(gw.url, 'GET', `/api/v1/invoices/${res.body.invoiceId}`, { key: t.apiKey });
  expect(full.status).toBe(200);
  return full.body;
}

const amountsOf = (invoice: any) => ({
  currency: invoice.currency,
  netTotal: invoice.netTotal,
  taxTotal: invoice.taxTotal,
  grossTotal: invoice.grossTotal,
  items: invoice.items.map(({ quantity, price, taxRate, net, tax, gross }: any) => ({
    quantity,
    price,
    taxRate,
    net,
    tax,
    gross,
  })),
});

const setProfile = (t: Tenant, defaultCurrency: string) =>
  http(gw.url, 'PUT', `/admin/v1/tenants/${t.tenantId}/seller-profile`, {
    body: { legalName: 'Seller GmbH', addressLines: ['Hauptstr. 1'], city: 'Berlin', country: 'DE', defaultCurrency },
  });

describe('the currency decides the scale, the same on every channel', () => {
  test.each(['JPY', 'EUR', 'KWD'] as const)(
    '%s: REST, GraphQL, the event log and a signed webhook show the same strings',
    async (currency) => {
      const t = await createTenant(gw.app);
      const receiver = await startReceiver();
      const endpoint = await http(gw.url, 'POST', '/api/v1/webhooks/endpoints', {
        key: t.apiKey,
        body: { url: receiver.url, eventTypes: ['accounting.invoice.created'] },
      });
      expect(endpoint.status, endpoint.text).toBe(201);
      receiver.secrets.push(endpoint.body.secret);

      const invoice = await createInvoice(t, { currency });
      const expected = { currency, ...EXPECTED[currency] };
      expect(amountsOf(invoice)).toEqual(expected);

      const { invoice: viaGraphql } = ok(
        await gql(t.apiKey, `query ($id: ID!) { invoice(id: $id) { ${AMOUNTS} } }`, { id: invoice.invoiceId }),
      );
      expect(viaGraphql).toEqual(expected);

      const [event] = await eventsOf(gw.app, t.tenantId);
      expect(amountsOf(event!.data)).toEqual(expected);

      await receiver.waitFor(1);
      const [delivery] = receiver.received;
      expect(delivery!.verifiedBy).toBe(0);
      expect(amountsOf(JSON.parse(delivery!.body).data)).toEqual(expected);
    },
  );

  test('GraphQL createInvoice takes the currency too, and its lists format every row in its own', async () => {
    const t = await createTenant(gw.app);
    const created = ok(
      await gql(t.apiKey, `mutation ($input: CreateInvoiceInput!) { createInvoice(input: $input) { ${AMOUNTS} } }`, {
        input: invoiceBody({ currency: 'KWD' }),
      }),
    );
    expect(created.createInvoice).toEqual({ currency: 'KWD', ...EXPECTED.KWD });
    await createInvoice(t, { currency: 'JPY' });
    const list = ok(await gql(t.apiKey, `{ invoices(first: 10) { edges { node { ${AMOUNTS} } } } }`));
    expect(list.invoices.edges.map((e: any) => e.node)).toEqual([
      { currency: 'KWD', ...EXPECTED.KWD },
      { currency: 'JPY', ...EXPECTED.JPY },
    ]);
  });

  test('the list and search answer in the same format, and search filters by currency', async () => {
    const t = await createTenant(gw.app);
    await createInvoice(t, { currency: 'JPY' });
    await createInvoice(t, { currency: 'EUR' });
    const list = await http(gw.url, 'GET', '/api/v1/invoices', { key: t.apiKey });
    expect(list.body.items.map(amountsOf)).toEqual([
      { currency: 'JPY', ...EXPECTED.JPY },
      { currency: 'EUR', ...EXPECTED.EUR },
    ]);
    const search = await http(gw.url, 'POST', '/api/v1/invoices/search', {
      key: t.apiKey,
      body: { filters: [{ field: 'currency', operator: 'is', value: 'JPY' }] },
    });
    expect(search.status, search.text).toBe(200);
    expect(search.body.items.map(amountsOf)).toEqual([{ currency: 'JPY', ...EXPECTED.JPY }]);
  });

  test('the largest total is named in the currency: 9999999999999 JPY, one yen more is 422', async () => {
    const t = await createTenant(gw.app);
    const max = await createInvoice(t, {
      currency: 'JPY',
      items: [{ description: 'All', quantity: 10, price: '999999999999.9', taxRate: 0 }],
    });
    expect(max.grossTotal).toBe('9999999999999');
    const over = await http(gw.url, 'POST', '/api/v1/invoices', {
      key: t.apiKey,
      body: invoiceBody({
        currency: 'JPY',
        items: [{ description: 'All', quantity: 10, price: '999999999999.95', taxRate: 0 }], // 9999999999999.5 → 10^13
      }),
    });
    expectProblem(over, 422, 'amount_out_of_range');
    expect(over.body.detail).toBe('The invoice total may be at most 9999999999999 JPY.');
  });
});

describe('the default currency', () => {
  test("without a currency: the seller profile's default, else EUR; a request's own currency wins", async () => {
    const t = await createTenant(gw.app);
    expect((await createInvoice(t)).currency).toBe('EUR');

    expect((await setProfile(t, 'KWD')).status).toBe(200);
    const defaulted = await createInvoice(t);
    expect(amountsOf(defaulted)).toEqual({ currency: 'KWD', ...EXPECTED.KWD });
    expect((await createInvoice(t, { currency: 'JPY' })).currency).toBe('JPY');

    // The default changes later invoices only: each invoice keeps the currency it was created in.
    expect((await setProfile(t, 'JPY')).status).toBe(200);
    expect((await createInvoice(t)).currency).toBe('JPY');
    const again = await http(gw.url, 'GET', `/api/v1/invoices/${defaulted.invoiceId}`, { key: t.apiKey });
    expect(amountsOf(again.body)).toEqual({ currency: 'KWD', ...EXPECTED.KWD });

    expect((await http(gw.url, 'DELETE', `/admin/v1/tenants/${t.tenantId}/seller-profile`)).status).toBe(200);
    expect((await createInvoice(t)).currency).toBe('EUR');
  });
});

describe('refused currencies', () => {
  test.each([
    ['lower case', 'eur'],
    ['no currency (XXX)', 'XXX'],
    ['gold (no minor units)', 'XAU'],
    ['withdrawn (HRK)', 'HRK'],
    ['not a code', 'ABC'],
    ['four letters', 'EURO'],
    ['empty', ''],
    ['a number', 978],
    ['null', null],
  ])('%s is 400 naming currency, and writes nothing', async (_name, currency) => {
    const t = await createTenant(gw.app);
    const res = await http(gw.url, 'POST', '/api/v1/invoices', { key: t.apiKey, body: invoiceBody({ currency }) });
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toEqual(['currency']);
    expect(await gw.app.services.prisma.invoice.count({ where: { tenantId: t.tenantId } })).toBe(0);
    expect(await eventsOf(gw.app, t.tenantId)).toEqual([]);
  });

  test('the REST message says what is expected; GraphQL refuses the same with validation_failed', async () => {
    const t = await createTenant(gw.app);
    const res = await http(gw.url, 'POST', '/api/v1/invoices', {
      key: t.apiKey,
      body: invoiceBody({ currency: 'XXX' }),
    });
    expect(res.body.errors).toEqual([
      { path: 'currency', message: 'must be an ISO 4217 currency code in capitals, such as EUR, JPY or KWD' },
    ]);
    const viaGraphql = await gql(
      t.apiKey,
      'mutation ($input: CreateInvoiceInput!) { createInvoice(input: $input) { id } }',
      { input: invoiceBody({ currency: 'eur' }) },
    );
    const error = failed(viaGraphql, 'validation_failed', 'createInvoice');
    expect(error.extensions.errors).toEqual([
      { path: 'currency', message: 'must be an ISO 4217 currency code in capitals, such as EUR, JPY or KWD' },
    ]);
    expect(await gw.app.services.prisma.invoice.count({ where: { tenantId: t.tenantId } })).toBe(0);
  });
});

describe('documented', () => {
  test('OpenAPI and the event catalog describe amounts as decimal strings next to a currency', async () => {
    const doc = (await http(gw.url, 'GET', '/openapi.json')).body;
    const invoice = doc.components.schemas.Invoice;
    expect(invoice.required).toContain('currency');
    for (const field of ['netTotal', 'taxTotal', 'grossTotal']) {
      expect(invoice.properties[field].type, field).toBe('string');
      expect(invoice.properties[field].description, field).toMatch(/minor units/);
    }
    const body = doc.paths['/api/v1/invoices'].post.requestBody.content['application/json'].schema;
    expect(body.properties.currency).toMatchObject({ type: 'string', pattern: '^[A-Z]{3}$' });
    expect(body.required).not.toContain('currency');

    const t = await createTenant(gw.app);
    const catalog = await http(gw.url, 'GET', '/api/v1/event-types', { key: t.apiKey });
    const created = catalog.body.items.find((e: any) => e.type === 'accounting.invoice.created');
    expect(created.schema.properties.currency.type).toBe('string');
    expect(created.schema.properties.grossTotal.type).toBe('string');
    expect(created.schema.properties.items.items.properties.net.type).toBe('string');
  });
});
