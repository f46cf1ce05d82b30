import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { getOperationAST, GraphQLError, type DocumentNode, type ExecutionResult } from 'graphql';
import { useGraphQlJit } from '@envelop/graphql-jit';
import {
  createYoga,
  handleStreamOrSingleExecutionResult,
  isAsyncIterable,
  type Plugin,
  type YogaServerInstance,
} from 'graphql-yoga';
import { presentedApiKey } from '../auth/authenticate.js';
import type { AuthContext } from '../auth/context.js';
import type { GraphQLLimits } from '../config.js';
import { databaseUnavailable } from '../db/unavailable.js';
import { DomainError } from '../core/errors.js';
import type { Services } from '../services.js';
import type { LiveEvents } from '../features/events/live.js';
import type { GraphQLContext } from './builder.js';
import { renderGraphiQLInWorker } from './graphiql.js';
import { documentLimits, queryTimeout, type costControl } from './limits.js';
import { schema } from './schema.js';
import { sharedSubscriptionExecution } from './shared-subscriptions.js';

/** A graphql-ws connection, authenticated by its connectionParams when it opened. */
export type SocketSession = { auth: AuthContext; apiKey: string; correlationId: string };

/** What reaches Yoga: an HTTP request through Fastify, or an operation on a websocket. */
export type ServerContext = { req: FastifyRequest; reply: FastifyReply } | { session: SocketSession };

/** An operation's envelop pipeline (Yoga's getEnveloped), for the transports that run operations themselves. */
export type Enveloped = ReturnType<YogaServerInstance<ServerContext, GraphQLContext>['getEnveloped']>;

/**
 * Parses and validates an operation with the pipeline's rules, for graphql-ws and graphql-sse's
 * single-connection mode. GraphQL Armor's rules throw their refusal instead of returning it:
 * either way, a refusal comes back as errors (uncaught, graphql-ws would close the socket with 4500).
 */
export function parseAndValidate(
  enveloped: Enveloped,
  query: string,
): { document: DocumentNode } | { errors: readonly GraphQLError[] } {
  try {
    const document = enveloped.parse(query);
    const errors = enveloped.validate(enveloped.schema, document);
    return errors.length ? { errors } : { document };
  } catch (error) {
    if (error instanceof GraphQLError) return { errors: [error] };
    throw error;
  }
}

export type GraphQLGuards = { limits: GraphQLLimits; cost: ReturnType<typeof costControl> };

export function createGraphQLServer(
  services: Services,
  live: LiveEvents,
  logger: FastifyBaseLogger,
  { limits, cost }: GraphQLGuards,
) {
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    logging: logger,
    // Errors are mapped by errorCodes() below, which masks what is not a domain error.
    maskedErrors: false,
    // GraphiQL's scripts and styles inlined, so it also works where the browser has no internet.
    renderGraphiQL: renderGraphiQLInWorker,
    graphiql: {
      title: 'Nilo gateway',
      defaultQuery:
        '# Set the header {"Authorization": "Bearer nilo_ak_..."} below, then run:\n{\n  viewer { application { id name } tenant { id name features } }\n}\n',
    },
    context: (server) => {
      if ('session' in server) {
        const { auth, apiKey, correlationId } = server.session;
        return {
          services,
          live,
          auth,
          correlationId,
          reauthenticate: () => services.authenticate(apiKey, correlationId),
        };
      }
      const { req } = server;
      return {
        services,
        live,
        auth: req.auth ?? null,
        authError: req.authError,
        correlationId: req.id,
        reauthenticate: () => services.authenticate(presentedApiKey(req.headers), req.id),
      };
    },
    plugins: [
      ...documentLimits(limits),
      // Before errorCodes: a refusal ends the operation before errorCodes hooks into its execution.
      cost.plugin,
      errorCodes(logger),
      sharedSubscriptionExecution((result, context) => withCodedErrors(result, context.correlationId, logger)),
      closeUnservedStreams(),
      // Queries are compiled once per document; subscriptions keep the shared execution above.
      useGraphQlJit(
        {},
        {
          enableIf: (args) => getOperationAST(args.document, args.operationName)?.operation === 'query',
          onError: (result) => logger.error({ errors: result.errors }, 'graphql-jit could not compile an operation'),
        },
      ),
      queryTimeout(limits.timeoutMs),
    ],
  });
}

/**
 * Gives every GraphQL error the REST problem `code` and the request's correlationId in
 * `extensions`; unexpected errors are logged and replaced by a masked internal_error. Hooked into
 * execution itself, so it covers HTTP results and each event of a stream alike (subscriptions
 * call withCodedErrors through sharedSubscriptionExecution, which executes their events).
 */
function errorCodes(logger: FastifyBaseLogger): Plugin<GraphQLContext, ServerContext> {
  return {
    onExecute: () => ({
      onExecuteDone: (payload) =>
        handleStreamOrSingleExecutionResult(payload, ({ args, result, setResult }) => {
          // No @defer/@stream here: a result is never incremental.
          if (result.errors?.length)
            setResult(
              withCodedErrors(result as ExecutionResult, (args.contextValue as GraphQLContext).correlationId, logger),
            );
        }),
    }),
    // Requests refused before execution (parse and validation errors) have no execution context.
    onResultProcess({ result, setResult, serverContext }) {
      if (!('req' in serverContext) || Array.isArray(result) || Symbol.asyncIterator in (result as object)) return;
      const coded = withCorrelatedErrors(result as ExecutionResult, serverContext.req.id, logger);
      if (coded !== result) setResult(coded);
    },
  };
}

/** The result with each error that has no correlationId yet coded (the same result when none lacks it). */
export function withCorrelatedErrors(
  result: ExecutionResult,
  correlationId: string,
  logger: FastifyBaseLogger,
): ExecutionResult {
  if (!result.errors?.some((e) => e.extensions?.correlationId === undefined)) return result;
  return {
    ...result,
    errors: result.errors.map((e) =>
      e.extensions?.correlationId === undefined ? toCodedError(e, correlationId, logger) : e,
    ),
  };
}

/**
 * Yoga answers 406 to a subscription over HTTP that accepts neither SSE nor multipart, but only
 * after executing it: the stream it opened (live when opened, see events/live.ts) is closed here.
 */
function closeUnservedStreams(): Plugin<GraphQLContext, ServerContext> {
  return {
    onResultProcess({ result, resultProcessor }) {
      if (!resultProcessor && isAsyncIterable(result)) void result[Symbol.asyncIterator]().return?.();
    },
  };
}

function withCodedErrors(result: ExecutionResult, correlationId: string, logger: FastifyBaseLogger): ExecutionResult {
  return result.errors?.length
    ? { ...result, errors: result.errors.map((e) => toCodedError(e, correlationId, logger)) }
    : result;
}

function toCodedError(error: GraphQLError, correlationId: string, logger: FastifyBaseLogger): GraphQLError {
  const original = databaseUnavailable(error.originalError, logger) ?? error.originalError;
  const at = { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path };
  if (original instanceof DomainError) {
    return new GraphQLError(original.message, {
      ...at,
      extensions: {
        code: original.code,
        status: original.status,
        correlationId,
        ...(original.errors ? { errors: original.errors } : {}),
      },
    });
  }
  if (original && !(original instanceof GraphQLError)) {
    logger.error({ err: original, correlationId, path: error.path }, 'unexpected error in GraphQL resolver');
    return new GraphQLError('Unexpected error.', {
      ...at,
      extensions: { code: 'internal_error', status: 500, correlationId },
    });
  }
  // Parse, validation and variable errors from graphql-js itself: the client's request is wrong.
  return new GraphQLError(error.message, {
    ...at,
    // yoga's own codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, …) give way to the REST one.
    extensions: { ...error.extensions, code: 'invalid_request', correlationId },
  });
}
