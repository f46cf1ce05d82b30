import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { getOperationAST, parse } from 'graphql';
import { presentedApiKey } from '../auth/authenticate.js';
import { DomainError } from '../core/errors.js';
import type { Services } from '../services.js';
import type { LiveEvents } from '../features/events/live.js';
import { singleConnectionSse } from './sse.js';
import { createGraphQLServer, type GraphQLGuards } from './yoga.js';

/**
 * /graphql over HTTP (and GraphiQL in a browser), in Fastify's pipeline so hooks apply: Yoga, plus
 * graphql-sse's single-connection mode (sse.ts) for PUT, DELETE and requests with a stream token.
 */
export async function graphqlRoutes(app: FastifyInstance, services: Services, live: LiveEvents, guards: GraphQLGuards) {
  const yoga = createGraphQLServer(services, live, app.log, guards);
  const sse = singleConnectionSse(yoga);
  // Before the server waits for in-flight requests: an open stream would hold it forever.
  app.addHook('preClose', sse.close);

  // Auth is optional here (GraphiQL and introspection need no key); fields that need it
  // report a refused key through authOf().
  app.addHook('onRequest', async (request) => {
    const key = presentedApiKey(request.headers);
    if (key === undefined) return;
    try {
      request.auth = await services.authenticate(key, request.id);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
      request.authError = error;
    }
  });

  app.route({
    url: '/graphql',
    method: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
    // Idempotency-Key is for mutations: a repeated query must read fresh data, not a stored answer.
    config: { sideEffects: (request) => isMutationRequest(request.body) },
    schema: { hide: true }, // described by schema.graphql and introspection, not by OpenAPI
    handler: async (req, reply) => {
      if (sse.handles(req)) return sse.handle(req, reply);
      const response = await yoga.handleNodeRequestAndResponse(req, reply, { req, reply });
      response.headers.forEach((value, key) => reply.header(key, value));
      reply.status(response.status);
      const streaming = /text\/event-stream|multipart\/mixed/.test(response.headers.get('content-type') ?? '');
      if (streaming && response.body)
        return reply.send(Readable.from(response.body as unknown as AsyncIterable<Uint8Array>));
      return reply.send(await response.text());
    },
  });

  return yoga;
}

/** Whether a GraphQL request body runs a mutation; an unparseable one is left to GraphQL to refuse. */
function isMutationRequest(body: unknown): boolean {
  if (!body || typeof body !== 'object') return false;
  const { query, operationName } = body as { query?: unknown; operationName?: unknown };
  if (typeof query !== 'string') return false;
  try {
    const operation = getOperationAST(parse(query), typeof operationName === 'string' ? operationName : undefined);
    return operation?.operation === 'mutation';
  } catch {
    return false;
  }
}
