import type { Job, PrismaClient } from '../../generated/prisma/client.js';
import type { AuthContext } from '../../auth/context.js';
import { PermanentJobError } from '../jobs/handler.js';
import { NotYetAvailableError } from '../../core/errors.js';
import { newId } from '../../core/ids.js';
import { invoiceService } from './service.js';
import { sellerProfileService } from './seller-profile.js';
import type { JobState } from '../jobs/job.js';
import type { JobService } from '../jobs/service.js';
import { INVOICE_PDF_JOB } from './pdf-job.js';

/** Where REST serves the newest rendered PDF of an invoice. */
export function invoicePdfPath(invoiceId: string): string {
  return `/api/v1/invoices/${invoiceId}/pdf`;
}

/** The invoices.pdf job's result. */
export type InvoicePdfResult = { invoiceId: string; documentId: string; pdfPath: string; bytes: number };

/**
 * invoices.pdf: renders an invoice as it is when the job runs and keeps every rendering as an
 * InvoiceDocument; GET …/pdf serves the newest.
 */
export function invoicePdfService(prisma: PrismaClient, jobs: JobService) {
  // Its lookup holds the rules: the accounting feature, a well-formed id, an invoice of the caller's tenant.
  const invoices = invoiceService(prisma);
  const sellerProfiles = sellerProfileService(prisma);
  return {
    async start(auth: AuthContext, invoiceId: string): Promise<JobState> {
      const invoice = await invoices.get(auth, invoiceId, { select: { id: true } });
      return jobs.enqueue(auth, {
        resourceType: INVOICE_PDF_JOB,
        input: { invoiceId: invoice.id },
        progress: { total: 1 },
      });
    },

    async run(job: Job): Promise<InvoicePdfResult> {
      const { invoiceId } = job.input as { invoiceId: string };
      const invoice = await prisma.invoice.findFirst({
        where: { id: invoiceId, tenantId: job.tenantId },
        include: { lines: { orderBy: { position: 'asc' } } },
      });
      if (!invoice) throw new PermanentJobError('invoice_not_found', `Invoice ${invoiceId} no longer exists.`);
      const [tenant, seller, buyer] = await Promise.all([
        prisma.tenant.findUniqueOrThrow({ where: { id: job.tenantId }, select: { name: true } }),
        sellerProfiles.get(job.tenantId),
        invoice.customerContactId
          ? prisma.contact.findFirst({
              where: { id: invoice.customerContactId, tenantId: job.tenantId },
              select: { email: true, phone: true, streetAddress: true, postalCode: true, city: true, country: true },
            })
          : null,
      ]);
      // pdf-lib (about 25 MB resident) loads with the first rendering, not in every idle process.
      const { renderInvoicePdf } = await import('./pdf-render.js');
      const content = await renderInvoicePdf({ invoice, seller, tenantName: tenant.name, buyer });
      const document = await prisma.invoiceDocument.create({
        data: { id: newId('invdoc'), tenantId: job.tenantId, invoiceId, jobId: job.id, content },
        select: { id: true },
      });
      return { invoiceId, documentId: document.id, pdfPath: invoicePdfPath(invoiceId), bytes: content.byteLength };
    },

    /** The newest rendering of the tenant's invoice; pdf_not_rendered (404) before the first. */
    async latest(auth: AuthContext, invoiceId: string): Promise<{ invoiceNumber: string; content: Uint8Array }> {
      const invoice = await invoices.get(auth, invoiceId, { select: { id: true, number: true } });
      const document = await prisma.invoiceDocument.findFirst({
        where: { tenantId: auth.tenantId, invoiceId: invoice.id },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        select: { content: true },
      });
      if (!document) {
        throw new NotYetAvailableError(
          'pdf_not_rendered',
          `Invoice ${invoice.number} has no PDF yet: POST ${invoicePdfPath(invoice.id)} to render one.`,
        );
      }
      return { invoiceNumber: invoice.number, content: document.content };
    },
  };
}

export type InvoicePdfService = ReturnType<typeof invoicePdfService>;
