import type { PrismaClient } from '../generated/prisma/client.js';
import { authenticator } from '../auth/authenticate.js';
import { adminService } from './admin.js';
import { contactService } from './contacts.js';
import { idempotencyService } from './idempotency.js';
import { invoiceService } from './invoices.js';
import { viewerService } from './viewer.js';

export type Services = ReturnType<typeof createServices>;

/** The domain layer bound to one database: what REST, GraphQL and the CLI call. */
export function createServices(prisma: PrismaClient, options: { idempotencyTtlMs: number }) {
  return {
    authenticate: authenticator(prisma),
    admin: adminService(prisma),
    contacts: contactService(prisma),
    invoices: invoiceService(prisma),
    viewer: viewerService(prisma),
    idempotency: idempotencyService(prisma, options.idempotencyTtlMs),
    /** Pothos's Prisma plugin loads relations a resolver did not include through this client. */
    prisma,
  };
}
