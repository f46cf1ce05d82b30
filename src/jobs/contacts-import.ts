import type { JobHandler } from './handlers.js';

/** contacts.import: the rows are the job's input; progress is reported per chunk. */
export const importContactsJob: JobHandler = async ({ job, services, progress }) => {
  const result = await services.contactImport.run(job, (completed, total) => progress({ completed, total, message: `${completed} of ${total} rows` }));
  return result;
};
