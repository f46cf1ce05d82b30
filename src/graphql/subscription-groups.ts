import {
  getOperationAST,
  GraphQLError,
  Kind,
  valueFromASTUntyped,
  type ExecutionArgs,
  type ExecutionResult,
} from 'graphql';
import { isAsyncIterable } from 'graphql-yoga';
import { WebSocket } from 'ws';
import { sharingKey } from './shared-subscriptions.js';

/**
 * Where one graphql-ws subscription's messages go: `prefix` is its `next` message up to the
 * payload (`{"id":…,"type":"next","payload":`), so a result serialized once frames for every
 * member. `end` is told once when the group's stream ends: null when it completed, its errors
 * when it failed.
 */
export type Member = {
  readonly socket: WebSocket;
  readonly prefix: string;
  end(errors: readonly GraphQLError[] | null): void;
};
type Start = () => Promise<AsyncIterable<ExecutionResult> | ExecutionResult>;
/** A running group: its member leaves it (the last one ends the stream). */
export type Group = { leave(member: Member): void };
type Joinable = Group & { add(member: Member): boolean };

/** Every subscription field replays from this argument (an event id); without it a stream is live only. */
const RESUME_ARGUMENT = 'after';

/**
 * Runs graphql-ws subscriptions, writing each result as a `next` message straight to the sockets.
 *
 * Subscriptions that would receive the same messages (the same operation and variables, by the same
 * API key, following live events only: nothing to replay) form one group: one event stream, one
 * execution and one serialization per event, and one loop writing it to every member's socket.
 * With thousands of dashboards on one tenant, that loop is the whole cost of an event, and a member
 * is one small object in a set: no iterator, promise or closure of its own waits for each event.
 * A late member starts where the group is, which for a live stream is now. A subscription that
 * cannot share (one resuming from `after`) is a group of one.
 */
export function subscriptionGroups() {
  const open = new Map<string, Promise<Joinable | ExecutionResult>>();
  const counter = { members: 0 };

  /**
   * Adds `member` to the group of its operation, starting the group's stream with `start` when
   * there is none: resolves with the group, or with the result that refused the subscription.
   */
  async function join(
    args: ExecutionArgs,
    apiKey: string,
    member: Member,
    start: Start,
  ): Promise<Group | ExecutionResult> {
    const key = groupKey(args, apiKey);
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
      if (group.add(member)) return group;
      // The group ended while this subscriber waited for it: start another.
    }
  }

  return {
    join,
    /** graphql-ws subscriptions with a live stream (the nilo_live_subscriptions metric). */
    subscriptions: () => counter.members,
  };
}

export type SubscriptionGroups = ReturnType<typeof subscriptionGroups>;

/** Serialized results, shared by groups that differ only in their keys (see shared-subscriptions.ts). */
const payloads = new WeakMap<ExecutionResult, string>();

function createGroup(
  results: AsyncIterable<ExecutionResult>,
  forget: () => void,
  counter: { members: number },
): Joinable {
  const members = new Set<Member>();
  const source = results[Symbol.asyncIterator]();
  let ended = false;
  /** Ends the group for everyone still in it: completed (null) or failed. */
  const finish = (errors: readonly GraphQLError[] | null) => {
    ended = true;
    forget();
    counter.members -= members.size;
    const left = [...members];
    members.clear();
    for (const member of left) member.end(errors);
  };
  void (async () => {
    try {
      for (let next = await source.next(); !next.done; next = await source.next()) {
        let payload = payloads.get(next.value);
        if (payload === undefined) payloads.set(next.value, (payload = JSON.stringify(next.value)));
        for (const { socket, prefix } of members)
          if (socket.readyState === WebSocket.OPEN) socket.send(`${prefix}${payload}}`);
      }
      finish(null);
    } catch (error) {
      // As graphql-ws reports a stream that throws: its message as the subscription's error.
      const original = error instanceof Error ? error : new Error(String(error));
      finish([new GraphQLError(original.message, { originalError: original })]);
    }
  })();

  return {
    add(member) {
      if (ended) return false;
      members.add(member);
      counter.members++;
      return true;
    },
    leave(member) {
      if (!members.delete(member)) return;
      counter.members--;
      if (members.size) return;
      ended = true;
      forget();
      void source.return?.();
    },
  };
}

/** What members of a group share, or null when the subscription must have a stream of its own. */
function groupKey(args: ExecutionArgs, apiKey: string): string | null {
  const sharing = sharingKey(args);
  return sharing === null || resumes(args) ? null : JSON.stringify([sharing, apiKey]);
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
