import type { JobHandler } from './handlers.js';
import { importContactsJob } from './contacts-import.js';
import { renderInvoicePdfJob } from './invoices-pdf.js';

/** The job types the gateway runs itself, by resourceType (see BUILT_IN_JOB_TYPES). */
export const builtInJobHandlers: Record<string, JobHandler> = {
  'contacts.import': importContactsJob,
  'invoices.pdf': renderInvoicePdfJob,
};
