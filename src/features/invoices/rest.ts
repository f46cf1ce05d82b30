import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireFeature } from '../../auth/context.js';
import { CreateInvoiceInput, INVOICES_FEATURE, InvoiceSearchInput, type InvoiceAction } from './service.js';
import { InvoiceResource, invoiceResource } from './resource.js';
import { SellerProfileResource } from './seller-profile.js';
import type { Services } from '../../services.js';
import { accepted } from '../jobs/rest.js';
import { JobReceipt } from '../jobs/resource.js';
import { operation, Page } from '../../http/openapi.js';
import { page, pageArgs, PageQuery } from '../../http/pagination.js';

const InvoiceParams = z.object({ invoiceId: z.string().describe('inv_ followed by a ULID') });
const ACTIONS: { action: InvoiceAction; operationId: string; summary: string }[] = [
  { action: 'issue', operationId: 'issueInvoice', summary: 'Issue a draft invoice' },
  { action: 'pay', operationId: 'payInvoice', summary: 'Mark an issued invoice paid' },
  { action: 'void', operationId: 'voidInvoice', summary: 'Void a draft or issued invoice' },
];
const tags = ['invoices'];

/** The invoice as invoiceResource builds it. */
export const Invoice = InvoiceResource.meta({ id: 'Invoice' });

/** The documented 201 answer to a create; GET /invoices/{invoiceId} has the whole invoice. */
const CreatedInvoice = InvoiceResource.pick({
  invoiceId: true,
  invoiceNumber: true,
  status: true,
  applicationId: true,
  applicationName: true,
}).meta({
  id: 'CreatedInvoice',
  examples: [
    {
      invoiceId: 'inv_01HABC123DEF456',
      invoiceNumber: 'INV-2026-00042',
      status: 'draft',
      applicationId: 'app_01XYZ789',
      applicationName: 'ERP Sync',
    },
  ],
});

const NEW_INVOICE_EXAMPLE = {
  customer: 'Acme Floral Supplies',
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

export const invoiceRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', async (request) => requireFeature(request.auth!, INVOICES_FEATURE)); // before the body is read, like contacts

    app.post(
      '/invoices',
      {
        schema: {
          ...operation({
            operationId: 'createInvoice',
            summary: 'Create a draft invoice',
            tags,
            ok: { 201: CreatedInvoice },
            errors: [403, 422],
            sideEffects: true,
            body: true,
          }),
          body: CreateInvoiceInput.meta({
            'x-examples': { nilo: { summary: "The Nilo headless API's example", value: NEW_INVOICE_EXAMPLE } },
          }),
        },
      },
      async (request, reply) => {
        const invoice = await services.invoices.create(request.auth!, request.body);
        return reply.code(201).header('location', `/api/v1/invoices/${invoice.id}`).send({
          invoiceId: invoice.id,
          invoiceNumber: invoice.number,
          status: invoice.status,
          applicationId: invoice.applicationId,
          applicationName: invoice.application.name,
        });
      },
    );

    app.get(
      '/invoices',
      {
        schema: {
          ...operation({
            operationId: 'listInvoices',
            summary: 'List invoices, oldest first',
            tags,
            ok: { 200: Page(Invoice) },
            errors: [403],
          }),
          querystring: PageQuery,
        },
      },
      async (request) => {
        const rows = await services.invoices.findManyDetailed(request.auth!, pageArgs(request.query));
        return page(rows, request.query, (i) => i.id, invoiceResource);
      },
    );

    // A read: no Idempotency-Key needed (the hook only acts when the header is sent).
    app.post(
      '/invoices/search',
      {
        schema: {
          ...operation({
            operationId: 'searchInvoices',
            summary: 'Filter and sort invoices',
            tags,
            ok: { 200: Page(Invoice) },
            errors: [403],
            body: true,
          }),
          body: InvoiceSearchInput,
        },
      },
      async (request) => services.invoices.search(request.auth!, request.body),
    );

    app.get(
      '/invoices/:invoiceId',
      {
        schema: {
          ...operation({
            operationId: 'getInvoice',
            summary: 'Get an invoice with its lines',
            tags,
            ok: { 200: Invoice },
            errors: [403, 404],
          }),
          params: InvoiceParams,
        },
      },
      async (request) => invoiceResource(await services.invoices.getDetailed(request.auth!, request.params.invoiceId)),
    );

    app.post(
      '/invoices/:invoiceId/pdf',
      {
        schema: {
          ...operation({
            operationId: 'renderInvoicePdf',
            summary: 'Render the invoice as a PDF in an invoices.pdf job (202); GET …/pdf serves it once done',
            tags,
            ok: { 202: JobReceipt },
            errors: [403, 404],
            sideEffects: true,
          }),
          params: InvoiceParams,
        },
      },
      async (request, reply) =>
        accepted(reply, await services.invoicePdf.start(request.auth!, request.params.invoiceId)),
    );

    app.get(
      '/invoices/:invoiceId/pdf',
      {
        schema: {
          ...operation({
            operationId: 'downloadInvoicePdf',
            summary: 'The newest rendered PDF of the invoice (404 pdf_not_rendered before the first)',
            tags,
            ok: {
              200: {
                description: 'The PDF, as an attachment named after the invoice number',
                content: { 'application/pdf': { schema: z.string().meta({ contentMediaType: 'application/pdf' }) } },
              },
            },
            errors: [403, 404],
          }),
          params: InvoiceParams,
        },
      },
      async (request, reply) => {
        const pdf = await services.invoicePdf.latest(request.auth!, request.params.invoiceId);
        return reply
          .type('application/pdf')
          .header('content-disposition', `attachment; filename="${pdf.invoiceNumber}.pdf"`)
          .send(Buffer.from(pdf.content.buffer, pdf.content.byteOffset, pdf.content.byteLength));
      },
    );

    app.get(
      '/seller-profile',
      {
        schema: operation({
          operationId: 'getSellerProfile',
          summary:
            "Who issues the tenant's invoices (set by the gateway's operator; 404 until then): printed on every invoice PDF",
          tags,
          ok: { 200: SellerProfileResource.meta({ id: 'SellerProfile' }) },
          errors: [403, 404],
        }),
      },
      async (request) => services.sellerProfiles.forApplication(request.auth!),
    );

    app.get(
      '/seller-profile/logo',
      {
        schema: operation({
          operationId: 'getSellerLogo',
          summary: "The seller profile's logo (404 when it has none)",
          tags,
          ok: {
            200: {
              description: 'The image as the operator uploaded it',
              content: {
                'image/png': { schema: z.string().meta({ contentMediaType: 'image/png' }) },
                'image/jpeg': { schema: z.string().meta({ contentMediaType: 'image/jpeg' }) },
              },
            },
          },
          errors: [403, 404],
        }),
      },
      async (request, reply) => {
        const logo = await services.sellerProfiles.logo(request.auth!);
        return reply
          .type(logo.mediaType)
          .send(Buffer.from(logo.bytes.buffer, logo.bytes.byteOffset, logo.bytes.byteLength));
      },
    );

    for (const { action, operationId, summary } of ACTIONS) {
      app.post(
        `/invoices/:invoiceId/${action}`,
        {
          schema: {
            ...operation({
              operationId,
              summary,
              tags,
              ok: { 200: Invoice },
              errors: [403, 404, 422],
              sideEffects: true,
            }),
            params: InvoiceParams,
          },
        },
        async (request) =>
          invoiceResource(await services.invoices.transition(request.auth!, request.params.invoiceId, action)),
      );
    }
  };
