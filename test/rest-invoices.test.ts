import { ulid } from 'ulid';
import { describe, expect, test } from 'vitest';
import { createTenant, eventsOf, expectOneNewEvent, http, useGateway, type Tenant } from './support/gateway.js';
import { errorPaths, expectProblem, expectTimestampWithin, ISO_TIMESTAMP, sleep } from './support/problem.js';

// REST invoices, end to end over real HTTP: the documented create, the full invoice,
// decimal arithmetic, due dates, gapless numbering, customer links, the lifecycle,
// tenant isolation, pagination and the event outbox.

const gw = useGateway();

const INVOICE_ID = /^inv_[0-9A-Z]{26}$/;

type Item = { description: string; quantity: number; price: number; taxRate: number };

const item = (quantity: number, price: number, taxRate: number, description = 'Item'): Item => ({
  description,
  quantity,
  price,
  taxRate,
});

/** The documented create example; customerContactId must name a real contact of the tenant. */
function documentedExample(customerContactId: string | null) {
  return {
    customer: 'Acme Floral Supplies',
    customerContactId,
    customerCompany: 'Acme Floral Supplies LLC',
    customerAddress: '123 Garden Lane, Portland, OR 97201',
    customerVatId: null,
    reference: 'PO-45678',
    paymentInstructions: 'Net 30 via bank transfer',
    note: 'Seasonal bulk order',
    issuedDate: '2026-05-30',
    paymentTermsDays: 30,
    items: [
      { description: 'Premium rose stems (500 count)', quantity: 2, price: 149.99, taxRate: 8.5 },
      { description: 'Delivery fee', quantity: 1, price: 25.0, taxRate: 0 },
    ],
  };
}

/** A minimal valid invoice body. */
function minimal(overrides: Record<string, unknown> = {}) {
  return {
    customer: 'Customer',
    issuedDate: '2026-03-15',
    paymentTermsDays: 14,
    items: [item(1, 10, 0)],
    ...overrides,
  };
}

function create(t: Tenant, body: unknown, headers?: Record<string, string>) {
  return http(gw.url, 'POST', '/api/v1/invoices', { key: t.apiKey, body, headers });
}
function get(t: Tenant, id: string) {
  return http(gw.url, 'GET', `/api/v1/invoices/${id}`, { key: t.apiKey });
}
function act(t: Tenant, id: string, action: string, headers?: Record<string, string>) {
  return http(gw.url, 'POST', `/api/v1/invoices/${id}/${action}`, { key: t.apiKey, headers });
}
function list(t: Tenant, query = '') {
  return http(gw.url, 'GET', `/api/v1/invoices${query}`, { key: t.apiKey });
}
async function createContact(t: Tenant, body: Record<string, unknown> = { firstName: 'Jane', lastName: 'Doe' }) {
  const res = await http(gw.url, 'POST', '/api/v1/contacts/contacts', { key: t.apiKey, body });
  expect(res.status, res.text).toBe(201);
  return res.body.contactId as string;
}
/** Creates an invoice and returns its full GET representation. */
async function createAndGet(t: Tenant, body: unknown) {
  const res = await create(t, body);
  expect(res.status, res.text).toBe(201);
  const full = await get(t, res.body.invoiceId);
  expect(full.status).toBe(200);
  return full.body;
}
async function countInvoices(t: Tenant) {
  return gw.app.services.prisma.invoice.count({ where: { tenantId: t.tenantId } });
}
async function eventCount(t: Tenant) {
  return (await eventsOf(gw.app, t.tenantId)).length;
}

describe('POST /invoices', () => {
  test('the documented example answers 201 with exactly the documented keys', async () => {
    const t = await createTenant(gw.app);
    const contactId = await createContact(t);
    const res = await create(t, documentedExample(contactId), { 'x-correlation-id': 'invoice-create-doc' });

    expect(res.status, res.text).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('x-correlation-id')).toBe('invoice-create-doc');
    expect(Object.keys(res.body).sort()).toEqual([
      'applicationId',
      'applicationName',
      'invoiceId',
      'invoiceNumber',
      'status',
    ]);
    expect(res.body.invoiceId).toMatch(INVOICE_ID);
    expect(res.body).toEqual({
      invoiceId: res.body.invoiceId,
      invoiceNumber: 'INV-2026-00001',
      status: 'draft',
      applicationId: t.applicationId,
      applicationName: 'Test app',
    });
  });

  test('GET answers the full invoice: lines, totals, due date, link, timestamps; the created event carries it', async () => {
    const t = await createTenant(gw.app);
    const contactId = await createContact(t);
    const eventsBefore = await eventCount(t);
    const before = Date.now();
    const res = await create(t, documentedExample(contactId));
    const after = Date.now();
    expect(res.status).toBe(201);

    const full = await get(t, res.body.invoiceId);
    expect(full.status).toBe(200);
    expect(full.body).toEqual({
      invoiceId: res.body.invoiceId,
      invoiceNumber: 'INV-2026-00001',
      status: 'draft',
      customer: 'Acme Floral Supplies',
      customerContactId: contactId,
      customerCompany: 'Acme Floral Supplies LLC',
      customerAddress: '123 Garden Lane, Portland, OR 97201',
      customerVatId: null,
      reference: 'PO-45678',
      paymentInstructions: 'Net 30 via bank transfer',
      note: 'Seasonal bulk order',
      issuedDate: '2026-05-30',
      paymentTermsDays: 30,
      dueDate: '2026-06-29',
      currency: 'EUR', // the tenant has no seller profile: the fallback
      items: [
        // 2 × 149.99 = 299.98; 8.5 % = 25.4983 → 25.50 (half-up at cents)
        {
          description: 'Premium rose stems (500 count)',
          quantity: '2',
          price: '149.99',
          taxRate: '8.5',
          net: '299.98',
          tax: '25.50',
          gross: '325.48',
        },
        {
          description: 'Delivery fee',
          quantity: '1',
          price: '25.00',
          taxRate: '0',
          net: '25.00',
          tax: '0.00',
          gross: '25.00',
        },
      ],
      netTotal: '324.98',
      taxTotal: '25.50',
      grossTotal: '350.48',
      applicationId: t.applicationId,
      applicationName: 'Test app',
      createdAt: full.body.createdAt,
      updatedAt: full.body.updatedAt,
      issuedAt: null,
      paidAt: null,
      voidedAt: null,
    });
    expectTimestampWithin(full.body.createdAt, before, after);
    expectTimestampWithin(full.body.updatedAt, before, after);

    await expectOneNewEvent(gw.app, t, eventsBefore, res, 'accounting.invoice.created', res.body.invoiceId, full.body);
  });

  test('optional fields may be omitted or null, and come back null', async () => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(t, minimal({ customerContactId: null, customerVatId: null }));
    for (const key of [
      'customerContactId',
      'customerCompany',
      'customerAddress',
      'customerVatId',
      'reference',
      'paymentInstructions',
      'note',
    ]) {
      expect(full[key], key).toBeNull();
    }
    expect(full.customer).toBe('Customer');
  });

  test('a tenant without accounting is 403 feature_not_enabled, even for an invalid body', async () => {
    const t = await createTenant(gw.app, ['communication']);
    expectProblem(await create(t, minimal()), 403, 'feature_not_enabled');
    expectProblem(await create(t, { nonsense: true }), 403, 'feature_not_enabled');
    expectProblem(await list(t), 403, 'feature_not_enabled');
    expectProblem(await get(t, `inv_${ulid()}`), 403, 'feature_not_enabled');
    expect(await countInvoices(t)).toBe(0);
    expect(await eventCount(t)).toBe(0);
  });
});

describe('due dates', () => {
  test.each([
    ['2026-05-30', 30, '2026-06-29'],
    ['2026-05-30', 0, '2026-05-30'],
    ['2026-01-31', 1, '2026-02-01'],
    ['2026-01-31', 30, '2026-03-02'],
    ['2026-02-28', 1, '2026-03-01'],
    ['2028-02-28', 1, '2028-02-29'],
    ['2028-02-29', 1, '2028-03-01'],
    ['2028-02-29', 365, '2029-02-28'],
    ['2028-01-31', 29, '2028-02-29'],
    ['2026-12-31', 1, '2027-01-01'],
    ['2026-11-15', 60, '2027-01-14'],
    ['2026-03-28', 3, '2026-03-31'],
    ['2026-10-24', 14, '2026-11-07'],
    ['2026-06-01', 3650, '2036-05-29'],
  ])('issued %s + %i days is due %s', async (issuedDate, paymentTermsDays, dueDate) => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(t, minimal({ issuedDate, paymentTermsDays }));
    expect(full.issuedDate).toBe(issuedDate);
    expect(full.paymentTermsDays).toBe(paymentTermsDays);
    expect(full.dueDate).toBe(dueDate);
    expect(full.invoiceNumber).toBe(`INV-${issuedDate.slice(0, 4)}-00001`);
  });

  test('the first and last representable years work; the due date may be 9999-12-31 but not later', async () => {
    const t = await createTenant(gw.app);
    const first = await createAndGet(t, minimal({ issuedDate: '1000-01-01', paymentTermsDays: 0 }));
    expect([first.invoiceNumber, first.issuedDate, first.dueDate]).toEqual([
      'INV-1000-00001',
      '1000-01-01',
      '1000-01-01',
    ]);
    const last = await createAndGet(t, minimal({ issuedDate: '9999-12-01', paymentTermsDays: 30 }));
    expect([last.invoiceNumber, last.issuedDate, last.dueDate]).toEqual(['INV-9999-00001', '9999-12-01', '9999-12-31']);

    const tooLate = await create(t, minimal({ issuedDate: '9999-12-31', paymentTermsDays: 1 }));
    expectProblem(tooLate, 400, 'validation_failed');
    expect(errorPaths(tooLate)).toEqual(['paymentTermsDays']);
    for (const issuedDate of ['0999-12-31', '0000-01-01']) {
      const res = await create(t, minimal({ issuedDate }));
      expectProblem(res, 400, 'validation_failed');
      expect(errorPaths(res)).toEqual(['issuedDate']);
    }
    expect(await countInvoices(t)).toBe(2);
  });

  test.each([
    ['2026-02-29', 'issuedDate'],
    ['2026-13-01', 'issuedDate'],
    ['2026-04-31', 'issuedDate'],
    ['30.05.2026', 'issuedDate'],
    ['2026-05-30T00:00:00Z', 'issuedDate'],
  ])('issuedDate %s is 400', async (issuedDate, path) => {
    const t = await createTenant(gw.app);
    const res = await create(t, minimal({ issuedDate }));
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toEqual([path]);
  });

  test.each([[-1], [1.5], ['30'], [3651]])('paymentTermsDays %j is 400', async (paymentTermsDays) => {
    const t = await createTenant(gw.app);
    const res = await create(t, minimal({ paymentTermsDays }));
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toEqual(['paymentTermsDays']);
  });
});

describe('decimal arithmetic', () => {
  test('0.1 + 0.2 is exactly 0.3', async () => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(t, minimal({ items: [item(1, 0.1, 0), item(1, 0.2, 0)] }));
    expect(full.items.map((l: any) => l.net)).toEqual(['0.10', '0.20']);
    expect(full.netTotal).toBe('0.30');
    expect(full.taxTotal).toBe('0.00');
    expect(full.grossTotal).toBe('0.30');
  });

  test('8.5 % of 149.99 × 2 is 25.50', async () => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(t, minimal({ items: [item(2, 149.99, 8.5)] }));
    expect(full.items[0]).toEqual({
      description: 'Item',
      quantity: '2',
      price: '149.99',
      taxRate: '8.5',
      net: '299.98',
      tax: '25.50',
      gross: '325.48',
    });
    expect([full.netTotal, full.taxTotal, full.grossTotal]).toEqual(['299.98', '25.50', '325.48']);
  });

  test('tax rounds half-up at cents, per line (where half-even would differ)', async () => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(t, {
      ...minimal(),
      items: [
        item(1, 0.1, 5), // 0.005 → 0.01 (half-even: 0.00)
        item(1, 0.1, 5), // per line again: the total is 0.02, not round(0.010) = 0.01
        item(1, 0.5, 5), // 0.025 → 0.03 (half-even: 0.02)
        item(1, 0.3, 5), // 0.015 → 0.02
        item(1, 0.29, 5), // 0.0145 → 0.01 (not double-rounded to 0.02)
      ],
    });
    expect(full.items.map((l: any) => [l.net, l.tax, l.gross])).toEqual([
      ['0.10', '0.01', '0.11'],
      ['0.10', '0.01', '0.11'],
      ['0.50', '0.03', '0.53'],
      ['0.30', '0.02', '0.32'],
      ['0.29', '0.01', '0.30'],
    ]);
    expect(full.netTotal).toBe('1.29');
    expect(full.taxTotal).toBe('0.08');
    expect(full.grossTotal).toBe('1.37');
  });

  test('line nets are rounded half-up to cents', async () => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(
      t,
      minimal({ items: [item(3, 0.3333, 0), item(1.5, 0.01, 0), item(0.5, 0.01, 10), item(0.0001, 0.0001, 0)] }),
    );
    expect(full.items.map((l: any) => [l.quantity, l.price, l.net, l.tax, l.gross])).toEqual([
      ['3', '0.3333', '1.00', '0.00', '1.00'],
      ['1.5', '0.01', '0.02', '0.00', '0.02'],
      ['0.5', '0.01', '0.01', '0.00', '0.01'],
      ['0.0001', '0.0001', '0.00', '0.00', '0.00'],
    ]);
    expect([full.netTotal, full.taxTotal, full.grossTotal]).toEqual(['1.03', '0.00', '1.03']);
  });

  test('large quantities and prices are exact', async () => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(
      t,
      minimal({ items: [item(1_000_000, 1234.5678, 19), item(123456789, 9876.5432, 21)] }),
    );
    expect(full.items.map((l: any) => [l.quantity, l.price, l.taxRate, l.net, l.tax, l.gross])).toEqual([
      ['1000000', '1234.5678', '19', '1234567800.00', '234567882.00', '1469135682.00'],
      ['123456789', '9876.5432', '21', '1219326309891.78', '256058525077.27', '1475384834969.05'],
    ]);
    expect(full.netTotal).toBe('1220560877691.78');
    expect(full.taxTotal).toBe('256293092959.27');
    expect(full.grossTotal).toBe('1476853970651.05');
  });

  test('4 decimal places of quantity, price and taxRate are kept', async () => {
    const t = await createTenant(gw.app);
    const full = await createAndGet(t, minimal({ items: [item(1.2345, 6.789, 7.1234)] }));
    // 1.2345 × 6.789 = 8.3810205 → 8.38; 8.38 × 7.1234 % = 0.59694... → 0.60
    expect(full.items[0]).toEqual({
      description: 'Item',
      quantity: '1.2345',
      price: '6.789',
      taxRate: '7.1234',
      net: '8.38',
      tax: '0.60',
      gross: '8.98',
    });
  });

  test('the largest total is accepted; one cent more is 422 amount_out_of_range and writes nothing', async () => {
    const t = await createTenant(gw.app);
    const max = await createAndGet(t, minimal({ items: [item(10, 999999999999.999, 0)] }));
    expect(max.netTotal).toBe('9999999999999.99');
    expect(max.grossTotal).toBe('9999999999999.99');
    expect(max.invoiceNumber).toBe('INV-2026-00001');

    const overByCent = await create(t, minimal({ items: [item(10, 999999999999.999, 0), item(1, 0.01, 0)] }));
    expectProblem(overByCent, 422, 'amount_out_of_range');
    const overByTax = await create(t, minimal({ items: [item(10, 999999999999.999, 0.0001)] }));
    expectProblem(overByTax, 422, 'amount_out_of_range');
    const wayOver = await create(t, minimal({ items: [item(1_000_000_000, 1_000_000_000_000, 100)] }));
    expectProblem(wayOver, 422, 'amount_out_of_range');

    expect(await countInvoices(t)).toBe(1);
    expect(await eventCount(t)).toBe(1);
    // None of them used a number.
    const next = await create(t, minimal());
    expect(next.body.invoiceNumber).toBe('INV-2026-00002');
  });
});

describe('validation', () => {
  const lineCases: [string, Record<string, unknown>, string][] = [
    ['price with 5 decimal places', { price: 1.00001 }, 'items[0].price'],
    ['quantity with 5 decimal places', { quantity: 1.23456 }, 'items[0].quantity'],
    ['taxRate with 5 decimal places', { taxRate: 8.12345 }, 'items[0].taxRate'],
    ['a float artefact as price', { price: 0.1 + 0.2 }, 'items[0].price'],
    ['negative quantity', { quantity: -1 }, 'items[0].quantity'],
    ['zero quantity', { quantity: 0 }, 'items[0].quantity'],
    ['negative price', { price: -0.01 }, 'items[0].price'],
    ['taxRate 101', { taxRate: 101 }, 'items[0].taxRate'],
    ['taxRate 100.0001', { taxRate: 100.0001 }, 'items[0].taxRate'],
    ['negative taxRate', { taxRate: -1 }, 'items[0].taxRate'],
    ['quantity as boolean', { quantity: true }, 'items[0].quantity'],
    ['price as null', { price: null }, 'items[0].price'],
    ['quantity as a non-number string', { quantity: 'two' }, 'items[0].quantity'],
    ['quantity as an empty string', { quantity: '' }, 'items[0].quantity'],
    ['price with a decimal comma', { price: '1,50' }, 'items[0].price'],
    ['price in exponent notation', { price: '1e3' }, 'items[0].price'],
    ['taxRate as a word', { taxRate: 'eight' }, 'items[0].taxRate'],
    ['empty description', { description: '' }, 'items[0].description'],
    ['description as number', { description: 5 }, 'items[0].description'],
    ['unknown line field', { discount: 5 }, 'items[0].discount'],
  ];

  test.each(lineCases)('a line with %s is 400 naming it', async (_name, bad, path) => {
    const t = await createTenant(gw.app);
    const res = await create(t, minimal({ items: [{ ...item(1, 10, 0), ...bad }] }));
    expectProblem(res, 400, 'validation_failed');
    expect(new Set(errorPaths(res))).toEqual(new Set([path]));
    expect(await countInvoices(t)).toBe(0);
    expect(await eventCount(t)).toBe(0);
  });

  test('a non-decimal string names the field with a clear message', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, minimal({ items: [{ ...item(1, 10, 0), quantity: 'two' }] }));
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'items[0].quantity', message: 'quantity must be a decimal number' }]);
  });

  test('a missing line field is named', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, minimal({ items: [item(1, 1, 0), { description: 'x', quantity: 1, taxRate: 0 }] }));
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'items[1].price', message: 'is required' }]);
  });

  test('no items is 400 "At least one item is required."', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, minimal({ items: [] }));
    expectProblem(res, 400, 'validation_failed');
    expect(res.body.errors).toEqual([{ path: 'items', message: 'At least one item is required.' }]);
  });

  test('an empty body names every required field', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, {});
    expectProblem(res, 400, 'validation_failed');
    expect(new Set(errorPaths(res))).toEqual(new Set(['customer', 'issuedDate', 'paymentTermsDays', 'items']));
  });

  test('an unknown top-level field, a blank customer and a too-long VAT id are named', async () => {
    const t = await createTenant(gw.app);
    const res = await create(t, minimal({ foo: 1, customer: '   ', customerVatId: 'x'.repeat(51) }));
    expectProblem(res, 400, 'validation_failed');
    expect(new Set(errorPaths(res))).toEqual(new Set(['foo', 'customer', 'customerVatId']));
    expect(await countInvoices(t)).toBe(0);
  });
});

describe('numbering', () => {
  test('20 concurrent creates get 20 consecutive numbers, no gap, no duplicate; events follow number order', async () => {
    const t = await createTenant(gw.app);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => create(t, minimal({ customer: `C${i}` }))));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(201));
    const numbers = results.map((r) => r.body.invoiceNumber as string).sort();
    expect(numbers).toEqual(Array.from({ length: 20 }, (_, i) => `INV-2026-${String(i + 1).padStart(5, '0')}`));
    expect(new Set(results.map((r) => r.body.invoiceId)).size).toBe(20);

    const events = await eventsOf(gw.app, t.tenantId);
    expect(events.map((e) => e.tenantSequence)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(events.map((e) => (e.data as any).invoiceNumber)).toEqual(numbers);

    // Another year starts at 00001; this year carries on.
    expect((await create(t, minimal({ issuedDate: '2027-01-01' }))).body.invoiceNumber).toBe('INV-2027-00001');
    expect((await create(t, minimal({ issuedDate: '2025-12-31' }))).body.invoiceNumber).toBe('INV-2025-00001');
    expect((await create(t, minimal({ issuedDate: '2026-12-31' }))).body.invoiceNumber).toBe('INV-2026-00021');
    expect((await create(t, minimal({ issuedDate: '2027-06-30' }))).body.invoiceNumber).toBe('INV-2027-00002');
  });

  test('numbering is per tenant', async () => {
    const a = await createTenant(gw.app);
    const b = await createTenant(gw.app);
    expect((await create(a, minimal())).body.invoiceNumber).toBe('INV-2026-00001');
    expect((await create(a, minimal())).body.invoiceNumber).toBe('INV-2026-00002');
    expect((await create(b, minimal())).body.invoiceNumber).toBe('INV-2026-00001');
  });

  test('failed creates do not consume a number', async () => {
    const t = await createTenant(gw.app);
    const other = await createTenant(gw.app);
    const foreignContact = await createContact(other);
    expect((await create(t, minimal())).body.invoiceNumber).toBe('INV-2026-00001');

    expectProblem(
      await create(t, minimal({ customerContactId: `contact_${ulid()}` })),
      422,
      'customer_contact_not_found',
    );
    expectProblem(await create(t, minimal({ customerContactId: foreignContact })), 422, 'customer_contact_not_found');
    expectProblem(await create(t, minimal({ customerContactId: 'contact_abc123' })), 400, 'invalid_id');
    expectProblem(await create(t, minimal({ items: [item(0, 1, 0)] })), 400, 'validation_failed');
    expectProblem(
      await create(t, minimal({ items: [item(1_000_000_000, 1_000_000_000_000, 0)] })),
      422,
      'amount_out_of_range',
    );

    expect((await create(t, minimal())).body.invoiceNumber).toBe('INV-2026-00002');
    expect(await countInvoices(t)).toBe(2);
    expect((await eventsOf(gw.app, t.tenantId)).map((e) => e.tenantSequence)).toEqual([1, 2]);
  });
});

describe('customerContactId', () => {
  test.each([['contact_abc123'], [`inv_${ulid()}`], ['not an id']])(
    'malformed %s is 400 invalid_id naming customerContactId',
    async (customerContactId) => {
      const t = await createTenant(gw.app);
      const res = await create(t, minimal({ customerContactId }));
      expectProblem(res, 400, 'invalid_id');
      expect(errorPaths(res)).toEqual(['customerContactId']);
      expect(await countInvoices(t)).toBe(0);
      expect(await eventCount(t)).toBe(0);
    },
  );

  test('an unknown contact is 422 customer_contact_not_found with a clear detail', async () => {
    const t = await createTenant(gw.app);
    const unknown = `contact_${ulid()}`;
    const res = await create(t, minimal({ customerContactId: unknown }));
    expectProblem(res, 422, 'customer_contact_not_found');
    expect(res.body.detail).toContain(unknown);
    expect(res.body.detail).toMatch(/no contact/i);
    expect(res.body.errors).toEqual([{ path: 'customerContactId', message: expect.any(String) }]);
    expect(await countInvoices(t)).toBe(0);
    expect(await eventCount(t)).toBe(0);
  });

  test("another tenant's contact is 422 customer_contact_not_found", async () => {
    const t = await createTenant(gw.app);
    const other = await createTenant(gw.app);
    const foreign = await createContact(other);
    const res = await create(t, minimal({ customerContactId: foreign }));
    expectProblem(res, 422, 'customer_contact_not_found');
    expect(res.body.detail).toContain(foreign);
    expect(await countInvoices(t)).toBe(0);
    expect(await eventCount(t)).toBe(0);
  });

  test('a deleted contact is 422 customer_contact_not_found', async () => {
    const t = await createTenant(gw.app);
    const contactId = await createContact(t);
    expect((await http(gw.url, 'DELETE', `/api/v1/contacts/contacts/${contactId}`, { key: t.apiKey })).status).toBe(
      204,
    );
    expectProblem(await create(t, minimal({ customerContactId: contactId })), 422, 'customer_contact_not_found');
  });

  test('deleting the contact while invoices for it are created: each create is 201 or 422, never 500; numbering stays gapless', async () => {
    const t = await createTenant(gw.app);
    let created = 0;
    for (let round = 0; round < 6; round++) {
      const contactId = await createContact(t);
      const creates = Array.from({ length: 5 }, () => create(t, minimal({ customerContactId: contactId })));
      const deletion = http(gw.url, 'DELETE', `/api/v1/contacts/contacts/${contactId}`, { key: t.apiKey });
      const results = await Promise.all(creates);
      expect((await deletion).status).toBe(204);
      for (const r of results) {
        if (r.status === 201) created++;
        else expectProblem(r, 422, 'customer_contact_not_found');
      }
    }
    const invoices = await gw.app.services.prisma.invoice.findMany({
      where: { tenantId: t.tenantId },
      orderBy: { number: 'asc' },
    });
    expect(invoices.map((i) => i.number)).toEqual(
      Array.from({ length: created }, (_, i) => `INV-2026-${String(i + 1).padStart(5, '0')}`),
    );
    // The contacts are gone, so no invoice still points at one.
    expect(invoices.every((i) => i.customerContactId === null)).toBe(true);
  });

  test('an existing contact is linked', async () => {
    const t = await createTenant(gw.app);
    const contactId = await createContact(t);
    const full = await createAndGet(t, minimal({ customerContactId: contactId }));
    expect(full.customerContactId).toBe(contactId);
  });
});

describe('lifecycle', () => {
  test('draft → issued → paid, with timestamps, one event each equal to GET', async () => {
    const t = await createTenant(gw.app);
    const draft = await createAndGet(t, minimal());
    await sleep(5);

    let before = Date.now();
    const issued = await act(t, draft.invoiceId, 'issue', { 'x-correlation-id': 'issue-1' });
    let after = Date.now();
    expect(issued.status, issued.text).toBe(200);
    expect(issued.headers.get('x-correlation-id')).toBe('issue-1');
    expect(issued.body).toEqual({
      ...draft,
      status: 'issued',
      issuedAt: issued.body.issuedAt,
      updatedAt: issued.body.updatedAt,
    });
    expectTimestampWithin(issued.body.issuedAt, before, after);
    expectTimestampWithin(issued.body.updatedAt, before, after);
    expect(issued.body.paidAt).toBeNull();
    expect(issued.body.voidedAt).toBeNull();
    expect((await get(t, draft.invoiceId)).body).toStrictEqual(issued.body);
    await expectOneNewEvent(gw.app, t, 1, issued, 'accounting.invoice.issued', draft.invoiceId, issued.body);
    await sleep(5);

    before = Date.now();
    const paid = await act(t, draft.invoiceId, 'pay');
    after = Date.now();
    expect(paid.status, paid.text).toBe(200);
    expect(paid.body).toEqual({
      ...issued.body,
      status: 'paid',
      paidAt: paid.body.paidAt,
      updatedAt: paid.body.updatedAt,
    });
    expectTimestampWithin(paid.body.paidAt, before, after);
    expectTimestampWithin(paid.body.updatedAt, before, after);
    expect(paid.body.issuedAt).toBe(issued.body.issuedAt);
    expect((await get(t, draft.invoiceId)).body).toStrictEqual(paid.body);
    await expectOneNewEvent(gw.app, t, 2, paid, 'accounting.invoice.paid', draft.invoiceId, paid.body);
  });

  test('a draft and an issued invoice can be voided', async () => {
    const t = await createTenant(gw.app);
    const draft = await createAndGet(t, minimal());
    const before = Date.now();
    const voided = await act(t, draft.invoiceId, 'void');
    const after = Date.now();
    expect(voided.status, voided.text).toBe(200);
    expect(voided.body).toEqual({
      ...draft,
      status: 'void',
      voidedAt: voided.body.voidedAt,
      updatedAt: voided.body.updatedAt,
    });
    expectTimestampWithin(voided.body.voidedAt, before, after);
    await expectOneNewEvent(
      gw.app,
      t,
      1,
      voided,
      'accounting.invoice.voided',
      draft.invoiceId,
      (await get(t, draft.invoiceId)).body,
    );

    const other = await createAndGet(t, minimal());
    const issued = await act(t, other.invoiceId, 'issue');
    const voided2 = await act(t, other.invoiceId, 'void');
    expect(voided2.status).toBe(200);
    expect(voided2.body.status).toBe('void');
    expect(voided2.body.issuedAt).toBe(issued.body.issuedAt);
    expect(voided2.body.voidedAt).toMatch(ISO_TIMESTAMP);
    expect(voided2.body.paidAt).toBeNull();
    await expectOneNewEvent(
      gw.app,
      t,
      4,
      voided2,
      'accounting.invoice.voided',
      other.invoiceId,
      (await get(t, other.invoiceId)).body,
    );
  });

  test.each([
    ['draft', 'pay', []],
    ['issued', 'issue', ['issue']],
    ['paid', 'issue', ['issue', 'pay']],
    ['paid', 'pay', ['issue', 'pay']],
    ['paid', 'void', ['issue', 'pay']],
    ['void', 'issue', ['void']],
    ['void', 'pay', ['void']],
    ['void', 'void', ['void']],
    ['void (from issued)', 'pay', ['issue', 'void']],
  ])('%s → %s is 422 invalid_transition, writes no event and changes nothing', async (status, action, path) => {
    const t = await createTenant(gw.app);
    const draft = await createAndGet(t, minimal());
    for (const step of path) expect((await act(t, draft.invoiceId, step)).status).toBe(200);
    const state = (await get(t, draft.invoiceId)).body;
    expect(state.status).toBe(status.split(' ')[0]);
    const eventsBefore = await eventCount(t);

    const res = await act(t, draft.invoiceId, action);
    expectProblem(res, 422, 'invalid_transition');
    expect(res.body.detail).toContain(state.invoiceNumber);
    expect((await get(t, draft.invoiceId)).body).toStrictEqual(state);
    expect(await eventCount(t)).toBe(eventsBefore);
  });

  test('concurrent pay of one issued invoice: exactly one 200, the rest 422; one paid event', async () => {
    const t = await createTenant(gw.app);
    const draft = await createAndGet(t, minimal());
    expect((await act(t, draft.invoiceId, 'issue')).status).toBe(200);

    const results = await Promise.all(Array.from({ length: 10 }, () => act(t, draft.invoiceId, 'pay')));
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, ...Array(9).fill(422)]);
    for (const r of results.filter((r) => r.status === 422)) expectProblem(r, 422, 'invalid_transition');
    const winner = results.find((r) => r.status === 200)!;
    expect(winner.body.status).toBe('paid');

    const events = await eventsOf(gw.app, t.tenantId);
    expect(events.map((e) => [e.tenantSequence, e.type])).toEqual([
      [1, 'accounting.invoice.created'],
      [2, 'accounting.invoice.issued'],
      [3, 'accounting.invoice.paid'],
    ]);
    expect(events[2]!.data).toEqual(winner.body);
    expect(events[2]!.correlationId).toBe(winner.headers.get('x-correlation-id'));
    expect((await get(t, draft.invoiceId)).body).toStrictEqual(winner.body);
  });

  test('concurrent pay and void of one issued invoice: exactly one wins', async () => {
    const t = await createTenant(gw.app);
    const draft = await createAndGet(t, minimal());
    expect((await act(t, draft.invoiceId, 'issue')).status).toBe(200);
    const results = await Promise.all([
      act(t, draft.invoiceId, 'pay'),
      act(t, draft.invoiceId, 'void'),
      act(t, draft.invoiceId, 'pay'),
      act(t, draft.invoiceId, 'void'),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 422, 422, 422]);
    const winner = results.find((r) => r.status === 200)!;
    expect(['paid', 'void']).toContain(winner.body.status);
    expect(await eventCount(t)).toBe(3);
    expect((await get(t, draft.invoiceId)).body).toStrictEqual(winner.body);
  });
});

describe('ids and tenant isolation', () => {
  test.each([
    ['too short', 'inv_123'],
    ['another type', `contact_${ulid()}`],
    ['invalid ULID characters', `inv_${'U'.repeat(26)}`],
  ])('a malformed id (%s) is 400 invalid_id for GET and every action', async (_name, id) => {
    const t = await createTenant(gw.app);
    expectProblem(await get(t, id), 400, 'invalid_id');
    for (const action of ['issue', 'pay', 'void']) expectProblem(await act(t, id, action), 400, 'invalid_id');
    expect(await eventCount(t)).toBe(0);
  });

  test('a well-formed unknown id is 404 not_found for GET and every action', async () => {
    const t = await createTenant(gw.app);
    const id = `inv_${ulid()}`;
    expectProblem(await get(t, id), 404, 'not_found');
    for (const action of ['issue', 'pay', 'void']) expectProblem(await act(t, id, action), 404, 'not_found');
    expect(await eventCount(t)).toBe(0);
  });

  test("another tenant's invoice: GET and every action are 404 and change nothing", async () => {
    const owner = await createTenant(gw.app);
    const other = await createTenant(gw.app);
    const draft = await createAndGet(owner, minimal());
    const issuedRes = await act(owner, draft.invoiceId, 'issue');
    expect(issuedRes.status).toBe(200);
    const issued = issuedRes.body;

    expectProblem(await get(other, draft.invoiceId), 404, 'not_found');
    for (const action of ['issue', 'pay', 'void'])
      expectProblem(await act(other, draft.invoiceId, action), 404, 'not_found');

    expect((await get(owner, draft.invoiceId)).body).toStrictEqual(issued);
    expect(await eventCount(owner)).toBe(2);
    expect(await eventCount(other)).toBe(0);
    expect((await list(other)).body).toEqual({ items: [], nextCursor: null, count: 0 });
  });
});

describe('GET /invoices (list)', () => {
  test('pages with ?limit=2 following nextCursor until null: every invoice once, in creation order, as GET shows it', async () => {
    const t = await createTenant(gw.app);
    const created: any[] = [];
    for (let i = 0; i < 5; i++) created.push(await createAndGet(t, minimal({ customer: `C${i}` })));
    expect(created.map((c) => c.invoiceNumber)).toEqual(
      ['00001', '00002', '00003', '00004', '00005'].map((n) => `INV-2026-${n}`),
    );

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
    }
    expect(pages.map((p) => p.count)).toEqual([2, 2, 1]);
    expect(pages.flatMap((p) => p.items)).toEqual(created);

    expect((await list(t)).body).toEqual({ items: created, nextCursor: null, count: 5 });
    expect((await list(t, '?limit=5')).body.nextCursor).toBeNull();
    const four = await list(t, '?limit=4');
    expect(four.body.count).toBe(4);
    const rest = await list(t, `?limit=4&cursor=${four.body.nextCursor}`);
    expect(rest.body).toEqual({ items: [created[4]], nextCursor: null, count: 1 });
  });

  test.each(['0', '501', 'abc', '-3', '1.5'])('limit=%s is 400', async (limit) => {
    const t = await createTenant(gw.app);
    const res = await list(t, `?limit=${limit}`);
    expectProblem(res, 400, 'validation_failed');
    expect(errorPaths(res)).toContain('limit');
  });

  test.each(['garbage!', Buffer.from('nonsense').toString('base64url'), `inv_${ulid()}`])(
    'cursor %s is 400',
    async (cursor) => {
      const t = await createTenant(gw.app);
      const res = await list(t, `?cursor=${encodeURIComponent(cursor)}`);
      expectProblem(res, 400, 'validation_failed');
      expect(errorPaths(res)).toContain('cursor');
    },
  );
});

describe('events', () => {
  test('a mixed run of invoice mutations leaves one gapless event each, equal to GET at the time; failures none', async () => {
    const t = await createTenant(gw.app);
    const expected: { type: string; resourceId: string; data: unknown; correlationId: string | null }[] = [];

    const a = await create(t, minimal({ customer: 'A' }));
    expected.push({
      type: 'accounting.invoice.created',
      resourceId: a.body.invoiceId,
      data: (await get(t, a.body.invoiceId)).body,
      correlationId: a.headers.get('x-correlation-id'),
    });
    const b = await create(t, minimal({ customer: 'B' }));
    expected.push({
      type: 'accounting.invoice.created',
      resourceId: b.body.invoiceId,
      data: (await get(t, b.body.invoiceId)).body,
      correlationId: b.headers.get('x-correlation-id'),
    });

    expect((await act(t, a.body.invoiceId, 'pay')).status).toBe(422);
    expect((await create(t, minimal({ items: [] }))).status).toBe(400);

    for (const [id, action, type] of [
      [a.body.invoiceId, 'issue', 'accounting.invoice.issued'],
      [b.body.invoiceId, 'void', 'accounting.invoice.voided'],
      [a.body.invoiceId, 'pay', 'accounting.invoice.paid'],
    ] as const) {
      const res = await act(t, id, action);
      expect(res.status).toBe(200);
      expected.push({
        type,
        resourceId: id,
        data: (await get(t, id)).body,
        correlationId: res.headers.get('x-correlation-id'),
      });
    }
    expect((await act(t, b.body.invoiceId, 'issue')).status).toBe(422);

    const events = await eventsOf(gw.app, t.tenantId);
    expect(events.map((e) => e.tenantSequence)).toEqual([1, 2, 3, 4, 5]);
    expect(
      events.map((e) => ({ type: e.type, resourceId: e.resourceId, data: e.data, correlationId: e.correlationId })),
    ).toEqual(expected);
    expect(events.every((e) => e.resourceType === 'invoice')).toBe(true);
  });
});
