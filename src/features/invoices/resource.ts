import { z } from 'zod';
import type { InvoiceLine, Prisma } from '../../generated/prisma/client.js';
import { formatMoney, minorUnits } from './money.js';

// The invoice as REST answers it, webhooks carry it and events store it in `data`: the schema (the
// event-type catalog's JSON Schema, REST's `Invoice` component) and the mapping from the row.

export const INVOICE_STATUSES = ['draft', 'issued', 'paid', 'void'] as const;

const text = z.string().nullable();
const timestamp = z.iso.datetime();
// Every decimal is a string, so no client turns money into a float (src/features/invoices/money.ts).
const amount = z
  .string()
  .regex(/^-?\d+(\.\d{1,4})?$/)
  .describe(
    'A decimal string with exactly the currency\'s minor units (ISO 4217): "25.50" EUR, "1200" JPY, "0.125" KWD. Line amounts are rounded half-up to them; totals are their sums',
  );
const decimal = z
  .string()
  .regex(/^\d+(\.\d{1,4})?$/)
  .describe('A decimal string as stored, at most 4 decimal places, e.g. "2" or "8.5"');

export const InvoiceLineResource = z.strictObject({
  description: z.string(),
  quantity: decimal,
  price: decimal.describe(
    'Unit price: a decimal string with at least the currency\'s minor units, more when given ("149.99", "0.125" EUR)',
  ),
  taxRate: decimal.describe('Percent, a decimal string with at most 4 decimal places, e.g. "8.5"'),
  net: amount,
  tax: amount,
  gross: amount,
});

export const InvoiceResource = z.strictObject({
  invoiceId: z.string().describe('inv_ followed by a ULID'),
  invoiceNumber: z.string().describe('INV-<year>-<5 digits>, gapless per tenant and year'),
  status: z.enum(INVOICE_STATUSES),
  customer: z.string(),
  customerContactId: text,
  customerCompany: text,
  customerAddress: text,
  customerVatId: text,
  reference: text,
  paymentInstructions: text,
  note: text,
  issuedDate: z.iso.date(),
  paymentTermsDays: z.int(),
  dueDate: z.iso.date(),
  currency: z.string().describe('ISO 4217 code of every amount of the invoice, e.g. EUR'),
  items: z.array(InvoiceLineResource),
  netTotal: amount,
  taxTotal: amount,
  grossTotal: amount,
  applicationId: z.string().describe('The application that created the invoice'),
  applicationName: z.string(),
  createdAt: timestamp,
  updatedAt: timestamp,
  issuedAt: timestamp.nullable(),
  paidAt: timestamp.nullable(),
  voidedAt: timestamp.nullable(),
});

// The whole application row: GraphQL resolves any selection of it from what the domain returns.
export const withDetails = { lines: { orderBy: { position: 'asc' } }, application: true } as const;
/** An invoice with what its resource shows: its lines in order and the application that created it. */
export type InvoiceWithDetails = Prisma.InvoiceGetPayload<{ include: typeof withDetails }>;

export type InvoiceResource = z.output<typeof InvoiceResource>;

/** The invoice as REST returns it, webhooks carry it and events store it; typed by the schema, field for field. */
export function invoiceResource(invoice: InvoiceWithDetails): InvoiceResource {
  return {
    invoiceId: invoice.id,
    invoiceNumber: invoice.number,
    status: invoice.status as InvoiceResource['status'],
    customer: invoice.customer,
    customerContactId: invoice.customerContactId,
    customerCompany: invoice.customerCompany,
    customerAddress: invoice.customerAddress,
    customerVatId: invoice.customerVatId,
    reference: invoice.reference,
    paymentInstructions: invoice.paymentInstructions,
    note: invoice.note,
    issuedDate: isoDate(invoice.issuedDate),
    paymentTermsDays: invoice.paymentTermsDays,
    dueDate: isoDate(invoice.dueDate),
    currency: invoice.currency,
    items: invoice.lines.map((line) => lineResource(line, invoice.currency)),
    netTotal: formatMoney(invoice.netTotal, invoice.currency),
    taxTotal: formatMoney(invoice.taxTotal, invoice.currency),
    grossTotal: formatMoney(invoice.grossTotal, invoice.currency),
    applicationId: invoice.applicationId,
    applicationName: invoice.application.name,
    createdAt: invoice.createdAt.toISOString(),
    updatedAt: invoice.updatedAt.toISOString(),
    issuedAt: invoice.issuedAt?.toISOString() ?? null,
    paidAt: invoice.paidAt?.toISOString() ?? null,
    voidedAt: invoice.voidedAt?.toISOString() ?? null,
  };
}

function lineResource(line: InvoiceLine, currency: string): z.output<typeof InvoiceLineResource> {
  return {
    description: line.description,
    quantity: line.quantity.toFixed(),
    price: unitPrice(line.price, currency),
    taxRate: line.taxRate.toFixed(),
    net: formatMoney(line.net, currency),
    tax: formatMoney(line.tax, currency),
    gross: formatMoney(line.gross, currency),
  };
}

/** A unit price shows the currency's minor units, and the further places it was given with ("0.125" EUR). */
export function unitPrice(price: Prisma.Decimal, currency: string): string {
  return price.toFixed(Math.max(minorUnits(currency), price.decimalPlaces()));
}

export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}
