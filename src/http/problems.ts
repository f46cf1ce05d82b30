import { randomUUID } from 'node:crypto';
import { STATUS_CODES, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import type { DomainError, FieldError } from '../core/errors.js';

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

/** The problems the HTTP layer answers itself, with no DomainError behind them: each code's status and title. */
const HTTP_PROBLEMS = {
  invalid_request: { status: 400, title: 'Invalid request' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  request_timeout: { status: 408, title: 'Request timeout' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  uri_too_long: { status: 414, title: 'URI too long' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  headers_too_large: { status: 431, title: 'Request header fields too large' },
  internal_error: { status: 500, title: 'Internal error' },
} as const;

/** One of the HTTP layer's own problems; `status` only where the framework chose another 4xx for invalid_request. */
export function httpProblem(
  code: keyof typeof HTTP_PROBLEMS,
  detail: string,
  correlationId: string,
  status: number = HTTP_PROBLEMS[code].status,
): Problem {
  return problem(status, code, HTTP_PROBLEMS[code].title, detail, correlationId);
}

export function problemFromDomainError(error: DomainError, correlationId: string): Problem {
  return problem(error.status, error.code, error.title, error.message, correlationId, error.errors);
}

function problem(
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
    return reply
      .type('application/json')
      .send({ errors: [{ message, extensions: { code, status, correlationId, ...(errors ? { errors } : {}) } }] });
  }
  return reply.type('application/problem+json').send(body);
}

/** What Node's HTTP parser refuses before there is a request to route. */
export function clientErrorProblem(error: NodeJS.ErrnoException, correlationId: string): Problem {
  switch (error.code) {
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return httpProblem('request_timeout', 'The request headers or body did not arrive in time.', correlationId);
    case 'HPE_HEADER_OVERFLOW':
      return httpProblem(
        'headers_too_large',
        'The request line and headers are larger than this server accepts.',
        correlationId,
      );
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return httpProblem('invalid_request', 'The Content-Length header is not valid for this request.', correlationId);
    default:
      return httpProblem('invalid_request', 'The request is not valid HTTP/1.1.', correlationId);
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
  const more = Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${body.status} ${STATUS_CODES[body.status]}\r\n` +
    `Content-Type: application/problem+json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\n` +
    `X-Correlation-Id: ${body.correlationId}\r\n${more}Connection: close\r\n\r\n${json}`
  );
}
