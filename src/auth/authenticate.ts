import type { PrismaClient } from '../generated/prisma/client.js';
import { UnauthorizedError } from '../core/errors.js';
import type { AuthContext } from './context.js';
import { API_KEY_PREFIX, hashKey, isWellFormedKey } from './keys.js';

/** Admin changes to keys and features are announced on this channel, with the tenant id. */

/** lastUsedAt is a hint for operators; writing it at most once a minute keeps reads read-only. */
const LAST_USED_RESOLUTION_MS = 60_000;
/** Bounds staleness should a change notification be lost; changes normally apply at once. */
const CACHE_TTL_MS = 30_000;
const CACHE_MAX_ENTRIES = 10_000;

type CachedKey = {
  keyId: string;
  identity: Omit<AuthContext, 'correlationId'>;
  cachedAt: number;
  lastUsedAt: number;
};

/**
 * Resolves API keys, remembering active ones so most requests need no query. Entries of a
 * tenant are forgotten when an admin change is announced (forgetTenant) in this or any process.
 */
export function authenticator(prisma: PrismaClient) {
  const cache = new Map<string, CachedKey>();
  // Concurrent lookups of one key (say, every subscription of a tenant after a change) share a query.
  const lookups = new Map<string, Promise<CachedKey | null>>();
  const changeListeners = new Set<(tenantId: string | null) => void>();
  // Bumped by every forget: a lookup that overlapped a change must not cache what it read.
  let generation = 0;

  async function lookup(hash: string): Promise<CachedKey | null> {
    const key = await prisma.apiKey.findUnique({
      where: { hash },
      select: {
        id: true,
        status: true,
        lastUsedAt: true,
        application: { select: { id: true, name: true } },
        tenant: { select: { id: true, features: true } },
      },
    });
    if (key?.status !== 'active') return null;
    return {
      keyId: key.id,
      identity: {
        tenantId: key.tenant.id,
        applicationId: key.application.id,
        applicationName: key.application.name,
        features: key.tenant.features,
      },
      cachedAt: Date.now(),
      lastUsedAt: key.lastUsedAt?.getTime() ?? 0,
    };
  }

  return {
    async authenticate(presentedKey: string | undefined, correlationId: string): Promise<AuthContext> {
      if (!presentedKey) throw new UnauthorizedError();
      if (!isWellFormedKey(API_KEY_PREFIX, presentedKey)) throw new UnauthorizedError('The API key is malformed.');
      const hash = hashKey(presentedKey);
      const now = Date.now();
      let entry = cache.get(hash);
      if (!entry || now - entry.cachedAt > CACHE_TTL_MS) {
        const startedAt = generation;
        let pending = lookups.get(hash);
        if (!pending) {
          pending = lookup(hash).finally(() => {
            if (lookups.get(hash) === pending) lookups.delete(hash);
          });
          lookups.set(hash, pending);
        }
        entry = (await pending) ?? undefined;
        if (!entry) {
          cache.delete(hash);
          throw new UnauthorizedError('The API key is unknown or revoked.');
        }
        if (startedAt === generation) remember(hash, entry);
      }
      if (now - entry.lastUsedAt > LAST_USED_RESOLUTION_MS) {
        entry.lastUsedAt = now;
        // Fire and forget: a lost timestamp update must never fail the request.
        prisma.apiKey.update({ where: { id: entry.keyId }, data: { lastUsedAt: new Date(now) } }).catch(() => {});
      }
      return { ...entry.identity, correlationId };
    },

    /** A tenant's keys or features changed: look them up again. Null tenant: forget everything. */
    forget(tenantId: string | null): void {
      generation++;
      lookups.clear();
      for (const [hash, entry] of cache) {
        if (tenantId === null || entry.identity.tenantId === tenantId) cache.delete(hash);
      }
      for (const listener of changeListeners) listener(tenantId);
    },

    /** Tells long-lived sessions (subscriptions) to check their key again; returns the unsubscriber. */
    onChange(listener: (tenantId: string | null) => void): () => void {
      changeListeners.add(listener);
      return () => changeListeners.delete(listener);
    },
  };

  function remember(hash: string, entry: CachedKey) {
    if (cache.size >= CACHE_MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(hash, entry);
  }
}

/** The key from `Authorization: Bearer …` or `X-API-Key: …`. */
export function presentedApiKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    return match ? match[1] : authorization;
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' ? apiKey.trim() : undefined;
}
