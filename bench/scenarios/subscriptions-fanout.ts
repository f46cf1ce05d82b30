import { availableParallelism } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { customMeasurement } from '../lib/custom-load.js';
import { monotonicMs, startSubscribers, type Subscribers } from '../lib/fanout.js';
import { requestJson } from '../lib/http.js';
import { memoryAfterGc } from '../lib/inspector.js';
import { defineScenario, type BenchTenant, type CustomLoad, type Measurement, type SideContext } from '../lib/types.js';
import { ensureBaselineContacts } from './contacts-fixtures.js';

const SUBSCRIBERS = Math.max(1, Number(process.env.BENCH_SUBSCRIBERS ?? 1_000));
const MUTATIONS = Math.max(1, Number(process.env.BENCH_FANOUT_MUTATIONS ?? 50));
/** Subscriber processes: one per core measured best on the 2-core machine (see bench/README.md). */
const PROCESSES = Math.max(1, Number(process.env.BENCH_SUBSCRIBER_PROCESSES ?? availableParallelism()));
/** Mutations before the subscribers connect (the write path's first runs), and fanned out before measuring. */
const WARMUP_MUTATIONS = 10;
/** An event that has not reached every subscriber by then counts as undelivered. */
const DELIVERY_TIMEOUT_MS = 5_000;
/** After an event reached everyone, before the next mutation: each event is measured on its own. */
const PAUSE_MS = 100;
/** After the subscribers connected, before the second memory reading. */
const SETTLE_MS = 2_000;
/** p99 bound: 100 ms up to 1,000 subscribers, 250 ms beyond (10,000 on the 2-core machine, issue 21). */
const MAX_P99_MS = SUBSCRIBERS > 1_000 ? 250 : 100;
/** JS heap an idle subscriber may keep in the gateway (a bare ws socket keeps about 3). */
const MAX_HEAP_KIB_PER_SUBSCRIBER = 5;

/**
 * One tenant's contact.created event fanned out to SUBSCRIBERS graphql-ws subscribers: latency
 * from the mutation's HTTP response to receipt at each subscriber, one mutation at a time.
 */
export const subscriptionsFanout = defineScenario({
  id: 'subscriptions.fanout',
  title: `graphql-ws fan-out of one event to ${SUBSCRIBERS} subscribers`,
  target: { kind: 'p99', maxRatio: 2, maxMs: MAX_P99_MS },
  redis: true,

  async setup(ctx) {
    await ensureBaselineContacts(ctx.sql, ctx.baselineSchema);
    return { tenant: await ctx.createTenant('Bench fan-out', ['communication']) };
  },

  baseline: { script: 'bench/ws-baseline-server.ts' },

  load: (ctx, { tenant }) => fanOutLoad(ctx, tenant, { graphqlWs: ctx.side === 'gateway' }),
});

/** What the graphql-ws subscribers subscribe to: default every contact.created event, the same for all. */
export type FanOutSubscription = { query: string; variables: Record<string, unknown>[] };

/**
 * The fan-out load: a contact created by REST, then the time until its event reached each of
 * SUBSCRIBERS subscribers, one mutation at a time. `graphqlWs`: the side is a gateway (its
 * subscription, by default every contact.created event), else the bare ws relay. filters.fanout
 * runs it on two gateways, one with filtered subscriptions.
 */
export async function fanOutLoad(
  ctx: SideContext,
  tenant: BenchTenant,
  { graphqlWs, subscription }: { graphqlWs: boolean; subscription?: FanOutSubscription },
): Promise<CustomLoad> {
  const wsUrl = ctx.baseUrl.replace(/^http/, 'ws');
  const side = graphqlWs
    ? { kind: 'graphql-ws' as const, url: `${wsUrl}/graphql`, mutationPath: '/api/v1/contacts/contacts' }
    : {
        kind: 'ws' as const,
        url: `${wsUrl}/events?tenant=${tenant.tenantId}`,
        mutationPath: `/contacts?tenant=${tenant.tenantId}`,
      };
  let created = 0;

  /** Creates a contact; returns its id and when the response had arrived. */
  async function mutate(): Promise<{ id: string; respondedAt: number }> {
    const label = `${ctx.runId}-${ctx.side}-fanout-${++created}`;
    const response = await requestJson(ctx.baseUrl, 'POST', side.mutationPath, {
      headers: { authorization: `Bearer ${tenant.apiKey}` },
      body: { email: `${label}@bench.example`, firstName: 'Ada' },
    });
    const respondedAt = monotonicMs();
    if (response.status !== 201 || typeof response.body?.contactId !== 'string') {
      throw new Error(`${ctx.side} mutation failed: HTTP ${response.status} ${response.text.slice(0, 500)}`);
    }
    return { id: response.body.contactId, respondedAt };
  }

  let subscribers: Subscribers | undefined;
  let rssPerSubscriberKib: number | null = null;
  let heapPerSubscriberKib: number | null = null;
  const notes: string[] = [];

  /** Warms the write path, connects the subscribers (memory before and after) and waits until they all receive. */
  async function connect(): Promise<Subscribers> {
    for (let i = 0; i < WARMUP_MUTATIONS; i++) await mutate();
    const before = await memoryAfterGc(ctx.pid);
    const connected = await startSubscribers({
      kind: side.kind,
      url: side.url,
      apiKey: tenant.apiKey,
      count: SUBSCRIBERS,
      processes: PROCESSES,
      ...subscription,
    });
    await sleep(SETTLE_MS);
    const after = await memoryAfterGc(ctx.pid);
    const perSubscriberKib = (bytes: number) => bytes / SUBSCRIBERS / 1024;
    for (const child of connected.processes) ctx.trackProcess(child.name, child.pid, 'load');
    if (before && after) {
      rssPerSubscriberKib = perSubscriberKib(after.rssBytes - before.rssBytes);
      heapPerSubscriberKib = perSubscriberKib(after.heapUsedBytes - before.heapUsedBytes);
      const over = ctx.side === 'gateway' && heapPerSubscriberKib > MAX_HEAP_KIB_PER_SUBSCRIBER;
      notes.push(
        `JS heap per idle subscriber ${heapPerSubscriberKib.toFixed(1)} KiB` +
          (ctx.side === 'gateway' ? ` (limit ${MAX_HEAP_KIB_PER_SUBSCRIBER}${over ? ': ABOVE LIMIT' : ''})` : ''),
      );
    } else {
      notes.push('no memory figures: the server inspector (127.0.0.1:9229) did not answer for this process');
    }
    // A subscription is live on the server some time after the client's subscribe message.
    for (let attempt = 1; ; attempt++) {
      const { id } = await mutate();
      if (await connected.received(id, DELIVERY_TIMEOUT_MS)) break;
      if (attempt === 3) {
        await connected.stop();
        throw new Error(
          `no event reached all ${SUBSCRIBERS} ${ctx.side} subscribers; failures: ${connected.failures.slice(0, 3).join('; ') || 'none'}`,
        );
      }
    }
    return connected;
  }

  /** `mutations` mutations one after another, each awaited until its event reached every subscriber. */
  async function fanOut(live: Subscribers, mutations: number): Promise<Measurement> {
    const failuresBefore = live.failures.length;
    const latencies: number[] = [];
    const undelivered: string[] = [];
    const started = monotonicMs();
    for (let i = 0; i < mutations; i++) {
      const { id, respondedAt } = await mutate();
      const at = await live.received(id, DELIVERY_TIMEOUT_MS);
      if (at) for (const t of at) latencies.push(t - respondedAt);
      else
        undelivered.push(
          `the event of ${id} did not reach all ${SUBSCRIBERS} subscribers within ${DELIVERY_TIMEOUT_MS} ms`,
        );
      await sleep(PAUSE_MS);
    }
    return customMeasurement({
      ok: mutations - undelivered.length,
      durationSeconds: (monotonicMs() - started) / 1000,
      latenciesMs: latencies,
      errors: live.failures.slice(failuresBefore),
      timeouts: undelivered,
    });
  }

  return {
    kind: 'custom',
    // The harness's seconds and connections do not apply: the work is MUTATIONS events.
    async run({ warmup }) {
      if (warmup) {
        subscribers = await connect();
        return fanOut(subscribers, WARMUP_MUTATIONS);
      }
      try {
        const figures = heapPerSubscriberKib === null ? undefined : { heapKibPerSubscriber: heapPerSubscriberKib };
        return { ...(await fanOut(subscribers!, MUTATIONS)), rssPerSubscriberKib, figures, notes };
      } finally {
        await subscribers!.stop();
      }
    },
  };
}
