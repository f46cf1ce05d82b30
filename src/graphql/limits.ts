import { blockFieldSuggestionsPlugin } from '@escape.tech/graphql-armor-block-field-suggestions';
import { maxAliasesPlugin } from '@escape.tech/graphql-armor-max-aliases';
import { maxDepthPlugin } from '@escape.tech/graphql-armor-max-depth';
import { maxDirectivesPlugin } from '@escape.tech/graphql-armor-max-directives';
import { maxTokensPlugin } from '@escape.tech/graphql-armor-max-tokens';
import type { Plugin as EnvelopPlugin } from '@envelop/core';
import type { FastifyReply } from 'fastify';
import {
  getOperationAST,
  GraphQLError,
  NoSchemaIntrospectionCustomRule,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { GraphQLLimits } from '../config.js';
import { DomainError } from '../core/errors.js';
import type { BudgetState, RateLimiter } from '../http/rate-limit.js';
import type { GraphQLContext } from './builder.js';
import { operationCost } from './cost.js';
import type { ServerContext } from './yoga.js';

/** What an operation cost and what its application has left: the response's `extensions.cost`. */
export type OperationCost = {
  /** The static cost (see cost.ts): the nodes the operation's page sizes can return. */
  requested: number;
  /** Rate-limit points taken for the operation: 1 + ⌊requested / 100⌋ (0 without a valid key). */
  charged: number;
  /** Points left in the application's budget this minute (null without a valid key). */
  remaining: number | null;
};

/** Each full 100 of cost takes one more point than the request's own (GitHub charges cost / 100). */
export const COST_PER_POINT = 100;

export class QueryTooCostlyError extends DomainError {
  constructor(cost: number, limit: number) {
    super(
      400,
      'query_too_costly',
      'Query too costly',
      `This operation costs ${cost} (the nodes its page sizes can return, nested connections multiplied); the limit is ${limit}. Ask for smaller pages or fewer nested connections.`,
    );
  }
}

export class OperationTimeoutError extends DomainError {
  constructor(timeoutMs: number) {
    super(
      504,
      'timeout',
      'Timeout',
      `The query ran longer than ${timeoutMs / 1000} s and was stopped; ask for less at once.`,
    );
  }
}

/**
 * GraphQL Armor's checks, which stop abusive documents while they are parsed (tokens) and validated
 * (aliases, depth, directives), before any cost is computed or anything runs; plus introspection
 * off and "Did you mean …" suggestions hidden when configured so.
 */
export function documentLimits(limits: GraphQLLimits): EnvelopPlugin[] {
  return [
    maxTokensPlugin({ n: limits.maxTokens }),
    maxAliasesPlugin({ n: limits.maxAliases }),
    // Fragments add no depth of their own: the depth is that of the response.
    maxDepthPlugin({ n: limits.maxDepth, flattenFragments: true }),
    maxDirectivesPlugin({ n: limits.maxDirectives }),
    ...(limits.fieldSuggestions ? [] : [blockFieldSuggestionsPlugin()]),
    ...(limits.introspection
      ? []
      : [
          {
            onValidate: ({ addValidationRule }) => addValidationRule(NoSchemaIntrospectionCustomRule),
          } satisfies EnvelopPlugin,
        ]),
  ];
}

/**
 * Admits an operation before it executes: its page sizes must follow the shared rule and its cost
 * must not exceed GRAPHQL_MAX_COST; then the cost is charged to the application's rate budget.
 * Over HTTP the request already took its first point (rest/rate-limit.ts), so the cost adds
 * ⌊cost / 100⌋; a websocket operation takes 1 + ⌊cost / 100⌋ when it is subscribed.
 */
export function costControl(limits: GraphQLLimits, limiter: RateLimiter) {
  async function admit(
    args: ExecutionArgs,
    http?: { reply: FastifyReply; firstPoint?: BudgetState },
  ): Promise<OperationCost> {
    const requested = operationCost(args.schema, args.document, args.operationName, args.variableValues);
    if (requested > limits.maxCost) throw new QueryTooCostlyError(requested, limits.maxCost);
    const { auth } = args.contextValue as GraphQLContext;
    if (!auth) return { requested, charged: 0, remaining: null };
    const extra = Math.floor(requested / COST_PER_POINT);
    if (http?.firstPoint) {
      const state = extra ? await limiter.application.consume(auth.applicationId, extra, http.reply) : http.firstPoint;
      return { requested, charged: 1 + extra, remaining: state.remaining };
    }
    const state = await limiter.application.consume(auth.applicationId, 1 + extra);
    return { requested, charged: 1 + extra, remaining: state.remaining };
  }

  /** Admits HTTP operations (websocket ones are admitted when subscribed, see websocket.ts) and reports the cost in `extensions`. */
  const plugin: Plugin<GraphQLContext, ServerContext> = {
    async onExecute({ args, setResultAndStopExecution }) {
      const refusal = await admitOnce(args);
      if (refusal) return setResultAndStopExecution(refusal);
      const { cost } = args.contextValue;
      return {
        onExecuteDone: ({ result, setResult }) => {
          if (!isAsyncIterable(result) && cost) setResult({ ...result, extensions: { ...result.extensions, cost } });
        },
      };
    },
    async onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = await admitOnce(args);
      if (refusal) setResultAndStopExecution(refusal);
    },
  };

  async function admitOnce(args: ExecutionArgs): Promise<ExecutionResult | undefined> {
    const context = args.contextValue as GraphQLContext & { req?: { rateLimit?: BudgetState }; reply?: FastifyReply };
    if (context.cost) return undefined;
    try {
      context.cost = await admit(
        args,
        context.reply ? { reply: context.reply, firstPoint: context.req?.rateLimit } : undefined,
      );
      return undefined;
    } catch (error) {
      if (error instanceof DomainError)
        return { errors: [refusalError(error, context.correlationId, { http: Boolean(context.reply) })] };
      throw error;
    }
  }

  return { admit, plugin };
}

/** A refusal before execution in its final form; over HTTP (`http`), Yoga answers with its status. */
export function refusalError(error: DomainError, correlationId: string, options: { http: boolean }): GraphQLError {
  const extensions = { code: error.code, status: error.status, correlationId };
  return new GraphQLError(error.message, {
    extensions: options.http ? { ...extensions, http: { status: error.status } } : extensions,
  });
}

/**
 * A query still executing after GRAPHQL_TIMEOUT is answered with 504 `timeout`; its context's
 * signal is aborted, so no field that reaches the database starts afterwards (authOf checks it),
 * and PostgreSQL ends a statement still running at DATABASE_STATEMENT_TIMEOUT. Mutations run to
 * their end: a write commits or not, and cutting its answer would leave the client unsure which.
 * Wraps the execute function that is set (graphql-jit's), so it must come after that plugin.
 */
export function queryTimeout(timeoutMs: number): Plugin<GraphQLContext> {
  return {
    onExecute({ args, executeFn, setExecuteFn }) {
      if (getOperationAST(args.document, args.operationName)?.operation !== 'query') return;
      setExecuteFn((executionArgs) => {
        const controller = new AbortController();
        (executionArgs.contextValue as GraphQLContext).signal = controller.signal;
        let timer: NodeJS.Timeout | undefined;
        const timedOut = new Promise<ExecutionResult>((resolve) => {
          timer = setTimeout(() => {
            const error = new OperationTimeoutError(timeoutMs);
            controller.abort(error);
            resolve({
              data: null,
              errors: [new GraphQLError(error.message, { originalError: error })],
              extensions: { http: { status: error.status } },
            });
          }, timeoutMs);
        });
        return Promise.race([Promise.resolve(executeFn(executionArgs)), timedOut]).finally(() => clearTimeout(timer));
      });
    },
  };
}
