import type { PrismaClient } from '../generated/prisma/client.js';
import { UnauthorizedError } from '../domain/errors.js';
import type { AuthContext } from './context.js';
import { hashApiKey, isWellFormedApiKey } from './keys.js';

/** lastUsedAt is a hint for operators; writing it at most once a minute keeps reads read-only. */
const LAST_USED_RESOLUTION_MS = 60_000;

export function authenticator(prisma: PrismaClient) {
  return async function authenticate(presentedKey: string | undefined, correlationId: string): Promise<AuthContext> {
    if (!presentedKey) throw new UnauthorizedError();
    if (!isWellFormedApiKey(presentedKey)) throw new UnauthorizedError('The API key is malformed.');
    const key = await prisma.apiKey.findUnique({
      where: { hash: hashApiKey(presentedKey) },
      select: {
        id: true,
        status: true,
        lastUsedAt: true,
        application: { select: { id: true, name: true } },
        tenant: { select: { id: true, features: true } },
      },
    });
    if (!key || key.status !== 'active') throw new UnauthorizedError('The API key is unknown or revoked.');
    if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      // Fire and forget: a lost timestamp update must never fail the request.
      prisma.apiKey.update({ where: { id: key.id }, data: { lastUsedAt: new Date() } }).catch(() => {});
    }
    return {
      tenantId: key.tenant.id,
      applicationId: key.application.id,
      applicationName: key.application.name,
      features: key.tenant.features,
      correlationId,
    };
  };
}

/** The key from `Authorization: Bearer …` or `X-API-Key: …`. */
export function presentedApiKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers['authorization'];
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : authorization;
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}
