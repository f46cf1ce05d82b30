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

export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  return reply.code(body.status).type('application/problem+json').send(body);
}
