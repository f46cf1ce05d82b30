import type { JobHandler } from '../jobs/handler.js';
import type { InvoicePdfService } from './pdf.js';

export const INVOICE_PDF_JOB = 'invoices.pdf';

/** invoices.pdf: one step (queued as 0 of 1), reported as such so clients see the job's progress like any other's. */
export const renderInvoicePdfJob: JobHandler<{ invoicePdf: InvoicePdfService }> = async ({
  job,
  services,
  progress,
}) => {
  const result = await services.invoicePdf.run(job);
  await progress({ completed: 1, total: 1, message: 'Rendered' });
  return result;
};
