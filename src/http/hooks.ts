import type { FastifyInstance, FastifyRequest } from 'fastify';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Whether this request can change anything; a route that may only read says false (GraphQL queries). */
    sideEffects?: (request: FastifyRequest) => boolean;
  }
}
import { presentedApiKey } from '../auth/authenticate.js';
import { requestFingerprint } from './idempotency.js';
import type { Services } from '../services.js';

/** Resolves the API key into request.auth before the body is even read: 401 comes first. */
export function requireApiKey(app: FastifyInstance, services: Services): void {
  app.addHook('onRequest', async (request) => {
    request.auth = await services.authenticate(presentedApiKey(request.headers), request.id);
  });
}

const SIDE_EFFECTING = new Set(['POST', 'PATCH', 'DELETE', 'PUT']);
const REPLAYED_HEADERS = ['content-type', 'location'];

/**
 * Idempotency-Key for every authenticated side-effecting request, REST and GraphQL alike:
 * the first response is stored and replayed for the same key and request.
 */
export function idempotency(app: FastifyInstance, services: Services): void {
  app.addHook('preHandler', async (request, reply) => {
    const key = request.headers['idempotency-key'];
    if (typeof key !== 'string' || !request.auth || !SIDE_EFFECTING.has(request.method)) return;
    if (request.routeOptions.config.sideEffects?.(request) === false) return;
    const hash = requestFingerprint([request.method, pathOf(request), request.body ?? null]);
    const { replay } = await services.idempotency.begin(request.auth.applicationId, key, hash);
    if (replay) {
      return reply
        .code(replay.statusCode)
        .headers(replay.headers)
        .header('idempotent-replayed', 'true')
        .send(replay.body);
    }
    request.idempotencyKey = key;
  });

  app.addHook('onSend', async (request, reply, payload) => {
    const key = request.idempotencyKey;
    if (!key || !request.auth) return payload;
    request.idempotencyKey = undefined;
    if (reply.statusCode >= 500) {
      await services.idempotency.release(request.auth.applicationId, key);
      return payload;
    }
    const headers = Object.fromEntries(
      REPLAYED_HEADERS.flatMap((name) => {
        const value = reply.getHeader(name);
        return value === undefined ? [] : [[name, String(value)]];
      }),
    );
    await services.idempotency.complete(request.auth.applicationId, key, {
      statusCode: reply.statusCode,
      headers,
      body: typeof payload === 'string' ? payload : '',
    });
    return payload;
  });
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0]!;
}
