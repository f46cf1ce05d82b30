import type { InvoiceLine } from '../../generated/prisma/client.js';
import { builder } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';
import { eventOrEnd, EventRef, eventResource, filterArgs, resourceEvents } from '../events/graphql.js';
import { INVOICE_STATUSES, unitPrice } from './resource.js';
import { formatMoney } from './money.js';
import type { SellerProfileResource } from './seller-profile.js';
import type { InvoiceAction } from './service.js';
import { invoicePdfPath } from './pdf.js';
import { JobRef } from '../jobs/graphql.js';

const InvoiceStatus = builder.enumType('InvoiceStatus', { values: INVOICE_STATUSES });

const MONEY = 'In the invoice\'s currency, with exactly its minor units ("25.50" EUR, "1200" JPY).';

/** A line with its invoice's currency, which formats its amounts (the invoice's items field adds it). */
type LineWithCurrency = InvoiceLine & { currency: string };

const InvoiceLineObject = builder.objectRef<LineWithCurrency>('InvoiceLine').implement({
  fields: (t) => ({
    description: t.exposeString('description'),
    quantity: t.expose('quantity', { type: 'Decimal' }),
    price: t.field({
      type: 'Decimal',
      description: "Unit price: at least the currency's minor units, more when given.",
      resolve: (line) => unitPrice(line.price, line.currency),
    }),
    taxRate: t.expose('taxRate', { type: 'Decimal', description: 'Percentage, e.g. 8.5 for 8.5%.' }),
    net: t.field({ type: 'Decimal', description: MONEY, resolve: (line) => formatMoney(line.net, line.currency) }),
    tax: t.field({ type: 'Decimal', description: MONEY, resolve: (line) => formatMoney(line.tax, line.currency) }),
    gross: t.field({ type: 'Decimal', description: MONEY, resolve: (line) => formatMoney(line.gross, line.currency) }),
  }),
});

export const InvoiceObject = builder.prismaObject('Invoice', {
  select: { id: true },
  fields: (t) => ({
    id: t.exposeID('id'),
    number: t.exposeString('number', { description: 'INV-<year>-<5 digits>, gapless per tenant and year.' }),
    status: t.field({
      type: InvoiceStatus,
      select: { status: true },
      resolve: (invoice) => invoice.status as (typeof INVOICE_STATUSES)[number],
    }),
    customer: t.exposeString('customer'),
    customerContactId: t.exposeID('customerContactId', { nullable: true }),
    customerCompany: t.exposeString('customerCompany', { nullable: true }),
    customerAddress: t.exposeString('customerAddress', { nullable: true }),
    customerVatId: t.exposeString('customerVatId', { nullable: true }),
    reference: t.exposeString('reference', { nullable: true }),
    paymentInstructions: t.exposeString('paymentInstructions', { nullable: true }),
    note: t.exposeString('note', { nullable: true }),
    issuedDate: t.expose('issuedDate', { type: 'Date' }),
    paymentTermsDays: t.exposeInt('paymentTermsDays'),
    dueDate: t.expose('dueDate', { type: 'Date' }),
    currency: t.exposeString('currency', { description: 'ISO 4217 code of every amount of the invoice, e.g. EUR.' }),
    items: t.field({
      type: [InvoiceLineObject],
      // Loaded with the invoice (one query for a whole list), each line given the invoice's currency.
      select: { currency: true, lines: { orderBy: { position: 'asc' } } },
      resolve: (invoice) => invoice.lines.map((line) => ({ ...line, currency: invoice.currency })),
    }),
    netTotal: t.field({
      type: 'Decimal',
      description: MONEY,
      select: { netTotal: true, currency: true },
      resolve: (invoice) => formatMoney(invoice.netTotal, invoice.currency),
    }),
    taxTotal: t.field({
      type: 'Decimal',
      description: MONEY,
      select: { taxTotal: true, currency: true },
      resolve: (invoice) => formatMoney(invoice.taxTotal, invoice.currency),
    }),
    grossTotal: t.field({
      type: 'Decimal',
      description: MONEY,
      select: { grossTotal: true, currency: true },
      resolve: (invoice) => formatMoney(invoice.grossTotal, invoice.currency),
    }),
    application: t.relation('application', { description: 'The application that created the invoice.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    issuedAt: t.expose('issuedAt', { type: 'DateTime', nullable: true }),
    paidAt: t.expose('paidAt', { type: 'DateTime', nullable: true }),
    voidedAt: t.expose('voidedAt', { type: 'DateTime', nullable: true }),
    pdfPath: t.string({
      nullable: true,
      description: 'Where REST serves the newest rendered PDF (GET); null until renderInvoicePdf has succeeded once.',
      // Part of the invoices' own query (one for a whole list), not a query per invoice.
      select: { documents: { select: { id: true }, take: 1 } },
      resolve: (invoice) => (invoice.documents.length ? invoicePdfPath(invoice.id) : null),
    }),
  }),
});

const SellerLogo = builder.objectRef<NonNullable<SellerProfileResource['logo']>>('SellerLogo').implement({
  description: 'REST serves the image at GET /api/v1/seller-profile/logo.',
  fields: (t) => ({
    mediaType: t.exposeString('mediaType', { description: 'image/png or image/jpeg.' }),
    byteLength: t.exposeInt('byteLength'),
  }),
});

const SellerProfile = builder.objectRef<SellerProfileResource>('SellerProfile').implement({
  description: "Who issues the tenant's invoices, printed on every invoice PDF; set by the gateway's operator.",
  fields: (t) => ({
    legalName: t.exposeString('legalName'),
    addressLines: t.exposeStringList('addressLines'),
    city: t.exposeString('city'),
    postalCode: t.exposeString('postalCode', { nullable: true }),
    region: t.exposeString('region', { nullable: true }),
    country: t.exposeString('country', { description: 'ISO 3166-1 alpha-2.' }),
    vatId: t.exposeString('vatId', { nullable: true }),
    taxId: t.exposeString('taxId', { nullable: true }),
    email: t.exposeString('email', { nullable: true }),
    phone: t.exposeString('phone', { nullable: true }),
    defaultCurrency: t.exposeString('defaultCurrency', {
      description: 'ISO 4217: the currency of an invoice created without one.',
    }),
    iban: t.exposeString('iban', { nullable: true }),
    bic: t.exposeString('bic', { nullable: true }),
    bankName: t.exposeString('bankName', { nullable: true }),
    paymentTerms: t.exposeString('paymentTerms', { nullable: true }),
    logo: t.expose('logo', { type: SellerLogo, nullable: true }),
    updatedAt: t.field({ type: 'DateTime', resolve: (profile) => new Date(profile.updatedAt) }),
  }),
});

const InvoiceLineInput = builder.inputType('InvoiceLineInput', {
  fields: (t) => ({
    description: t.string({ required: true }),
    quantity: t.field({ type: 'Decimal', required: true }),
    price: t.field({ type: 'Decimal', required: true }),
    taxRate: t.field({ type: 'Decimal', required: true, description: 'Percentage, e.g. 8.5 for 8.5%.' }),
  }),
});

const CreateInvoiceInput = builder.inputType('CreateInvoiceInput', {
  fields: (t) => ({
    customer: t.string({ required: true }),
    customerContactId: t.id(),
    customerCompany: t.string(),
    customerAddress: t.string(),
    customerVatId: t.string(),
    reference: t.string(),
    paymentInstructions: t.string(),
    note: t.string(),
    issuedDate: t.string({ required: true, description: 'ISO-8601 date, YYYY-MM-DD.' }),
    paymentTermsDays: t.int({ required: true }),
    currency: t.string({
      description: "ISO 4217 code. Default: the seller profile's defaultCurrency, else EUR.",
    }),
    items: t.field({ type: [InvoiceLineInput], required: true }),
  }),
});

builder.queryFields((t) => ({
  invoice: t.prismaField({
    type: 'Invoice',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.services.invoices.get(authOf(ctx), args.id, query),
  }),
  sellerProfile: t.field({
    type: SellerProfile,
    nullable: true,
    description: 'Who issues the invoices; a not_found error until the operator sets it. Needs the accounting feature.',
    resolve: (_root, _args, ctx) => ctx.services.sellerProfiles.forApplication(authOf(ctx)),
  }),
  invoices: t.prismaConnection({
    type: 'Invoice',
    cursor: 'id',
    description: 'Invoices of the tenant, oldest first. Needs the accounting feature.',
    resolve: (query, _root, _args, ctx) =>
      ctx.services.invoices.findMany(authOf(ctx), { ...query, orderBy: { id: 'asc' } }),
  }),
}));

const transitionField = (action: InvoiceAction) =>
  builder.mutationField(`${action}Invoice`, (t) =>
    t.prismaField({
      type: 'Invoice',
      args: { id: t.arg.id({ required: true }) },
      resolve: (_query, _root, args, ctx) => ctx.services.invoices.transition(authOf(ctx), args.id, action),
    }),
  );

builder.mutationFields((t) => ({
  createInvoice: t.prismaField({
    type: 'Invoice',
    args: { input: t.arg({ type: CreateInvoiceInput, required: true }) },
    resolve: (_query, _root, args, ctx) => ctx.services.invoices.create(authOf(ctx), args.input),
  }),
  renderInvoicePdf: t.field({
    type: JobRef,
    description:
      "Renders the invoice as a PDF in an invoices.pdf job; once it succeeded, GET the invoice's pdfPath. Needs the accounting feature.",
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.invoicePdf.start(authOf(ctx), args.id),
  }),
}));
(['issue', 'pay', 'void'] as const).forEach(transitionField);

eventResource('invoice', InvoiceObject);

builder.subscriptionField('invoiceChanged', (t) =>
  t.field({
    type: EventRef,
    description:
      'Invoice events (accounting.invoice.*), of one invoice when `id` is given, that match `filters`/`anyOf` (e.g. status is paid). Needs the accounting feature.',
    args: { id: t.arg.id(), after: t.arg.id(), ...filterArgs },
    subscribe: (_root, args, ctx) =>
      resourceEvents(ctx, 'accounting.invoice.*', args, (auth, id) =>
        ctx.services.invoices.get(auth, id, { select: { id: true } }),
      ),
    resolve: eventOrEnd,
  }),
);
