import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { GraphQLError, type ExecutionResult } from 'graphql';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { createYoga, type Plugin } from 'graphql-yoga';
import { DomainError } from '../domain/errors.js';
import type { Services } from '../domain/index.js';
import type { GraphQLContext } from './builder.js';
import { schema } from './schema/index.js';

export type ServerContext = { req: FastifyRequest; reply: FastifyReply };

export function createGraphQLServer(services: Services, logger: FastifyBaseLogger) {
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: '/graphql',
    logging: logger,
    // Errors are mapped by errorCodes() below, which masks what is not a domain error.
    maskedErrors: false,
    // GraphiQL's scripts and styles inlined, so it also works where the browser has no internet.
    renderGraphiQL,
    graphiql: {
      title: 'Nilo gateway',
      defaultQuery: '# Set the header {"Authorization": "Bearer nilo_ak_..."} below, then run:\n{\n  viewer { application { id name } tenant { id name features } }\n}\n',
    },
    context: ({ req }) => ({
      services,
      auth: req.auth ?? null,
      authError: req.authError,
      correlationId: req.id,
    }),
    plugins: [errorCodes(logger)],
  });
}

/**
 * Gives every GraphQL error the REST problem `code` and the request's correlationId in
 * `extensions`; unexpected errors are logged and replaced by a masked internal_error.
 */
function errorCodes(logger: FastifyBaseLogger): Plugin<GraphQLContext, ServerContext> {
  return {
    onResultProcess({ result, setResult, serverContext }) {
      const correlationId = serverContext.req.id;
      const map = (r: ExecutionResult): ExecutionResult =>
        r.errors?.length ? { ...r, errors: r.errors.map((e) => toCodedError(e, correlationId, logger)) } : r;
      if (Array.isArray(result)) setResult(result.map(map));
      else if (!(Symbol.asyncIterator in (result as object))) setResult(map(result as ExecutionResult));
    },
  };
}

function toCodedError(error: GraphQLError, correlationId: string, logger: FastifyBaseLogger): GraphQLError {
  const original = error.originalError;
  const at = { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path };
  if (original instanceof DomainError) {
    return new GraphQLError(original.message, {
      ...at,
      extensions: { code: original.code, status: original.status, correlationId, ...(original.errors ? { errors: original.errors } : {}) },
    });
  }
  if (original && !(original instanceof GraphQLError)) {
    logger.error({ err: original, correlationId, path: error.path }, 'unexpected error in GraphQL resolver');
    return new GraphQLError('Unexpected error.', { ...at, extensions: { code: 'internal_error', status: 500, correlationId } });
  }
  // Parse, validation and variable errors from graphql-js itself: the client's request is wrong.
  return new GraphQLError(error.message, {
    ...at,
    // yoga's own codes (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, …) give way to the REST one.
    extensions: { ...error.extensions, code: 'invalid_request', correlationId },
  });
}
