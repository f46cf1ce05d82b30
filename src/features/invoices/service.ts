import { z } from 'zod';
import type { Invoice, Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { requireFeature, type AuthContext } from '../../auth/context.js';
import { UnprocessableError } from '../../core/errors.js';
import { recordEvent } from '../events/service.js';
import type { EventType } from '../events/types.js';
import { newId, parseId } from '../../core/ids.js';
import { ownedOrNotFound, type OwnedResource } from '../../core/owned.js';
import { decimalPlaces, formatMoney, lineAmounts, minorUnits, sum, toDecimal } from './money.js';
import { CurrencyCode, defaultCurrency } from './seller-profile.js';
import { isForeignKeyViolation } from '../../db/prisma-errors.js';
import { searchArgs, searchBodySchema, searchPage, type SearchField } from '../../core/search.js';
import { optionalText, parseInput } from '../../core/validation.js';
import { INVOICE_STATUSES, invoiceResource, type InvoiceWithDetails, withDetails } from './resource.js';
import { nextInvoiceCounter } from './sql.js';

// invoices/graphql.ts reads the statuses here.

/** Totals stay below 10^13 (9999999999999.99 in EUR): 13 integer digits, within the amount columns' 16. */
const AMOUNT_LIMIT = toDecimal('10000000000000');

const DECIMAL_STRING = /^-?\d+(\.\d+)?$/;

// The format check aborts: the checks after it call toDecimal, which throws on a non-decimal string.
const decimalNumber = (label: string, places: number) =>
  z
    .union([z.number(), z.string()])
    .refine((v) => typeof v === 'number' || DECIMAL_STRING.test(v), {
      message: `${label} must be a decimal number`,
      abort: true,
    })
    .refine((v) => Number.isFinite(Number(v)), `${label} must be a finite number`)
    .refine((v) => decimalPlaces(v) <= places, `${label} may have at most ${places} decimal places`)
    // For the OpenAPI document: `pattern` constrains the string form only.
    .meta({
      pattern: `^-?\\d+(\\.\\d{1,${places}})?$`,
      description: `A decimal: a JSON number, or a string for exact digits (at most ${places} decimal places)`,
    });

const LineInput = z.strictObject({
  description: z.string().trim().min(1, 'is required').max(1000),
  quantity: decimalNumber('quantity', 4)
    .refine((v) => toDecimal(v).gt(0), 'must be greater than 0')
    .refine((v) => toDecimal(v).lte(1e9), 'must be at most 1000000000')
    .meta({ exclusiveMinimum: 0, maximum: 1e9 }),
  price: decimalNumber('price', 4)
    .refine((v) => toDecimal(v).gte(0), 'must not be negative')
    .refine((v) => toDecimal(v).lte(1e12), 'must be at most 1000000000000')
    .meta({ minimum: 0, maximum: 1e12 }),
  taxRate: decimalNumber('taxRate', 4)
    .refine((v) => toDecimal(v).gte(0) && toDecimal(v).lte(100), 'must be between 0 and 100')
    .meta({ minimum: 0, maximum: 100 }),
});

export const CreateInvoiceInput = z
  .strictObject({
    customer: z.string().trim().min(1, 'is required').max(300),
    customerContactId: z.string().nullable().optional(),
    customerCompany: optionalText(300),
    customerAddress: optionalText(1000),
    customerVatId: optionalText(50),
    reference: optionalText(200),
    paymentInstructions: optionalText(2000),
    note: optionalText(10_000),
    // Invoice numbers carry a 4-digit year, and the database has no year 0.
    issuedDate: z.iso
      .date('must be an ISO-8601 date (YYYY-MM-DD)')
      .refine((d) => d >= '1000-01-01', 'must be in the year 1000 or later'),
    paymentTermsDays: z.number().int('must be an integer').min(0).max(3650),
    currency: CurrencyCode.optional().describe(
      "ISO 4217 code; its minor units are the scale of every amount. Default: the seller profile's defaultCurrency, else EUR",
    ),
    items: z.array(LineInput).min(1, 'At least one item is required.').max(1000),
  })
  .refine(
    (i) => {
      const due = Date.parse(`${i.issuedDate}T00:00:00Z`) + i.paymentTermsDays * 86_400_000;
      return Number.isNaN(due) || due < Date.UTC(10000, 0, 1); // NaN: the fields themselves are reported
    },
    {
      path: ['paymentTermsDays'],
      message: 'the due date must not be later than 9999-12-31',
    },
  );
export type CreateInvoiceInput = z.input<typeof CreateInvoiceInput>;

export const INVOICES_FEATURE = 'accounting';

/** The lifecycle: which status each action accepts, where it leads, and what it announces. */
const TRANSITIONS = {
  issue: { from: ['draft'], to: 'issued', stamp: 'issuedAt', event: 'accounting.invoice.issued' },
  pay: { from: ['issued'], to: 'paid', stamp: 'paidAt', event: 'accounting.invoice.paid' },
  void: { from: ['draft', 'issued'], to: 'void', stamp: 'voidedAt', event: 'accounting.invoice.voided' },
} as const satisfies Record<string, { from: string[]; to: string; stamp: keyof Invoice; event: EventType }>;
export type InvoiceAction = keyof typeof TRANSITIONS;

/** The fields POST /invoices/search filters and sorts by (REST names → columns). */
export const INVOICE_SEARCH_FIELDS: Record<string, SearchField> = {
  invoiceNumber: { column: 'number', kind: 'text' },
  status: { column: 'status', kind: 'enum', values: INVOICE_STATUSES },
  customer: { column: 'customer', kind: 'text' },
  customerContactId: { column: 'customerContactId', kind: 'id', prefix: 'contact', nullable: true },
  reference: { column: 'reference', kind: 'text', nullable: true },
  issuedDate: { column: 'issuedDate', kind: 'date' },
  dueDate: { column: 'dueDate', kind: 'date' },
  currency: { column: 'currency', kind: 'text' },
  grossTotal: { column: 'grossTotal', kind: 'number' },
  createdAt: { column: 'createdAt', kind: 'datetime' },
  updatedAt: { column: 'updatedAt', kind: 'datetime' },
};

export const InvoiceSearchInput = searchBodySchema(INVOICE_SEARCH_FIELDS);

type FindManyArgs = Omit<Prisma.InvoiceFindManyArgs, 'where'> & { where?: Prisma.InvoiceWhereInput };

const INVOICE: OwnedResource = { name: 'Invoice', prefix: 'inv' };

export function invoiceService(prisma: PrismaClient) {
  return {
    get<A extends Omit<Prisma.InvoiceFindFirstArgs, 'where'>>(auth: AuthContext, id: string, args?: A) {
      requireFeature(auth, INVOICES_FEATURE);
      return ownedOrNotFound(INVOICE, auth, id, (where) => prisma.invoice.findFirst({ ...args, where }));
    },

    /** The invoice with its lines and creating application, as invoiceResource needs it. */
    getDetailed(auth: AuthContext, id: string): Promise<InvoiceWithDetails> {
      return this.get(auth, id, { include: withDetails }) as Promise<InvoiceWithDetails>;
    },

    findMany(auth: AuthContext, args: FindManyArgs = {}) {
      requireFeature(auth, INVOICES_FEATURE);
      return prisma.invoice.findMany({ ...args, where: { ...args.where, tenantId: auth.tenantId } });
    },

    findManyDetailed(auth: AuthContext, args: Omit<FindManyArgs, 'include' | 'select'>): Promise<InvoiceWithDetails[]> {
      return this.findMany(auth, { ...args, include: withDetails }) as Promise<InvoiceWithDetails[]>;
    },

    /** POST /invoices/search: filters, sort and an opaque cursor; `{ items, nextCursor, count }`. */
    async search(auth: AuthContext, input: unknown) {
      requireFeature(auth, INVOICES_FEATURE);
      const body = parseInput(InvoiceSearchInput, input);
      const args = searchArgs('invoice', INVOICE_SEARCH_FIELDS, body);
      const rows = await this.findManyDetailed(auth, {
        ...args,
        where: args.where as Prisma.InvoiceWhereInput,
        orderBy: args.orderBy as Prisma.InvoiceOrderByWithRelationInput[],
      });
      return searchPage('invoice', body, rows, invoiceResource);
    },

    async create(auth: AuthContext, input: unknown): Promise<InvoiceWithDetails> {
      requireFeature(auth, INVOICES_FEATURE);
      const data = parseInput(CreateInvoiceInput, input);
      // Read before the transaction: the profile can change at any time, and an invoice takes the default it saw.
      const currency = data.currency ?? (await defaultCurrency(prisma, auth.tenantId));
      const places = minorUnits(currency);
      const lines = data.items.map((item, position) => {
        const quantity = toDecimal(item.quantity);
        const price = toDecimal(item.price);
        const taxRate = toDecimal(item.taxRate);
        return {
          id: newId('invl'),
          position,
          description: item.description,
          quantity,
          price,
          taxRate,
          ...lineAmounts(quantity, price, taxRate, places),
        };
      });
      const totals = {
        netTotal: sum(lines.map((l) => l.net)),
        taxTotal: sum(lines.map((l) => l.tax)),
        grossTotal: sum(lines.map((l) => l.gross)),
      };
      if (totals.grossTotal.gte(AMOUNT_LIMIT)) {
        const largest = AMOUNT_LIMIT.minus(toDecimal(1).dividedBy(10 ** places));
        throw new UnprocessableError(
          'amount_out_of_range',
          `The invoice total may be at most ${formatMoney(largest, currency)} ${currency}.`,
          [{ path: 'items', message: 'the invoice total is too large' }],
        );
      }
      const issuedDate = new Date(`${data.issuedDate}T00:00:00Z`);
      const dueDate = new Date(issuedDate.getTime() + data.paymentTermsDays * 86_400_000);
      const year = issuedDate.getUTCFullYear();

      return prisma
        .$transaction(async (tx) => {
          if (data.customerContactId != null) await requireCustomerContact(tx, auth, data.customerContactId);
          const number = await nextInvoiceNumber(tx, auth.tenantId, year);
          const { items: _items, ...fields } = data;
          const invoice = await tx.invoice.create({
            data: {
              ...fields,
              ...totals,
              currency,
              id: newId('inv'),
              tenantId: auth.tenantId,
              applicationId: auth.applicationId,
              number,
              year,
              issuedDate,
              dueDate,
              lines: { create: lines },
            },
            include: withDetails,
          });
          await recordEvent(tx, auth, invoiceEvent('accounting.invoice.created', invoice));
          return invoice;
        })
        .catch(async (error: unknown) => {
          // The contact was deleted between the check above and the insert: the same 422 as if before.
          if (isForeignKeyViolation(error) && data.customerContactId != null)
            await requireCustomerContact(prisma, auth, data.customerContactId);
          throw error;
        });
    },

    /** Moves an invoice along its lifecycle; a move the current status does not allow is 422. */
    async transition(auth: AuthContext, id: string, action: InvoiceAction): Promise<InvoiceWithDetails> {
      requireFeature(auth, INVOICES_FEATURE);
      parseId('inv', id);
      const rule = TRANSITIONS[action];
      return prisma.$transaction(async (tx) => {
        // A conditional update, so two concurrent moves cannot both succeed.
        const { count } = await tx.invoice.updateMany({
          where: { id, tenantId: auth.tenantId, status: { in: [...rule.from] } },
          data: { status: rule.to, [rule.stamp]: new Date() },
        });
        const invoice = await ownedOrNotFound(INVOICE, auth, id, (where) =>
          tx.invoice.findFirst({ where, include: withDetails }),
        );
        if (count === 0) {
          throw new UnprocessableError(
            'invalid_transition',
            `Invoice ${invoice.number} is ${invoice.status}; "${action}" needs it to be ${rule.from.join(' or ')}.`,
          );
        }
        await recordEvent(tx, auth, invoiceEvent(rule.event, invoice));
        return invoice;
      });
    },
  };
}

async function requireCustomerContact(tx: Prisma.TransactionClient, auth: AuthContext, contactId: string) {
  parseId('contact', contactId, 'customerContactId');
  const exists = await tx.contact.count({ where: { id: contactId, tenantId: auth.tenantId } });
  if (!exists) {
    throw new UnprocessableError(
      'customer_contact_not_found',
      `customerContactId ${contactId} names no contact of this tenant.`,
      [{ path: 'customerContactId', message: 'names no contact of this tenant' }],
    );
  }
}

/**
 * Hands out the next number of the tenant and year. The counter row stays locked until the
 * transaction ends, so concurrent creates queue here and a rollback leaves no gap.
 */
async function nextInvoiceNumber(tx: Prisma.TransactionClient, tenantId: string, year: number): Promise<string> {
  const [row] = await tx.$queryRaw<{ last: number }[]>(nextInvoiceCounter(tenantId, year));
  return `INV-${year}-${String(row!.last).padStart(5, '0')}`;
}

function invoiceEvent(type: EventType, invoice: InvoiceWithDetails) {
  return { type, resourceType: 'invoice' as const, resourceId: invoice.id, data: invoiceResource(invoice) };
}
