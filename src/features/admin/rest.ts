import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { DomainError, UnauthorizedError } from '../../core/errors.js';
import type { Services } from '../../services.js';
import { jobResource } from '../jobs/job.js';
import { ndjsonBodies, ndjsonBody, sendExportFile } from '../transfer/rest.js';
import { OperatorExportInput } from '../transfer/service.js';

// The operator's API under /admin/v1: what the admin CLI does, for a gateway that is running (the
// CLI itself sends its commands here when a gateway holds the data folder, or when given a URL).
// Outside /api/v1: no API key, no application budget. Failed authentications (401) count against
// the client address's budget like failed API keys (rateLimit in rate-limit.ts, registered on the
// root), and an address that used it up is refused before its token is compared.

export type AdminAccess = { allowed: true } | { allowed: false; error: DomainError };

/**
 * Who may call the admin API: with ADMIN_TOKEN configured, whoever presents it (Authorization:
 * Bearer), from any address; without one, loopback clients only (127.0.0.0/8, ::1, and IPv4 loopback
 * mapped into IPv6), so a development gateway on 0.0.0.0 does not hand its tenants to the network.
 */
export function adminAccess(
  adminToken: string | undefined,
  authorization: string | undefined,
  clientAddress: string,
): AdminAccess {
  if (adminToken === undefined) {
    if (isLoopback(clientAddress)) return { allowed: true };
    return {
      allowed: false,
      error: new DomainError(
        403,
        'forbidden',
        'Forbidden',
        'The admin API answers loopback clients only while ADMIN_TOKEN is not set; set ADMIN_TOKEN on the gateway to call it from elsewhere.',
      ),
    };
  }
  const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
  if (presented === undefined)
    return {
      allowed: false,
      error: new UnauthorizedError('The admin API requires the operator token: Authorization: Bearer <ADMIN_TOKEN>.'),
    };
  if (!sameSecret(presented, adminToken))
    return { allowed: false, error: new UnauthorizedError('The operator token is not valid.') };
  return { allowed: true };
}

export function isLoopback(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === 'loopback';
}

/** Compares digests, whose lengths are equal, in constant time: neither the content nor the length of the token leaks. */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

const Name = z.string();
const Features = z.array(z.string());
const TenantParams = z.object({ tenantId: z.string() });
const ApplicationParams = z.object({ applicationId: z.string() });
const RunnerParams = z.object({ runnerId: z.string() });
const TenantJobParams = z.object({ tenantId: z.string(), jobId: z.string() });

/** The routes; names and features are checked by the domain services, as for the CLI. */
export const adminRoutes =
  (services: Services, adminToken: string | undefined, importLimitBytes: number): FastifyPluginAsyncZod =>
  async (app) => {
    const { admin, runners, sellerProfiles, transfer } = services;
    const schema = { hide: true };

    app.addHook('onRequest', async (request) => {
      const access = adminAccess(adminToken, request.headers.authorization, request.socket.remoteAddress ?? '');
      if (!access.allowed) throw access.error;
    });

    app.get('/tenants', { schema }, async () => admin.listTenants());

    app.post(
      '/tenants',
      { schema: { ...schema, body: z.strictObject({ name: Name, features: Features.default([]) }) } },
      async (request, reply) => reply.code(201).send(await admin.createTenant(request.body)),
    );

    app.put(
      '/tenants/:tenantId/features',
      { schema: { ...schema, params: TenantParams, body: z.strictObject({ features: Features }) } },
      async (request) => admin.setFeatures({ tenantId: request.params.tenantId, features: request.body.features }),
    );

    app.get('/tenants/:tenantId/applications', { schema: { ...schema, params: TenantParams } }, async (request) =>
      admin.listApplications(request.params.tenantId),
    );

    app.post(
      '/tenants/:tenantId/applications',
      { schema: { ...schema, params: TenantParams, body: z.strictObject({ name: Name }) } },
      async (request, reply) =>
        reply
          .code(201)
          .send(await admin.createApplication({ tenantId: request.params.tenantId, name: request.body.name })),
    );

    // A new key for the application; its previous keys stop working in the same transaction.
    app.post(
      '/applications/:applicationId/keys',
      { schema: { ...schema, params: ApplicationParams } },
      async (request, reply) => reply.code(201).send(await admin.rotateKey(request.params.applicationId)),
    );

    app.delete(
      '/applications/:applicationId/keys',
      { schema: { ...schema, params: ApplicationParams } },
      async (request) => admin.revokeKeys(request.params.applicationId),
    );

    app.get('/tenants/:tenantId/seller-profile', { schema: { ...schema, params: TenantParams } }, async (request) =>
      sellerProfiles.show(request.params.tenantId),
    );

    // The body is checked by the service (z.unknown here), so the API and the CLI refuse alike.
    app.put(
      '/tenants/:tenantId/seller-profile',
      { schema: { ...schema, params: TenantParams, body: z.unknown() } },
      async (request) => sellerProfiles.put(request.params.tenantId, request.body),
    );

    app.delete('/tenants/:tenantId/seller-profile', { schema: { ...schema, params: TenantParams } }, async (request) =>
      sellerProfiles.remove(request.params.tenantId),
    );

    app.get('/tenants/:tenantId/runners', { schema: { ...schema, params: TenantParams } }, async (request) =>
      runners.listRunners(request.params.tenantId),
    );

    app.post(
      '/tenants/:tenantId/runners',
      { schema: { ...schema, params: TenantParams, body: z.strictObject({ name: Name }) } },
      async (request, reply) =>
        reply.code(201).send(await runners.createRunner(request.params.tenantId, request.body.name)),
    );

    app.delete('/runners/:runnerId', { schema: { ...schema, params: RunnerParams } }, async (request) =>
      runners.revokeRunner(request.params.runnerId),
    );

    app.post('/demo-key', { schema }, async (_request, reply) => reply.code(201).send(await admin.replaceDemoKey()));

    // Tenant export and import (the CLI's export-tenant and import-tenant through a gateway): jobs of
    // the tenant, followed here, since the operator holds no API key of the tenant.
    app.post(
      '/tenants/:tenantId/exports',
      { schema: { ...schema, params: TenantParams, body: OperatorExportInput.nullish() } },
      async (request, reply) =>
        reply
          .code(202)
          .send(jobResource(await transfer.startExportAsOperator(request.params.tenantId, request.body, request.id))),
    );

    app.get('/tenants/:tenantId/jobs/:jobId', { schema: { ...schema, params: TenantJobParams } }, async (request) =>
      jobResource(await transfer.operatorJob(request.params.tenantId, request.params.jobId)),
    );

    app.get(
      '/tenants/:tenantId/exports/:jobId/download',
      { schema: { ...schema, params: TenantJobParams } },
      async (request, reply) =>
        sendExportFile(reply, await transfer.downloadAsOperator(request.params.tenantId, request.params.jobId)),
    );

    await app.register(async (imports) => {
      ndjsonBodies(imports);
      imports.post(
        '/tenants/:tenantId/imports',
        { schema: { ...schema, params: TenantParams } },
        async (request, reply) => {
          const { body, declaredBytes } = ndjsonBody(request);
          const job = await transfer.startImportAsOperator(
            (request.params as z.output<typeof TenantParams>).tenantId,
            body,
            { declaredBytes, limitBytes: importLimitBytes },
            request.id,
          );
          return reply.code(202).send(jobResource(job));
        },
      );
    });
  };
