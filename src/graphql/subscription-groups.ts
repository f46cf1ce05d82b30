import { getOperationAST, Kind, valueFromASTUntyped, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import { WebSocket } from 'ws';
import { sharingKey } from './shared-subscriptions.js';

/** Where one graphql-ws subscription's messages go. */
export type Subscriber = { socket: WebSocket; id: string; apiKey: string };
type Start = () => Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;
type Group = { add(subscriber: Subscriber): AsyncIterableIterator<never> | null };

/** Every subscription field replays from this argument (an event id); without it a stream is live only. */
const RESUME_ARGUMENT = 'after';

/**
 * Runs graphql-ws subscriptions, writing each result as a `next` message straight to the sockets.
 *
 * Subscriptions that would receive the same messages (the same operation and variables, by the same
 * API key, following live events only: nothing to replay) form one group: one event stream, one
 * execution and one serialization per event, and one loop writing it to every member's socket.
 * With a thousand dashboards on one tenant, that loop is the whole cost of an event, where a stream
 * per subscriber cost a chain of promises and a scattering of objects for each of them. A late
 * member starts where the group is, which for a live stream is now.
 *
 * graphql-ws gets, per subscription, an iterator that yields nothing and ends (or fails) with the
 * group's stream, so it still completes, errors and cancels each subscription itself; the last
 * member to leave ends the stream.
 */
export function subscriptionGroups() {
  const open = new Map<string, Promise<Group | ExecutionResult>>();
  const counter = { members: 0 };

  async function subscribe(
    args: ExecutionArgs,
    subscriber: Subscriber,
    start: Start,
  ): Promise<AsyncIterableIterator<never> | ExecutionResult> {
    const key = groupKey(args, subscriber);
    for (;;) {
      let pending = key === null ? undefined : open.get(key);
      if (!pending) {
        const forget = () => key !== null && open.get(key) === pending && open.delete(key);
        pending = start().then((results) =>
          isAsyncIterable(results) ? createGroup(results, forget, counter) : results,
        );
        // A refusal is answered to whoever waits for it; the next subscriber tries afresh.
        pending.then((group) => {
          if (!('add' in group)) forget();
        }, forget);
        if (key !== null) open.set(key, pending);
      }
      const group = await pending;
      if (!('add' in group)) return group;
      const iterator = group.add(subscriber);
      if (iterator) return iterator;
      // The group ended while this subscriber waited for it: start another.
    }
  }

  return {
    subscribe,
    /** graphql-ws subscriptions with a live stream (the nilo_live_subscriptions metric). */
    subscriptions: () => counter.members,
  };
}

export type SubscriptionGroups = ReturnType<typeof subscriptionGroups>;

/** Serialized results, shared by groups that differ only in their keys (see shared-subscriptions.ts). */
const payloads = new WeakMap<ExecutionResult, string>();

function createGroup(results: AsyncIterable<ExecutionResult>, forget: () => void, counter: { members: number }): Group {
  type Member = { socket: WebSocket; prefix: string };
  const members = new Set<Member>();
  const source = results[Symbol.asyncIterator]();
  let ended = false;
  const end = () => {
    ended = true;
    forget();
  };
  const sent = (async () => {
    try {
      for (let next = await source.next(); !next.done; next = await source.next()) {
        let payload = payloads.get(next.value);
        if (payload === undefined) payloads.set(next.value, (payload = JSON.stringify(next.value)));
        for (const { socket, prefix } of members)
          if (socket.readyState === WebSocket.OPEN) socket.send(`${prefix}${payload}}`);
      }
    } finally {
      end();
    }
  })();
  sent.catch(() => {}); // reported to each member through next(); nobody may be left to ask

  return {
    add({ socket, id }) {
      if (ended) return null;
      const member: Member = { socket, prefix: `{"id":${JSON.stringify(id)},"type":"next","payload":` };
      members.add(member);
      counter.members++;
      const iterator: AsyncIterableIterator<never> = {
        [Symbol.asyncIterator]: () => iterator,
        next: () => sent.then(() => ({ done: true, value: undefined })),
        return: async () => {
          if (!members.delete(member)) return { done: true, value: undefined };
          counter.members--;
          if (!members.size) {
            end();
            await source.return?.();
          }
          return { done: true, value: undefined };
        },
      };
      return iterator;
    },
  };
}

/** What members of a group share, or null when the subscription must have a stream of its own. */
function groupKey(args: ExecutionArgs, subscriber: Subscriber): string | null {
  const sharing = sharingKey(args);
  return sharing === null || resumes(args) ? null : JSON.stringify([sharing, subscriber.apiKey]);
}

/** Whether the operation replays from a point in the log, which makes its stream its own. */
function resumes({ document, operationName, variableValues }: ExecutionArgs): boolean {
  const operation = getOperationAST(document, operationName);
  if (!operation) return true;
  return operation.selectionSet.selections.some(
    (selection) =>
      selection.kind !== Kind.FIELD ||
      selection.arguments?.some(
        (argument) =>
          argument.name.value === RESUME_ARGUMENT &&
          valueFromASTUntyped(argument.value, variableValues ?? undefined) != null,
      ),
  );
}
