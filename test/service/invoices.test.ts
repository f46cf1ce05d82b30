import { describe, expect, test } from 'vitest';
import { newCaller, useServices } from '../support/domain.js';
import { eventsOf } from '../support/gateway.js';

// Invoices through the invoice service: decimal totals, gapless numbering per tenant and year,
// and the lifecycle's allowed moves, each recorded as one event.

const ctx = useServices();

const item = (quantity: number, price: number, taxRate: number) => ({ description: 'Item', quantity, price, taxRate });
const invoice = (issuedDate: string, items = [item(1, 10, 0)]) => ({
  customer: 'Customer',
  issuedDate,
  paymentTermsDays: 14,
  items,
});

describe('invoice service', () => {
  test('totals are exact decimal sums of the lines, and the due date follows the payment terms', async () => {
    const auth = await newCaller(ctx.services);
    const created = await ctx.services.invoices.create(
      auth,
      invoice('2026-05-30', [item(2, 149.99, 8.5), item(1, 25, 0), item(3, 0.1, 19)]),
    );
    expect(created.lines.map((l) => [l.net.toFixed(2), l.tax.toFixed(2), l.gross.toFixed(2)])).toEqual([
      ['299.98', '25.50', '325.48'],
      ['25.00', '0.00', '25.00'],
      ['0.30', '0.06', '0.36'],
    ]);
    expect([created.netTotal, created.taxTotal, created.grossTotal].map((d) => d.toFixed(2))).toEqual([
      '325.28',
      '25.56',
      '350.84',
    ]);
    expect(created.dueDate.toISOString()).toBe('2026-06-13T00:00:00.000Z');
  });

  test('numbers are gapless per tenant and year, also when created at once', async () => {
    const [a, b] = await Promise.all([newCaller(ctx.services), newCaller(ctx.services)]);
    const { invoices } = ctx.services;
    const numbers = await Promise.all(
      Array.from({ length: 5 }, () => invoices.create(a, invoice('2026-01-10')).then((i) => i.number)),
    );
    expect(numbers.sort()).toEqual([1, 2, 3, 4, 5].map((n) => `INV-2026-0000${n}`));
    expect((await invoices.create(a, invoice('2027-01-10'))).number).toBe('INV-2027-00001');
    expect((await invoices.create(b, invoice('2026-01-10'))).number).toBe('INV-2026-00001');
  });

  test('issue, pay: allowed moves record their events; a move from the wrong status is refused', async () => {
    const auth = await newCaller(ctx.services);
    const { invoices } = ctx.services;
    const draft = await invoices.create(auth, invoice('2026-03-15'));
    await expect(invoices.transition(auth, draft.id, 'pay')).rejects.toMatchObject({ code: 'invalid_transition' });
    expect((await invoices.transition(auth, draft.id, 'issue')).status).toBe('issued');
    expect((await invoices.transition(auth, draft.id, 'pay')).status).toBe('paid');
    await expect(invoices.transition(auth, draft.id, 'void')).rejects.toMatchObject({ code: 'invalid_transition' });
    expect((await eventsOf(ctx, auth.tenantId)).map((e) => [e.tenantSequence, e.type])).toEqual([
      [1, 'accounting.invoice.created'],
      [2, 'accounting.invoice.issued'],
      [3, 'accounting.invoice.paid'],
    ]);
  });

  test('a customer contact of another tenant is refused, and no number is used up', async () => {
    const [a, b] = await Promise.all([newCaller(ctx.services), newCaller(ctx.services)]);
    const contact = await ctx.services.contacts.create(b, { email: 'customer@example.com' });
    await expect(
      ctx.services.invoices.create(a, { ...invoice('2026-03-15'), customerContactId: contact.id }),
    ).rejects.toMatchObject({ code: 'customer_contact_not_found' });
    expect((await ctx.services.invoices.create(a, invoice('2026-03-15'))).number).toBe('INV-2026-00001');
  });
});
