// One subscriber process of the subscriptions.fanout scenario, started by bench/lib/fanout.ts with
// an IPC channel: opens BENCH_SUBSCRIBER_COUNT connections, subscribes each, and reports when every
// one of them has received an event, with the time each did (monotonicMs, right after the message
// was parsed). graphql-ws: the gateway's subscription; ws: the baseline's bare relay.
// Env: BENCH_SUBSCRIBER_KIND, BENCH_SUBSCRIBER_URL, BENCH_SUBSCRIBER_API_KEY, BENCH_SUBSCRIBER_COUNT;
// optionally BENCH_SUBSCRIBER_QUERY (an `events` subscription) and BENCH_SUBSCRIBER_VARIABLES (a JSON
// list of variables: subscriber i takes entry i modulo its length).
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { inParallel } from './lib/http.js';
import { monotonicMs, type SubscriberKind, type SubscriberMessage } from './lib/fanout.js';

const SUBSCRIPTION =
  process.env.BENCH_SUBSCRIBER_QUERY ??
  'subscription { events(types: ["communication.contact.created"]) { id type tenantSequence resourceId } }';
const VARIABLES = JSON.parse(process.env.BENCH_SUBSCRIBER_VARIABLES ?? '[{}]') as Record<string, unknown>[];
/** Connections opened at once: a thousand handshakes in one burst would only measure the burst. */
const CONNECTING = 50;

const kind = process.env.BENCH_SUBSCRIBER_KIND as SubscriberKind;
const url = process.env.BENCH_SUBSCRIBER_URL!;
const apiKey = process.env.BENCH_SUBSCRIBER_API_KEY!;
const count = Number(process.env.BENCH_SUBSCRIBER_COUNT);

const send = (message: SubscriberMessage) => process.send!(message);
// The driver is gone (it failed or was interrupted): nobody will stop us.
process.on('disconnect', () => process.exit(0));

const fail = (message: string) => send({ type: 'failed', message });
/** An Error, the server's GraphQL errors, or the CloseEvent or ErrorEvent of the socket. */
const describe = (reason: unknown) => {
  if (reason instanceof Error) return reason.message;
  if (Array.isArray(reason)) return JSON.stringify(reason); // the server's GraphQL errors
  const event = reason as { code?: number; reason?: string; error?: Error; message?: string };
  if (event.code !== undefined) return `closed with ${event.code} ${event.reason ?? ''}`.trim();
  return `socket error: ${event.error?.message ?? event.message ?? 'unknown'}`;
};

/** Per event, when each connection received it, until all have; then the id moves to `reported`. */
const receipts = new Map<string, { at: number[]; missing: number }>();
const reported = new Set<string>();
function received(subscriber: number, resourceId: string) {
  const now = monotonicMs();
  const twice = () => fail(`subscriber ${subscriber} received ${resourceId} twice`);
  if (reported.has(resourceId)) return twice();
  let event = receipts.get(resourceId);
  if (!event) receipts.set(resourceId, (event = { at: new Array<number>(count), missing: count }));
  if (event.at[subscriber] !== undefined) return twice();
  event.at[subscriber] = now;
  if (--event.missing === 0) {
    receipts.delete(resourceId);
    reported.add(resourceId);
    send({ type: 'received', resourceId, at: event.at });
  }
}

/** Resolves once the server acknowledged the connection; the subscribe message follows at once. */
function graphqlWsSubscriber(subscriber: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const client = createClient({
      url,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${apiKey}` },
      lazy: false,
      retryAttempts: 0,
      on: {
        connected: () => resolve(),
        closed: (event) => reject(new Error(`${describe(event)} before it was acknowledged`)),
      },
    });
    client.subscribe<{ events: { resourceId: string } }>(
      { query: SUBSCRIPTION, variables: VARIABLES[subscriber % VARIABLES.length] },
      {
        next: (result) =>
          result.data
            ? received(subscriber, result.data.events.resourceId)
            : fail(`errors: ${JSON.stringify(result.errors)}`),
        error: (error) => fail(`subscription error: ${describe(error)}`),
        complete: () => fail('subscription completed'),
      },
    );
  });
}

function wsSubscriber(subscriber: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.on('message', (data) => received(subscriber, (JSON.parse(String(data)) as { resourceId: string }).resourceId));
    ws.on('close', (code) => fail(`closed with ${code}`));
  });
}

await inParallel(count, CONNECTING, kind === 'graphql-ws' ? graphqlWsSubscriber : wsSubscriber);
send({ type: 'ready' });
