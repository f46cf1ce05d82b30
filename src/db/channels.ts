// PostgreSQL NOTIFY channels, all in one place. The database triggers of the migrations
// (prisma/migrations/*_event_notify and *_job_notify) send on the events and jobs channels
// under these same names; every gateway process LISTENs through Database.listen().

/** An admin change to a tenant's keys or features; the payload is the tenant id. */
export const AUTH_CHANGED_CHANNEL = 'nilo_auth_changed';
/** Events committed to the log (trigger on "Event"); the payload is the tenant id. */
export const EVENTS_CHANNEL = 'nilo_events';
/** Jobs queued for built-in workers (trigger on "Job"). */
export const JOBS_CHANNEL = 'nilo_jobs';
/** Webhook deliveries due now; workers also poll, so a lost wake-up only delays. */
export const DELIVERIES_CHANNEL = 'nilo_deliveries';
