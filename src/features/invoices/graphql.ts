import { builder } from '../../graphql/builder.js';
import { authOf } from '../../graphql/auth.js';
import { eventOrEnd, EventRef, eventResource, resourceEvents } from '../events/graphql.js';
import { INVOICE_STATUSES } from './resource.js';
import type { InvoiceAction } from './service.js';
import { invoicePdfPath } from './pdf.js';
import { JobRef } from '../jobs/graphql.js';

const InvoiceStatus = builder.enumType('InvoiceStatus', { values: INVOICE_STATUSES });

builder.prismaObject('InvoiceLine', {
  fields: (t) => ({
    description: t.exposeString('description'),
    quantity: t.expose('quantity', { type: 'Decimal' }),
    price: t.expose('price', { type: 'Decimal' }),
    taxRate: t.expose('taxRate', { type: 'Decimal', description: 'Percentage, e.g. 8.5 for 8.5%.' }),
    net: t.expose('net', { type: 'Decimal' }),
    tax: t.expose('tax', { type: 'Decimal' }),
    gross: t.expose('gross', { type: 'Decimal' }),
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
    items: t.relation('lines', { query: { orderBy: { position: 'asc' } } }),
    netTotal: t.expose('netTotal', { type: 'Decimal' }),
    taxTotal: t.expose('taxTotal', { type: 'Decimal' }),
    grossTotal: t.expose('grossTotal', { type: 'Decimal' }),
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
    items: t.field({ type: [InvoiceLineInput], required: true }),
  }),
});

builder.queryFields((t) => ({
  invoice: t.prismaField({
    type: 'Invoice',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, ctx) => ctx.services.invoices.get(authOf(ctx), args.id, query),
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
      'Invoice events (accounting.invoice.*), of one invoice when `id` is given. Needs the accounting feature.',
    args: { id: t.arg.id(), after: t.arg.id() },
    subscribe: (_root, args, ctx) =>
      resourceEvents(ctx, 'accounting.invoice.*', args, (auth, id) =>
        ctx.services.invoices.get(auth, id, { select: { id: true } }),
      ),
    resolve: eventOrEnd,
  }),
);
