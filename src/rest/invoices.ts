import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireFeature } from '../auth/context.js';
import { CreateInvoiceInput, INVOICES_FEATURE, InvoiceSearchInput, invoiceResource, type InvoiceAction } from '../domain/invoices.js';
import type { Services } from '../domain/index.js';
import { accepted } from './jobs.js';
import { page, pageArgs, PageQuery } from './pagination.js';

const InvoiceParams = z.object({ invoiceId: z.string() });
const ACTIONS: InvoiceAction[] = ['issue', 'pay', 'void'];

export const invoiceRoutes =
  (services: Services): FastifyPluginAsyncZod =>
  async (app) => {
    app.addHook('onRequest', async (request) => requireFeature(request.auth!, INVOICES_FEATURE)); // before the body is read, like contacts

    app.post('/invoices', { schema: { tags: ['invoices'], body: CreateInvoiceInput } }, async (request, reply) => {
      const invoice = await services.invoices.create(request.auth!, request.body);
      // Exactly the documented 201 body; GET /invoices/{id} has the whole invoice.
      return reply.code(201).header('location', `/api/v1/invoices/${invoice.id}`).send({
        invoiceId: invoice.id,
        invoiceNumber: invoice.number,
        status: invoice.status,
        applicationId: invoice.applicationId,
        applicationName: invoice.application.name,
      });
    });

    app.get('/invoices', { schema: { tags: ['invoices'], querystring: PageQuery } }, async (request) => {
      const rows = await services.invoices.findManyDetailed(request.auth!, pageArgs(request.query));
      return page(rows, request.query, (i) => i.id, invoiceResource);
    });

    // A read: no Idempotency-Key needed (the hook only acts when the header is sent).
    app.post('/invoices/search', { schema: { tags: ['invoices'], body: InvoiceSearchInput } }, async (request) => {
      return services.invoices.search(request.auth!, request.body);
    });

    app.get('/invoices/:invoiceId', { schema: { tags: ['invoices'], params: InvoiceParams } }, async (request) => {
      return invoiceResource(await services.invoices.getDetailed(request.auth!, request.params.invoiceId));
    });

    app.post(
      '/invoices/:invoiceId/pdf',
      { schema: { tags: ['invoices'], summary: 'Render the invoice as a PDF in an invoices.pdf job (202); GET …/pdf serves it once done', params: InvoiceParams } },
      async (request, reply) => accepted(reply, await services.invoicePdf.start(request.auth!, request.params.invoiceId)),
    );

    app.get(
      '/invoices/:invoiceId/pdf',
      { schema: { tags: ['invoices'], summary: 'The newest rendered PDF of the invoice (404 pdf_not_rendered before the first)', params: InvoiceParams } },
      async (request, reply) => {
        const pdf = await services.invoicePdf.latest(request.auth!, request.params.invoiceId);
        return reply
          .type('application/pdf')
          .header('content-disposition', `attachment; filename="${pdf.invoiceNumber}.pdf"`)
          .send(Buffer.from(pdf.content.buffer, pdf.content.byteOffset, pdf.content.byteLength));
      },
    );

    for (const action of ACTIONS) {
      app.post(`/invoices/:invoiceId/${action}`, { schema: { tags: ['invoices'], params: InvoiceParams } }, async (request) => {
        return invoiceResource(await services.invoices.transition(request.auth!, request.params.invoiceId, action));
      });
    }
  };
