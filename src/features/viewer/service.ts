import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import type { AuthContext } from '../../auth/context.js';

/** The calling application and its tenant, for GraphQL's `viewer`. */
export function viewerService(prisma: PrismaClient) {
  return {
    application<A extends Omit<Prisma.ApplicationFindUniqueOrThrowArgs, 'where'>>(auth: AuthContext, args?: A) {
      return prisma.application.findUniqueOrThrow({ ...args, where: { id: auth.applicationId } });
    },
    tenant<A extends Omit<Prisma.TenantFindUniqueOrThrowArgs, 'where'>>(auth: AuthContext, args?: A) {
      return prisma.tenant.findUniqueOrThrow({ ...args, where: { id: auth.tenantId } });
    },
  };
}
