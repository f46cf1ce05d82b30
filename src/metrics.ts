import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { type Database, ping } from './db/database.js';
import { Prisma } from './generated/prisma/client.js';
import { check, CHECK_TIMEOUT_MS } from './http/readiness.js';

// Series the workers count as they go. One set per process, registered in each app's registry.

/** Webhook attempts by outcome: succeeded (2xx), failed (another status) or no_response (timeout, refused, blocked address). */
const webhookAttempts = new Counter({
  name: 'nilo_webhook_attempts_total',
  help: 'Webhook delivery attempts of this process by outcome: succeeded (2xx answer), failed (another status), no_response (no complete answer)',
  labelNames: ['outcome'],
  registers: [],
});

/** Counts one webhook attempt by the HTTP status it got (null: none). */
export function countWebhookAttempt(statusCode: number | null): void {
  webhookAttempts.inc({
    outcome: statusCode === null ? 'no_response' : statusCode >= 200 && statusCode < 300 ? 'succeeded' : 'failed',
  });
}

export const jobLeaseExpiries = new Counter({
  name: 'nilo_job_lease_expiries_total',
  help: 'Running jobs this process found with a lapsed lease (holder crashed or stopped reporting) and queued again or failed',
  registers: [],
});

export const relayLag = new Histogram({
  name: 'nilo_relay_lag_seconds',
  help: 'Time from an event being written to the relay publishing it (pub/sub, live streams, webhook deliveries)',
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  registers: [],
});

/** Job types shown one by one; a tenant inventing types by the thousand must not blow up the series. */
const MAX_JOB_TYPE_SERIES = 100;

type QueueState = {
  deliveriesPending: number;
  oldestDueDeliverySeconds: number;
  endpointsDisabled: { reason: string; count: number }[];
  jobsRunning: number;
  jobsQueued: { type: string; queued: number; oldestDueSeconds: number }[];
};

// The queue figures are aggregates over all tenants, read on the driver path at scrape time: Prisma's
// query API has no count per group with a coalesced key, nor an age of the oldest due row.

/** Pending webhook deliveries, how long the longest-due one has been due, and running jobs. */
function queueTotals(): Prisma.Sql {
  return Prisma.sql`SELECT
    (SELECT count(*)::int FROM "WebhookDelivery" WHERE "status" = 'pending') AS "deliveriesPending",
    (SELECT coalesce(extract(epoch FROM now() - min("nextAttemptAt")), 0)::float8 FROM "WebhookDelivery"
      WHERE "status" = 'pending' AND "nextAttemptAt" <= now()) AS "oldestDueDeliverySeconds",
    (SELECT count(*)::int FROM "Job" WHERE "status" = 'running') AS "jobsRunning"`;
}

/** Disabled webhook endpoints by reason (a null reason: disabled by hand). */
function disabledEndpoints(): Prisma.Sql {
  return Prisma.sql`SELECT coalesce("disabledReason", 'manual') AS "reason", count(*)::int AS "count"
    FROM "WebhookEndpoint" WHERE NOT "enabled" GROUP BY 1`;
}

/** Queued jobs of the `limit` largest types, and how long each type's longest-due job has been due. */
function queuedJobTypes(limit: number): Prisma.Sql {
  return Prisma.sql`SELECT "resourceType" AS "type", count(*)::int AS "queued",
    coalesce(extract(epoch FROM now() - min("runAt") FILTER (WHERE "runAt" <= now())), 0)::float8 AS "oldestDueSeconds"
    FROM "Job" WHERE "status" = 'queued' GROUP BY 1 ORDER BY 2 DESC LIMIT ${limit}`;
}

/** The queues as the database holds them: a few index-backed aggregates per scrape. */
async function readQueues(database: Database): Promise<QueueState> {
  const [[totals], endpoints, jobs] = await Promise.all([
    database.query<{ deliveriesPending: number; oldestDueDeliverySeconds: number; jobsRunning: number }>(queueTotals()),
    database.query<{ reason: string; count: number }>(disabledEndpoints()),
    database.query<{ type: string; queued: number; oldestDueSeconds: number }>(queuedJobTypes(MAX_JOB_TYPE_SERIES)),
  ]);
  return { ...totals!, endpointsDisabled: endpoints, jobsQueued: jobs };
}

/**
 * Prometheus metrics at /metrics: process defaults, HTTP requests by route, live event streams and
 * subscriptions, the webhook and job queues (read from the database at scrape time, within
 * CHECK_TIMEOUT_MS), the relay's lag, and whether the database and Redis answer.
 */
export function metrics(
  http: FastifyInstance,
  sources: {
    live: { activeStreams(): number };
    groups: { subscriptions(): number };
    database: Database;
    redisPing?: () => Promise<unknown>;
  },
): void {
  const { live, groups, database, redisPing } = sources;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const metric of [webhookAttempts, jobLeaseExpiries, relayLag]) registry.registerMetric(metric);

  // One reading serves every gauge of a scrape; a reading still running (slow database) is shared
  // by the next scrapes instead of piling up, and a scrape waits for it at most CHECK_TIMEOUT_MS.
  let reading: Promise<QueueState> | undefined;
  const queues = (): Promise<QueueState | undefined> => {
    reading ??= readQueues(database).finally(() => (reading = undefined));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), CHECK_TIMEOUT_MS);
    });
    return Promise.race([reading.catch(() => undefined), timeout]).finally(() => clearTimeout(timer));
  };
  /** A gauge set from the queue reading; when the database does not answer it keeps its last values (see nilo_database_up). */
  const queueGauge = (
    name: string,
    help: string,
    labelNames: string[],
    set: (gauge: Gauge, state: QueueState) => void,
  ) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const state = await queues();
        if (!state) return;
        this.reset();
        set(this, state);
      },
    });

  queueGauge(
    'nilo_webhook_deliveries_pending',
    'Webhook deliveries waiting for an attempt (due now or retrying later), all tenants',
    [],
    (g, s) => g.set(s.deliveriesPending),
  );
  queueGauge(
    'nilo_webhook_oldest_due_age_seconds',
    'How long the longest-due pending webhook delivery has been due (0: none due)',
    [],
    (g, s) => g.set(s.oldestDueDeliverySeconds),
  );
  queueGauge(
    'nilo_webhook_endpoints_disabled',
    'Disabled webhook endpoints by reason: manual, gone (answered 410), failing (failed too long)',
    ['reason'],
    (g, s) => {
      for (const { reason, count } of s.endpointsDisabled) g.set({ reason }, count);
    },
  );
  queueGauge(
    'nilo_jobs_queued',
    `Queued jobs by type (the ${MAX_JOB_TYPE_SERIES} largest types), all tenants`,
    ['type'],
    (g, s) => {
      for (const { type, queued } of s.jobsQueued) g.set({ type }, queued);
    },
  );
  queueGauge(
    'nilo_jobs_oldest_queued_age_seconds',
    'How long the longest-due queued job of each type has been due',
    ['type'],
    (g, s) => {
      for (const { type, oldestDueSeconds } of s.jobsQueued) g.set({ type }, oldestDueSeconds);
    },
  );
  queueGauge('nilo_jobs_running', 'Jobs running now (built-in workers and runners), all tenants', [], (g, s) =>
    g.set(s.jobsRunning),
  );

  new Gauge({
    name: 'nilo_database_up',
    help: 'Whether the database answered SELECT 1 within a second (1) or not (0)',
    registers: [registry],
    async collect() {
      this.set((await check(() => ping(database))).status === 'up' ? 1 : 0);
    },
  });
  if (redisPing) {
    new Gauge({
      name: 'nilo_redis_up',
      help: 'Whether Redis answered PING within a second (1) or not (0); absent without REDIS_URL',
      registers: [registry],
      async collect() {
        this.set((await check(redisPing)).status === 'up' ? 1 : 0);
      },
    });
  }
  new Gauge({
    name: 'nilo_live_event_streams',
    help: "Event streams of this process following their tenant's events (one per group of identical graphql-ws subscriptions, one per SSE subscription)",
    registers: [registry],
    collect() {
      this.set(live.activeStreams());
    },
  });
  new Gauge({
    name: 'nilo_live_subscriptions',
    help: 'graphql-ws subscriptions of this process receiving live events (identical ones share one stream)',
    registers: [registry],
    collect() {
      this.set(groups.subscriptions());
    },
  });
  const requests = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });

  http.addHook('onResponse', async (request, reply) => {
    // The route pattern, not the URL, keeps the label set small; unmatched URLs share one label.
    const route = request.routeOptions.url ?? 'unmatched';
    requests.observe({ method: request.method, route, status: reply.statusCode }, reply.elapsedTime / 1000);
  });
  http.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
}
