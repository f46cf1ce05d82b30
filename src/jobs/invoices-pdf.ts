import type { JobHandler } from './handlers.js';

/** invoices.pdf: one step, reported as such so clients see the job's progress like any other's. */
export const renderInvoicePdfJob: JobHandler = async ({ job, services, progress }) => {
  await progress({ completed: 0, total: 1, message: 'Rendering the invoice' });
  const result = await services.invoicePdf.run(job);
  await progress({ completed: 1, total: 1, message: 'Rendered' });
  return result;
};
