import { z } from 'zod';
import type { InvoiceLine, Prisma } from '../../generated/prisma/client.js';

// The invoice as REST answers it, webhooks carry it and events store it in `data`: the schema (the
// event-type catalog's JSON Schema, REST's `Invoice` component) and the mapping from the row.

export const INVOICE_STATUSES = ['draft', 'issued', 'paid', 'void'] as const;

const text = z.string().nullable();
const timestamp = z.iso.datetime();
const amount = z
  .number()
  .describe(
    'A decimal amount with at most 2 decimal places (line amounts rounded half-up to cents; totals are their sums)',
  );
const lineInput = z.number().describe('At most 4 decimal places');

export const InvoiceLineResource = z.strictObject({
  description: z.string(),
  quantity: lineInput,
  price: lineInput,
  taxRate: lineInput.describe('Percent, at most 4 decimal places, e.g. 8.5'),
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
    items: invoice.lines.map(lineResource),
    netTotal: invoice.netTotal.toNumber(),
    taxTotal: invoice.taxTotal.toNumber(),
    grossTotal: invoice.grossTotal.toNumber(),
    applicationId: invoice.applicationId,
    applicationName: invoice.application.name,
    createdAt: invoice.createdAt.toISOString(),
    updatedAt: invoice.updatedAt.toISOString(),
    issuedAt: invoice.issuedAt?.toISOString() ?? null,
    paidAt: invoice.paidAt?.toISOString() ?? null,
    voidedAt: invoice.voidedAt?.toISOString() ?? null,
  };
}

function lineResource(line: InvoiceLine): z.output<typeof InvoiceLineResource> {
  return {
    description: line.description,
    quantity: line.quantity.toNumber(),
    price: line.price.toNumber(),
    taxRate: line.taxRate.toNumber(),
    net: line.net.toNumber(),
    tax: line.tax.toNumber(),
    gross: line.gross.toNumber(),
  };
}

export function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}
