import type { JobHandler } from '../jobs/handler.js';
import type { TransferService } from './service.js';

export const TENANT_EXPORT_JOB = 'tenant.export';
export const TENANT_IMPORT_JOB = 'tenant.import';

/** tenant.export: writes the tenant's export file; its result names the downloadPath. */
export const exportTenantJob: JobHandler<{ transfer: TransferService }> = ({ job, services, progress }) =>
  services.transfer.runExport(job, progress);

/** tenant.import: reads the uploaded file into the tenant; its result counts what was written and lists refused lines. */
export const importTenantJob: JobHandler<{ transfer: TransferService }> = ({ job, services, progress }) =>
  services.transfer.runImport(job, progress);
