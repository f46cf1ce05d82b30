import type { JobHandler } from './handlers.js';

/** invoices.pdf: one invoice renders in one short step, so there is no progress to report. */
export const renderInvoicePdfJob: JobHandler = ({ job, services }) => services.invoicePdf.run(job);
