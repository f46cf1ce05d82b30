import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { getOperationAST, parse, type ExecutionResult, type OperationTypeNode } from 'graphql';
import { processRegularResult } from 'graphql-yoga';
import { presentedApiKey } from '../auth/authenticate.js';
import { DomainError } from '../core/errors.js';
import { parseJsonParameter } from '../http/input.js';
import type { Services } from '../services.js';
import type { LiveEvents } from '../features/events/live.js';
import { singleConnectionSse } from './sse.js';
import { createGraphQLServer, parseAndValidate, withCorrelatedErrors, type GraphQLGuards } from './yoga.js';

/**
 * /graphql over HTTP (and GraphiQL in a browser), in Fastify's pipeline so hooks apply: Yoga, plus
 * graphql-sse's single-connection mode (sse.ts) for PUT, DELETE and requests with a stream token.
 */
export async function graphqlRoutes(app: FastifyInstance, services: Services, live: LiveEvents, guards: GraphQLGuards) {
  const yoga = createGraphQLServer(services, live, app.log, guards);
  const sse = singleConnectionSse(yoga);
  const operationKinds = new Map<string, OperationKind>();
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
    config: { sideEffects: (request) => isMutationRequest(request.body, operationKinds) },
    schema: { hide: true }, // described by schema.graphql and introspection, not by OpenAPI
    // A GET's variables are JSON in the URL: the body's rules (depth, exact numbers, storable text) apply to them too.
    preValidation: async (req) => {
      if (req.method !== 'GET') return;
      const params = req.query as Record<string, unknown>;
      for (const name of ['variables', 'extensions'])
        if (typeof params[name] === 'string') parseJsonParameter(name, params[name]);
    },
    handler: async (req, reply) => {
      if (sse.handles(req)) return sse.handle(req, reply);
      const plain = await plainQuery(req, reply);
      if (typeof plain === 'string') return reply.type('application/json; charset=utf-8').send(plain);
      const response = plain ?? (await yoga.handleNodeRequestAndResponse(req, reply, { req, reply }));
      response.headers.forEach((value, key) => reply.header(key, value));
      reply.status(response.status);
      const streaming = /text\/event-stream|multipart\/mixed/.test(response.headers.get('content-type') ?? '');
      if (streaming && response.body)
        return reply.send(Readable.from(response.body as unknown as AsyncIterable<Uint8Array>));
      return reply.send(await response.text());
    },
  });

  /**
   * The common request, a query or mutation POSTed as JSON with no Origin (no CORS) and a JSON answer, runs on
   * Yoga's envelop directly: the same parse and validation caches, plugins (document limits, cost,
   * error codes, graphql-jit, timeout) and result processing, without Yoga's fetch-API request
   * pipeline, which built a Request per operation and cost a quarter of a contacts page's CPU
   * (bench/README.md). Anything else, or a document that does not parse, validate or is a
   * subscription, goes to Yoga (undefined), which answers it as before. A result without errors is answered as
   * Yoga answers it, 200 with its JSON (a string here); one with errors through Yoga's result
   * processing (its status and body rules).
   */
  async function plainQuery(req: FastifyRequest, reply: FastifyReply): Promise<string | Response | undefined> {
    const params = plainQueryParams(req);
    if (!params) return undefined;
    const enveloped = yoga.getEnveloped({ req, reply });
    const parsed = parseAndValidate(enveloped, params.query);
    if ('errors' in parsed) return undefined;
    const kind = getOperationAST(parsed.document, params.operationName)?.operation;
    if (kind !== 'query' && kind !== 'mutation') return undefined;
    const contextValue = await enveloped.contextFactory();
    const result = await enveloped.execute({
      schema: enveloped.schema,
      document: parsed.document,
      contextValue,
      variableValues: params.variables,
      operationName: params.operationName,
    });
    if (Symbol.asyncIterator in result) return processRegularResult(result, yoga.fetchAPI, 'application/json');
    const single = result as ExecutionResult & { stringify?: (result: ExecutionResult) => string };
    if (!single.errors?.length && !single.extensions?.http) return (single.stringify ?? JSON.stringify)(single);
    return processRegularResult(withCorrelatedErrors(single, req.id, app.log), yoga.fetchAPI, 'application/json');
  }

  return yoga;
}

const PLAIN_PARAMS = new Set(['query', 'variables', 'operationName']);

/**
 * The operation of a POST that Yoga would answer with plain JSON and nothing else: a JSON object
 * body of query, variables and operationName only, well typed; no query string, no Origin, and
 * an Accept that takes JSON. Undefined otherwise (Yoga checks and answers those).
 */
function plainQueryParams(
  req: FastifyRequest,
): { query: string; variables?: Record<string, unknown>; operationName?: string } | undefined {
  const { body, headers } = req;
  if (req.method !== 'POST' || headers.origin !== undefined || !acceptsPlainJson(headers.accept)) return undefined;
  if (!body || typeof body !== 'object' || Array.isArray(body) || req.url !== '/graphql') return undefined;
  const { query, variables, operationName } = body as Record<string, unknown>;
  if (!Object.keys(body).every((key) => PLAIN_PARAMS.has(key)) || typeof query !== 'string') return undefined;
  if (variables != null && (typeof variables !== 'object' || Array.isArray(variables))) return undefined;
  if (operationName != null && typeof operationName !== 'string') return undefined;
  return {
    query,
    variables: (variables ?? undefined) as Record<string, unknown> | undefined,
    operationName: operationName ?? undefined,
  };
}

function acceptsPlainJson(accept: string | undefined): boolean {
  return accept === undefined || accept === '*/*' || accept === 'application/json';
}

type OperationKind = OperationTypeNode | undefined;
/** Distinct documents whose operation kind is remembered; past it the memo starts afresh. */
const MAX_REMEMBERED_DOCUMENTS = 1000;

/**
 * Whether a GraphQL request body runs a mutation; an unparseable one is left to GraphQL to refuse.
 * Clients send the same few documents over and over: each is parsed once (`kinds`).
 */
function isMutationRequest(body: unknown, kinds: Map<string, OperationKind>): boolean {
  if (!body || typeof body !== 'object') return false;
  const { query, operationName } = body as { query?: unknown; operationName?: unknown };
  if (typeof query !== 'string') return false;
  const name = typeof operationName === 'string' ? operationName : undefined;
  const memo = `${name ?? ''} ${query}`;
  if (!kinds.has(memo)) {
    if (kinds.size >= MAX_REMEMBERED_DOCUMENTS) kinds.clear();
    kinds.set(memo, operationKind(query, name));
  }
  return kinds.get(memo) === 'mutation';
}

function operationKind(query: string, operationName: string | undefined): OperationKind {
  try {
    return getOperationAST(parse(query), operationName)?.operation;
  } catch {
    return undefined;
  }
}
