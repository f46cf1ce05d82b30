import type { JobHandler } from './features/jobs/handler.js';
import { importContactsJob } from './features/contacts/import-job.js';
import { renderInvoicePdfJob } from './features/invoices/pdf-job.js';

/** The job types the gateway runs itself, by resourceType (see BUILT_IN_JOB_TYPES). */
export const builtInJobHandlers: Record<string, JobHandler> = {
  'contacts.import': importContactsJob,
  'invoices.pdf': renderInvoicePdfJob,
};
