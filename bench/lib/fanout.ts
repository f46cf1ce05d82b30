import { startNode } from './children.js';

/** How the subscribers talk to the server: the gateway's graphql-ws, or the baseline's bare ws. */
export type SubscriberKind = 'graphql-ws' | 'ws';

/** What a subscriber process (bench/fanout-subscribers.ts) tells the driver. */
export type SubscriberMessage =
  /** Every client of the process is connected (graphql-ws: acknowledged) and has subscribed. */
  | { type: 'ready' }
  /** Every client of the process received the event of `resourceId`, at these times (monotonicMs). */
  | { type: 'received'; resourceId: string; at: number[] }
  /** A client failed or was closed: the figures are not valid. */
  | { type: 'failed'; message: string };

/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC on Linux): the same clock in
 * every process, with sub-microsecond precision, so times taken in different processes compare.
 */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export type Subscribers = {
  /** When each subscriber received the event of `resourceId`, or null if not all did within `timeoutMs`. */
  received(resourceId: string, timeoutMs: number): Promise<number[] | null>;
  /** Every failure reported so far. */
  failures: string[];
  /** The subscriber processes, by name, for their CPU figures. */
  processes: { name: string; pid: number }[];
  stop(): Promise<void>;
};

/**
 * Starts `count` subscribers spread over `processes` child processes and resolves once all are
 * connected and subscribed. Their own processes, so that receiving (parsing 1,000 frames per
 * event) neither delays the driver's view of the mutation's response nor shares its event loop.
 */
export async function startSubscribers(options: {
  kind: SubscriberKind;
  url: string;
  apiKey: string;
  count: number;
  processes: number;
  /** graphql-ws: the subscription (default: every contact.created event) and its variables, subscriber i taking entry i modulo their number. */
  query?: string;
  variables?: Record<string, unknown>[];
}): Promise<Subscribers> {
  const processes = Math.min(options.processes, options.count);
  /** Per event, the receipt times reported by each process so far. */
  const reports = new Map<string, number[][]>();
  const waiting = new Map<string, () => void>();
  const failures: string[] = [];

  const children = Array.from({ length: processes }, (_, i) => {
    const count = Math.floor(options.count / processes) + (i < options.count % processes ? 1 : 0);
    return startNode(
      `subscribers ${i + 1}/${processes}`,
      'bench/fanout-subscribers.ts',
      {
        BENCH_SUBSCRIBER_KIND: options.kind,
        BENCH_SUBSCRIBER_URL: options.url,
        BENCH_SUBSCRIBER_API_KEY: options.apiKey,
        BENCH_SUBSCRIBER_COUNT: String(count),
        ...(options.query ? { BENCH_SUBSCRIBER_QUERY: options.query } : {}),
        ...(options.variables ? { BENCH_SUBSCRIBER_VARIABLES: JSON.stringify(options.variables) } : {}),
      },
      [],
      { ipc: true },
    );
  });
  const stop = async () => void (await Promise.all(children.map((child) => child.stop())));

  const ready = children.map(
    (child) =>
      new Promise<void>((resolve, reject) => {
        child.process.on('message', (message: SubscriberMessage) => {
          if (message.type === 'ready') return resolve();
          if (message.type === 'failed') {
            failures.push(`${child.name}: ${message.message}`);
            return reject(new Error(`${child.name}: ${message.message}`));
          }
          const events = reports.get(message.resourceId) ?? [];
          reports.set(message.resourceId, [...events, message.at]);
          if (events.length + 1 === processes) waiting.get(message.resourceId)?.();
        });
        child.process.once('exit', (code, signal) => {
          if (code !== null || signal !== 'SIGTERM') failures.push(`${child.name} exited (${code ?? signal})`);
          reject(new Error(`${child.name} exited (${code ?? signal}):\n${child.output()}`));
        });
      }),
  );
  try {
    await withTimeout(Promise.all(ready), 120_000, `${options.count} subscribers were not connected after 120 s`);
  } catch (error) {
    await stop();
    throw error;
  }

  return {
    failures,
    processes: children.map((child) => ({ name: child.name, pid: child.process.pid! })),
    stop,
    async received(resourceId, timeoutMs) {
      const complete = () => reports.get(resourceId)?.length === processes;
      if (!complete()) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          waiting.set(resourceId, () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      waiting.delete(resourceId);
      const at = complete() ? reports.get(resourceId)!.flat() : null;
      reports.delete(resourceId);
      return at;
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
