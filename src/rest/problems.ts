import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
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
 * Sends an error in the caller's protocol: problem details, or for a GraphQL request to /graphql
 * (an idempotency conflict, a JSON body refused before GraphQL runs) a GraphQL error body that
 * GraphQL clients read. A body in another media type (415) is no GraphQL request: problem details.
 */
export function sendProblem(reply: FastifyReply, body: Problem): FastifyReply {
  reply.code(body.status);
  if (body.status === 401) reply.header('www-authenticate', 'Bearer');
  if (reply.request.routeOptions.url === '/graphql' && body.code !== 'unsupported_media_type') {
    const { detail: message, code, status, correlationId, errors } = body;
    return reply.type('application/json').send({ errors: [{ message, extensions: { code, status, correlationId, ...(errors ? { errors } : {}) } }] });
  }
  return reply.type('application/problem+json').send(body);
}

/** What Node's HTTP parser refuses before there is a request to route. */
export function clientErrorProblem(error: NodeJS.ErrnoException, correlationId: string): Problem {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return problem(408, 'request_timeout', 'Request timeout', 'The request headers or body did not arrive in time.', correlationId);
    case 'HPE_HEADER_OVERFLOW':
      return problem(431, 'headers_too_large', 'Request header fields too large', 'The request line and headers are larger than this server accepts.', correlationId);
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return problem(400, 'invalid_request', 'Invalid request', 'The Content-Length header is not valid for this request.', correlationId);
    default:
      return problem(400, 'invalid_request', 'Invalid request', 'The request is not valid HTTP/1.1.', correlationId);
  }
}

/**
 * Fastify's clientErrorHandler: the problem written straight to the socket, which is then closed.
 * Like Node's default, nothing is written once a response to this socket has begun.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket, log: FastifyBaseLogger): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const body = clientErrorProblem(error, randomUUID());
  log.debug({ err: error, correlationId: body.correlationId }, 'client error');
  const inFlight = (socket as Socket & { _httpMessage?: ServerResponse | null })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) socket.write(rawProblemResponse(body));
  socket.destroy(error);
}

/** A whole HTTP/1.1 response carrying a problem, for a socket that has no Fastify reply (client errors, upgrades). */
export function rawProblemResponse(body: Problem, headers: Record<string, string | number> = {}): string {
  const json = JSON.stringify(body);
  const more = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return (
    `HTTP/1.1 ${body.status} ${STATUS_CODES[body.status]}\r\n` +
    `Content-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\n` +
    `X-Correlation-Id: ${body.correlationId}\r\n${more}Connection: close\r\n\r\n${json}`
  );
}
