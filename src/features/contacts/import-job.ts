import type { JobHandler } from '../jobs/handler.js';

/** contacts.import: the rows are the job's input; each chunk's progress commits with the chunk. */
export const importContactsJob: JobHandler = ({ job, services, progressWithin }) =>
  services.contactImport.run(job, progressWithin);
