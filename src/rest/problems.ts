import type { FastifyReply } from 'fastify';
import { DomainError, type FieldError } from '../domain/errors.js';

// RFC 9457 problem details in the Nilo document's shape; `code` and `correlationId` always present.

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  correlationId: string;
  errors?: FieldError[];
};

export function problemFromDomainError(error: DomainError, correlationId: string): Problem {
  return problem(error.status, error.code, error.title, error.message, correlationId, error.errors);
}

export function problem(
  status: number,
  code: string,
  title: string,
  detail: string,
  correlationId: string,
  errors?: FieldError[],
): Problem {
  return {
    type: `https://nilo-assistant.com/problems/${code.replaceAll('_', '-')}`,
    title,
    status,
    detail,
    code,
    correlationId,
    ...(errors?.length ? { errors } : {}),
  };
}

/**
 * Sends an error in the caller's protocol: problem details, or for /graphql (an idempotency
 * conflict, a body refused before GraphQL runs) a GraphQL error body that GraphQL clients read.
 */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  reply.code(body.status);
  if (body.status === 401) reply.header('www-authenticate', 'Bearer');
  if (reply.request.routeOptions.url === '/graphql') {
    const { detail: message, code, status, correlationId, errors } = body;
    return reply.type('application/json').send({ errors: [{ message, extensions: { code, status, correlationId, ...(errors ? { errors } : {}) } }] });
  }
  return reply.type('application/problem+json').send(body);
}
