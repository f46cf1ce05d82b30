import type { Config } from './config.js';
import type { PrismaClient } from './generated/prisma/client.js';
import type { Query } from './db/database.js';
import { addressGuard } from './features/webhooks/address-guard.js';
import { authenticator } from './auth/authenticate.js';
import { BUILT_IN_JOB_TYPES } from './built-in-jobs.js';
import { adminService } from './features/admin/service.js';
import { contactService } from './features/contacts/service.js';
import { contactImportService } from './features/contacts/import.js';
import { eventService } from './features/events/service.js';
import { eventFilters } from './features/events/filters.js';
import { EVENT_DATA_SCHEMAS } from './features/event-types/catalog.js';
import { idempotencyService } from './http/idempotency.js';
import { invoicePdfService } from './features/invoices/pdf.js';
import { invoiceService } from './features/invoices/service.js';
import { sellerProfileService } from './features/invoices/seller-profile.js';
import { jobService } from './features/jobs/service.js';
import { runnerService } from './features/runners/service.js';
import { transferService } from './features/transfer/service.js';
import { viewerService } from './features/viewer/service.js';
import { webhookService } from './features/webhooks/service.js';

export type Services = ReturnType<typeof createServices>;

/**
 * The domain layer bound to one database: what REST, GraphQL and the CLI call. `query` runs the
 * hottest batched statements on the driver (Database.query); without it they run through Prisma.
 */
export function createServices(
  prisma: PrismaClient,
  config: Pick<Config, 'idempotencyTtlMs' | 'webhooks' | 'jobs'>,
  query: Query = (statement) => prisma.$queryRaw(statement),
) {
  const auth = authenticator(prisma);
  const guard = addressGuard(config.webhooks.allowedCidrs);
  const jobs = jobService(prisma, query, BUILT_IN_JOB_TYPES, config.jobs);
  const filters = eventFilters(EVENT_DATA_SCHEMAS);
  return {
    authenticate: auth.authenticate,
    /** Drops cached keys of a tenant (null: of all tenants) after an admin change elsewhere. */
    forgetAuth: auth.forget,
    /** Called after every such change, with the tenant id (null: any tenant). */
    onAuthChange: auth.onChange,
    admin: adminService(prisma, auth.forget),
    contacts: contactService(prisma, query),
    invoices: invoiceService(prisma),
    /** Who issues the tenant's invoices; get(tenantId) is what the invoice PDF prints. */
    sellerProfiles: sellerProfileService(prisma),
    events: eventService(prisma, filters),
    jobs,
    contactImport: contactImportService(prisma, query, jobs),
    invoicePdf: invoicePdfService(prisma, jobs),
    transfer: transferService(prisma, jobs),
    runners: runnerService(prisma, jobs, config.jobs.leaseMs),
    viewer: viewerService(prisma),
    idempotency: idempotencyService(prisma, query, config.idempotencyTtlMs),
    webhooks: webhookService(prisma, query, config.webhooks, guard, filters),
    /** The SSRF guard webhook deliveries connect through. */
    addressGuard: guard,
    /** Pothos's Prisma plugin loads relations a resolver did not include through this client. */
    prisma,
  };
}
