import type { JobHandler } from '../jobs/handler.js';
import type { ContactImportService } from './import.js';

export const CONTACTS_IMPORT_JOB = 'contacts.import';

/** contacts.import: the rows are the job's input; each chunk's progress commits with the chunk. */
export const importContactsJob: JobHandler<{ contactImport: ContactImportService }> = ({ job, services, ...reports }) =>
  services.contactImport.run(job, reports);
