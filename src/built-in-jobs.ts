import { CONTACTS_IMPORT_JOB, importContactsJob } from './features/contacts/import-job.js';
import { INVOICE_PDF_JOB, renderInvoicePdfJob } from './features/invoices/pdf-job.js';
import { exportTenantJob, importTenantJob, TENANT_EXPORT_JOB, TENANT_IMPORT_JOB } from './features/transfer/jobs.js';

/**
 * The jobs the gateway runs itself, by resourceType, each with its handler: the one list of them.
 * The job worker runs them; the jobs and runner services are given their types (BUILT_IN_JOB_TYPES).
 */
export const builtInJobHandlers = {
  [CONTACTS_IMPORT_JOB]: importContactsJob,
  [INVOICE_PDF_JOB]: renderInvoicePdfJob,
  [TENANT_EXPORT_JOB]: exportTenantJob,
  [TENANT_IMPORT_JOB]: importTenantJob,
};

/** The built-in types: handled without a runner (when a worker runs them), and refused to runners and POST /jobs. */
export const BUILT_IN_JOB_TYPES: readonly string[] = Object.keys(builtInJobHandlers);
