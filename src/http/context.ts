import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { AuthContext } from '../auth/context.js';
import type { DomainError } from '../core/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on /api/v1 (always) and /graphql (when a key is presented). */
    auth?: AuthContext;
    /** Why a key presented to /graphql was refused; GraphQL reports it on the fields that need auth. */
    authError?: DomainError;
    /** The Idempotency-Key this request claimed, completed when its response is sent. */
    idempotencyKey?: string;
  }
}

const CORRELATION_ID_PATTERN = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Fastify's request id is the correlation id: the client's X-Correlation-Id when sensible, else a new UUID. */
export function correlationIdOf(req: IncomingMessage): string {
  const given = req.headers['x-correlation-id'];
  return typeof given === 'string' && CORRELATION_ID_PATTERN.test(given) ? given : randomUUID();
}
