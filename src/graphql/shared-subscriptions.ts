import { createSourceEventStream, execute, type DocumentNode, type ExecutionArgs, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './builder.js';

/** What every result of a subscription goes through before it is sent (error codes). */
export type PrepareResult = (result: ExecutionResult, context: GraphQLContext) => ExecutionResult;

type Execution = ExecutionResult | Promise<ExecutionResult>;

/**
 * Executes each subscription event once for all the subscribers that would get the same result.
 *
 * A live event reaches every stream of its tenant as one object, and the result of executing an
 * operation for it depends only on the operation, its variables and who asks. So the first
 * subscriber's execution is remembered on the event, and every subscriber with the same operation,
 * variables, application and features is sent that result: a thousand subscribers selecting
 * `data { … }` cost one database read per event, not a thousand. Events a stream reads from the
 * log (catch-up) are objects of their own and execute per subscriber.
 *
 * Each event is one plain execution, without graphql-tools' incremental-delivery layers (no
 * subscription here defers or streams), which cost a chain of promises per event and subscriber.
 */
export function sharedSubscriptionExecution(prepare: PrepareResult): Plugin<GraphQLContext> {
  return {
    onSubscribe: ({ setSubscribeFn }) => setSubscribeFn((args) => subscribeShared(args, prepare)),
  };
}

const executionsByEvent = new WeakMap<object, Map<string, Execution>>();
const documentIds = new WeakMap<DocumentNode, number>();
let nextDocumentId = 0;

async function subscribeShared(
  args: ExecutionArgs,
  prepare: PrepareResult,
): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const context = args.contextValue as GraphQLContext;
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return prepare(source, context);
  const events = source[Symbol.asyncIterator]();
  const key = sharingKey(args);
  const run = (event: unknown): Execution => {
    const result = execute({ ...args, rootValue: event });
    return result instanceof Promise ? result.then(sendable) : sendable(result);
  };
  const sendable = (result: ExecutionResult) => plain(prepare(result, context));
  const executeFor = (event: unknown): Execution => {
    if (key === null || typeof event !== 'object' || event === null) return run(event);
    let executions = executionsByEvent.get(event);
    if (!executions) executionsByEvent.set(event, (executions = new Map()));
    let execution = executions.get(key);
    if (!execution) executions.set(key, (execution = run(event)));
    return execution;
  };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    [Symbol.asyncIterator]: () => iterator,
    // Without async/await: each of a thousand subscribers passes here per event, so every
    // promise and microtask saved counts.
    next: () =>
      events.next().then((next): IteratorResult<ExecutionResult> | Promise<IteratorResult<ExecutionResult>> => {
        if (next.done) return { done: true, value: undefined };
        const execution = executeFor(next.value);
        return execution instanceof Promise
          ? execution.then((value) => ({ done: false, value }))
          : { done: false, value: execution };
      }),
    return: async () => {
      await events.return?.();
      return { done: true, value: undefined };
    },
    throw: async (error: unknown) => {
      await events.return?.();
      throw error;
    },
  };
  return iterator;
}

/** What the result of an execution depends on besides the event; null when it cannot be shared. */
export function sharingKey(args: ExecutionArgs): string | null {
  const { auth } = args.contextValue as GraphQLContext;
  if (!auth) return null;
  let documentId = documentIds.get(args.document);
  if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
  return JSON.stringify([
    documentId,
    args.operationName ?? null,
    args.variableValues ?? null,
    auth.tenantId,
    auth.applicationId,
    auth.features,
  ]);
}

/**
 * graphql-js builds `data` from null-prototype objects, which V8 serializes on a slow path; every
 * subscriber serializes a shared result again, so its data is made of plain objects once.
 */
function plain(result: ExecutionResult): ExecutionResult {
  return result.data ? { ...result, data: JSON.parse(JSON.stringify(result.data)) } : result;
}
