import { createClient, type Client, type FormattedExecutionResult } from 'graphql-ws';
import WebSocket from 'ws';
import { expect } from 'vitest';

export type Subscription = {
  /** Every result received so far, in order. */
  results: FormattedExecutionResult<any, any>[];
  /** Resolves once `count` results have arrived (fails after `timeoutMs`). */
  waitFor(count: number, timeoutMs?: number): Promise<FormattedExecutionResult<any, any>[]>;
  /** Settles when the server completes the subscription, or rejects with its error. */
  done: Promise<void>;
  unsubscribe(): void;
};

export type WsConnection = {
  client: Client;
  /** The close event of the socket (code and reason), once it closes. */
  closed: Promise<{ code: number; reason: string }>;
  subscribe(query: string, variables?: Record<string, unknown>): Subscription;
  dispose(): Promise<void>;
};

/** A real graphql-ws client on the gateway's /graphql, authenticated through connectionParams. */
export function connectWs(
  baseUrl: string,
  connectionParams: Record<string, unknown> | undefined,
  webSocketImpl: unknown = WebSocket,
): WsConnection {
  let resolveClosed!: (event: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => (resolveClosed = resolve));
  const client = createClient({
    url: `${baseUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl,
    connectionParams,
    lazy: false,
    retryAttempts: 0,
    on: {
      closed: (event) =>
        resolveClosed({ code: (event as CloseEvent).code, reason: String((event as CloseEvent).reason) }),
    },
    onNonLazyError: () => {},
  });
  return {
    client,
    closed,
    subscribe(query, variables) {
      const results: FormattedExecutionResult<any, any>[] = [];
      const waiters = new Set<() => void>();
      let unsubscribe!: () => void;
      const done = new Promise<void>((resolve, reject) => {
        unsubscribe = client.subscribe(
          { query, variables },
          {
            next: (result) => {
              results.push(result);
              waiters.forEach((w) => w());
            },
            error: (error) => {
              waiters.forEach((w) => w());
              reject(error);
            },
            complete: () => {
              waiters.forEach((w) => w());
              resolve();
            },
          },
        );
      });
      done.catch(() => {}); // observed through `done` by tests that care
      return {
        results,
        done,
        unsubscribe: () => unsubscribe(),
        async waitFor(count, timeoutMs = 10_000) {
          const deadline = Date.now() + timeoutMs;
          while (results.length < count) {
            const left = deadline - Date.now();
            if (left <= 0) break;
            await new Promise<void>((resolve) => {
              const timer = setTimeout(resolve, left);
              waiters.add(() => {
                clearTimeout(timer);
                resolve();
              });
            });
            waiters.clear();
          }
          expect(results.length, `results received: ${JSON.stringify(results.slice(-3))}`).toBeGreaterThanOrEqual(
            count,
          );
          return results;
        },
      };
    },
    dispose: async () => {
      await client.dispose();
    },
  };
}

/** The events carried by subscription results of `field` (e.g. "events"), failing on any error. */
export function eventsIn(results: FormattedExecutionResult<any, any>[], field = 'events'): any[] {
  return results.map((result) => {
    expect(result.errors).toBeUndefined();
    return result.data[field];
  });
}

/** A gauge of the gateway at `baseUrl`'s /metrics. */
async function gauge(baseUrl: string, name: string): Promise<number> {
  const text = await fetch(`${baseUrl}/metrics`).then((res) => res.text());
  return Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
}

/** How many event streams the gateway at `baseUrl` has live: its nilo_live_event_streams metric. */
export const liveStreams = (baseUrl: string) => gauge(baseUrl, 'nilo_live_event_streams');

/** How many graphql-ws subscriptions the gateway at `baseUrl` serves live events: nilo_live_subscriptions. */
export const liveSubscriptions = (baseUrl: string) => gauge(baseUrl, 'nilo_live_subscriptions');

/** Subscribes and resolves once the gateway has the subscription live, so whatever commits next reaches it. */
export async function subscribeLive(
  connection: WsConnection,
  baseUrl: string,
  query: string,
  variables?: Record<string, unknown>,
): Promise<Subscription> {
  const before = await liveSubscriptions(baseUrl);
  const subscription = connection.subscribe(query, variables);
  const deadline = Date.now() + 20_000;
  while ((await liveSubscriptions(baseUrl)) <= before) {
    if (Date.now() > deadline) throw new Error('the subscription did not go live');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return subscription;
}
