import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import {
  createHandler,
  TOKEN_HEADER_KEY,
  TOKEN_QUERY_KEY,
  type OperationArgs,
  type Request as SseRequest,
  type Response as SseResponse,
} from 'graphql-sse';
import type { YogaServerInstance } from 'graphql-yoga';
import type { GraphQLContext } from './builder.js';
import { parseAndValidate, type Enveloped, type ServerContext } from './yoga.js';

type Context = { req: FastifyRequest; reply: FastifyReply };

/** A reserved stream that no GET has opened within this time is dropped. */
const UNCONNECTED_STREAM_MS = 60_000;

/**
 * graphql-sse's single-connection mode on /graphql: `PUT` reserves a stream and answers its token,
 * `POST` with the token (header `x-graphql-event-stream-token`) starts an operation whose results
 * go to the stream, `GET` with the token is the stream itself, `DELETE ?operationId=` stops one.
 * Distinct-connections mode (one stream per operation, `Accept: text/event-stream`) stays with
 * Yoga. Every operation runs through Yoga's envelop pipeline with the context of the HTTP request
 * that posted it, so it gets the same key, limits, cost charge and error codes as over plain HTTP.
 * A stream belongs to the application whose key reserved it: with another key (or none), its token
 * is not found.
 */
export function singleConnectionSse(yoga: YogaServerInstance<ServerContext, GraphQLContext>) {
  const owners = new Map<string, string>();
  const openStreams = new Set<AsyncGenerator<string>>();
  const operations = new WeakMap<ExecutionArgs, Enveloped>();
  type Args = OperationArgs<GraphQLContext & Record<PropertyKey, unknown>>;
  /** Tokens whose stream a GET holds open. */
  const connected = new Set<string>();

  const handler = createHandler<unknown, Context, Args['contextValue']>({
    authenticate(req) {
      const auth = req.context.req.auth;
      if (req.method === 'PUT') {
        if (!auth)
          return json(401, {
            errors: [
              {
                message: 'Reserving a stream needs a valid API key (Authorization: Bearer nilo_ak_…).',
                extensions: { code: 'unauthorized' },
              },
            ],
          });
        const token = randomUUID();
        owners.set(token, auth.applicationId);
        // A reservation nobody connects to would stay in graphql-sse's registry: open and close it.
        setTimeout(() => {
          if (owners.get(token) === auth.applicationId && !connected.has(token)) void drop(token, req.context);
        }, UNCONNECTED_STREAM_MS).unref();
        return token;
      }
      const token = tokenOf(req.headers.get(TOKEN_HEADER_KEY) ?? null, req.url);
      if (!token || !auth || owners.get(token) !== auth.applicationId)
        return json(404, { errors: [{ message: 'Stream not found' }] });
      return token;
    },
    async onSubscribe(req, params) {
      const { req: request, reply } = req.context;
      const enveloped = yoga.getEnveloped({ req: request, reply });
      const parsed = parseAndValidate(enveloped, params.query);
      if (!('document' in parsed)) return refused(parsed.errors, request.id);
      const args: Args = {
        schema: enveloped.schema,
        document: parsed.document,
        operationName: params.operationName,
        variableValues: params.variables,
        contextValue: (await enveloped.contextFactory()) as Args['contextValue'],
      };
      operations.set(args, enveloped);
      return args;
    },
    // onSubscribe validated with the pipeline's rules already.
    validate: () => [],
    execute: (args) => operations.get(args)!.execute(args),
    subscribe: (args) =>
      operations.get(args)!.subscribe(args) as Promise<AsyncGenerator<ExecutionResult> | ExecutionResult>,
  });

  /** Opens the stream of `token` and closes it at once, which removes it from graphql-sse. */
  async function drop(token: string, context: Context) {
    const [body] = await handler(sseRequest('GET', context, token));
    owners.delete(token);
    if (isStream(body)) await body.return(undefined);
  }

  return {
    /** Whether a request to /graphql belongs to single-connection mode (the rest is Yoga's). */
    handles(request: FastifyRequest): boolean {
      return (
        request.method === 'PUT' ||
        request.method === 'DELETE' ||
        tokenOf(headerValue(request.headers[TOKEN_HEADER_KEY]), request.url) !== undefined
      );
    },

    async handle(req: FastifyRequest, reply: FastifyReply) {
      const token = req.method === 'GET' ? tokenOf(headerValue(req.headers[TOKEN_HEADER_KEY]), req.url) : undefined;
      const [body, init] = await handler(sseRequest(req.method, { req, reply }));
      reply.status(init?.status ?? 200);
      // "content-encoding: none" is not a coding; event streams are never compressed here anyway.
      for (const [name, value] of Object.entries(init?.headers ?? {}))
        if (name !== 'content-encoding') reply.header(name, value);
      if (!isStream(body)) return reply.send(body ?? undefined);
      if (token) connected.add(token);
      openStreams.add(body);
      reply.raw.once('close', () => {
        openStreams.delete(body);
        if (token) {
          connected.delete(token);
          owners.delete(token);
        }
      });
      // Destroyed when the client goes away, which returns the generator and ends its operations.
      return reply.send(Readable.from(body));
    },

    /** Ends every open stream, so the server can close (clients reconnect elsewhere). */
    async close() {
      await Promise.all([...openStreams].map((stream) => stream.return(undefined)));
    },
  };
}

function sseRequest(method: string, context: Context, token?: string): SseRequest<unknown, Context> {
  const { req } = context;
  const headers = token ? { ...req.headers, [TOKEN_HEADER_KEY]: token, accept: 'text/event-stream' } : req.headers;
  return {
    method,
    url: req.url,
    headers: { get: (name: string) => headerValue(headers[name.toLowerCase()]) },
    body: (req.body as Record<string, unknown> | undefined) ?? null,
    raw: req,
    context,
  };
}

/** The stream token, from the header or (for EventSource, which sends no headers) the query. */
function tokenOf(header: string | null, url: string): string | undefined {
  return header ?? new URL(url, 'http://localhost').searchParams.get(TOKEN_QUERY_KEY) ?? undefined;
}

function headerValue(value: string | string[] | undefined): string | null {
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

function isStream(body: unknown): body is AsyncGenerator<string> {
  return typeof body === 'object' && body !== null && Symbol.asyncIterator in body;
}

/**
 * A document that does not parse or validate, coded as over plain HTTP (the client's request is
 * wrong) and sent to the stream; graphql-sse takes a result for one only with a `data` member.
 */
function refused(errors: readonly GraphQLError[], correlationId: string): ExecutionResult {
  return {
    data: null,
    errors: errors.map(
      (error) =>
        new GraphQLError(error.message, {
          nodes: error.nodes,
          source: error.source,
          positions: error.positions,
          extensions: { ...error.extensions, code: 'invalid_request', correlationId },
        }),
    ),
  };
}

function json(status: number, body: unknown): SseResponse {
  return [
    JSON.stringify(body),
    { status, statusText: '', headers: { 'content-type': 'application/json; charset=utf-8' } },
  ];
}
