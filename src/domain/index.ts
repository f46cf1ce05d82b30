import type { PrismaClient } from '../generated/prisma/client.js';
import { authenticator } from '../auth/authenticate.js';
import { adminService } from './admin.js';
import { contactService } from './contacts.js';
import { eventService } from './events.js';
import { idempotencyService } from './idempotency.js';
import { invoiceService } from './invoices.js';
import { viewerService } from './viewer.js';

export type Services = ReturnType<typeof createServices>;

/** The domain layer bound to one database: what REST, GraphQL and the CLI call. */
export function createServices(prisma: PrismaClient, options: { idempotencyTtlMs: number }) {
  const auth = authenticator(prisma);
  return {
    authenticate: auth.authenticate,
    /** Drops cached keys of a tenant (null: of all tenants) after an admin change elsewhere. */
    forgetAuth: auth.forget,
    /** Called after every such change, with the tenant id (null: any tenant). */
    onAuthChange: auth.onChange,
    admin: adminService(prisma, auth.forget),
    contacts: contactService(prisma),
    invoices: invoiceService(prisma),
    events: eventService(prisma),
    viewer: viewerService(prisma),
    idempotency: idempotencyService(prisma, options.idempotencyTtlMs),
    /** Pothos's Prisma plugin loads relations a resolver did not include through this client. */
    prisma,
  };
}
