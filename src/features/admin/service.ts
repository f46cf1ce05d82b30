import { z } from 'zod';
import type { Application, PrismaClient } from '../../generated/prisma/client.js';
import { FEATURES } from '../../auth/context.js';
import { API_KEY_PREFIX, generateKey } from '../../auth/keys.js';
import { DomainError, NotFoundError } from '../../core/errors.js';
import { newId, parseId } from '../../core/ids.js';
import { parseInput } from '../../core/validation.js';
import { notifyAuthChanged } from './sql.js';

// Operator actions on tenants, applications and keys (admin API and CLI, first-start demo tenant).

/** What a first start in embedded development mode creates; found again by these names when its key is lost. */
export const DEMO = { tenantName: 'Demo', applicationName: 'Demo app' } as const;

const Name = z.string().trim().min(1, 'is required').max(200);
const Features = z.array(z.enum(FEATURES)).transform((list) => [...new Set(list)].sort());

export type NewApplication = {
  applicationId: string;
  applicationName: string;
  tenantId: string;
  apiKey: string;
  fingerprint: string;
};

/**
 * `onAuthChanged` forgets cached keys in this process at once; other gateway processes learn
 * of the change from the NOTIFY sent in the same transaction (delivered on commit).
 */
/** What creating an application or rotating its key answers: the only time the key is shown. */
function newApplication(app: Application, key: { key: string; fingerprint: string }): NewApplication {
  return {
    applicationId: app.id,
    applicationName: app.name,
    tenantId: app.tenantId,
    apiKey: key.key,
    fingerprint: key.fingerprint,
  };
}

export function adminService(prisma: PrismaClient, onAuthChanged: (tenantId: string) => void = () => {}) {
  const announce = (tenantId: string) => prisma.$executeRaw(notifyAuthChanged(tenantId));

  async function requireTenant(tenantId: string) {
    const tenant = await prisma.tenant.findUnique({ where: { id: parseId('ten', tenantId, 'tenant') } });
    if (!tenant) throw new NotFoundError('Tenant', tenantId);
    return tenant;
  }

  async function requireApplication(applicationId: string) {
    const app = await prisma.application.findUnique({ where: { id: parseId('app', applicationId, 'app') } });
    if (!app) throw new NotFoundError('Application', applicationId);
    return app;
  }

  /** Issues a new key and revokes the application's previous ones in the same transaction. */
  async function rotateKey(app: Application): Promise<NewApplication> {
    const key = generateKey(API_KEY_PREFIX);
    await prisma.$transaction([
      prisma.apiKey.updateMany({
        where: { applicationId: app.id, status: 'active' },
        data: { status: 'revoked', revokedAt: new Date() },
      }),
      prisma.apiKey.create({
        data: {
          id: newId('key'),
          tenantId: app.tenantId,
          applicationId: app.id,
          hash: key.hash,
          fingerprint: key.fingerprint,
        },
      }),
      announce(app.tenantId),
    ]);
    onAuthChanged(app.tenantId);
    return newApplication(app, key);
  }

  const demoApplication = () =>
    prisma.application.findFirst({
      where: { name: DEMO.applicationName, tenant: { name: DEMO.tenantName } },
      orderBy: { id: 'asc' },
    });

  const service = {
    async createTenant(input: { name: string; features: string[] }) {
      const { name, features } = parseInput(z.object({ name: Name, features: Features }), input);
      const tenant = await prisma.tenant.create({
        data: { id: newId('ten'), name, features, relayCursor: { create: {} } },
      });
      return { tenantId: tenant.id, name: tenant.name, features: tenant.features };
    },

    async setFeatures(input: { tenantId: string; features: string[] }) {
      const { features } = parseInput(z.object({ features: Features }), input);
      await requireTenant(input.tenantId);
      const [tenant] = await prisma.$transaction([
        prisma.tenant.update({ where: { id: input.tenantId }, data: { features } }),
        announce(input.tenantId),
      ]);
      onAuthChanged(tenant.id);
      return { tenantId: tenant.id, name: tenant.name, features: tenant.features };
    },

    async listTenants() {
      const tenants = await prisma.tenant.findMany({ orderBy: { id: 'asc' } });
      return tenants.map((t) => ({ tenantId: t.id, name: t.name, features: t.features }));
    },

    async createApplication(input: { tenantId: string; name: string }): Promise<NewApplication> {
      const { name } = parseInput(z.object({ name: Name }), input);
      await requireTenant(input.tenantId);
      const key = generateKey(API_KEY_PREFIX);
      const app = await prisma.application.create({
        data: {
          id: newId('app'),
          tenantId: input.tenantId,
          name,
          apiKeys: {
            create: { id: newId('key'), tenantId: input.tenantId, hash: key.hash, fingerprint: key.fingerprint },
          },
        },
      });
      return newApplication(app, key);
    },

    rotateKey: async (applicationId: string) => rotateKey(await requireApplication(applicationId)),

    async revokeKeys(applicationId: string) {
      const app = await requireApplication(applicationId);
      const [{ count }] = await prisma.$transaction([
        prisma.apiKey.updateMany({
          where: { applicationId: app.id, status: 'active' },
          data: { status: 'revoked', revokedAt: new Date() },
        }),
        announce(app.tenantId),
      ]);
      onAuthChanged(app.tenantId);
      return { applicationId: app.id, revokedKeys: count };
    },

    async listApplications(tenantId: string) {
      await requireTenant(tenantId);
      const apps = await prisma.application.findMany({
        where: { tenantId },
        orderBy: { id: 'asc' },
        include: { apiKeys: { orderBy: { id: 'asc' } } },
      });
      return apps.map((app) => ({
        applicationId: app.id,
        applicationName: app.name,
        keys: app.apiKeys.map((k) => ({
          fingerprint: k.fingerprint,
          status: k.status,
          createdAt: k.createdAt.toISOString(),
          revokedAt: k.revokedAt?.toISOString() ?? null,
          lastUsedAt: k.lastUsedAt?.toISOString() ?? null,
        })),
      }));
    },

    countTenants() {
      return prisma.tenant.count();
    },

    /** The demo tenant with every feature and its application, whose key is shown once. */
    async createDemo(): Promise<NewApplication> {
      const { tenantId } = await service.createTenant({ name: DEMO.tenantName, features: [...FEATURES] });
      return service.createApplication({ tenantId, name: DEMO.applicationName });
    },

    /** Whether a demo application exists (the start banner then says how to replace its key). */
    async hasDemo(): Promise<boolean> {
      return (await demoApplication()) !== null;
    },

    /** A new key for the demo application (the lost one stops working). */
    async replaceDemoKey(): Promise<NewApplication> {
      const app = await demoApplication();
      if (!app) {
        throw new DomainError(
          404,
          'not_found',
          'Not found',
          'There is no demo application: a gateway creates one on its first start on an empty embedded data folder (not in production).',
        );
      }
      return rotateKey(app);
    },
  };
  return service;
}
