import { setTimeout as sleep } from 'node:timers/promises';
import { requestJson } from '../lib/http.js';
import { measureHttp } from '../lib/load.js';
import { defineScenario, type Measurement, type SideContext } from '../lib/types.js';
import { contactFixture, ensureBaselineContacts } from './contacts-fixtures.js';

/** Jobs one process runs at once, both sides (the gateway's JOB_CONCURRENCY, graphile-worker's concurrency). */
const CONCURRENCY = Math.max(1, Number(process.env.BENCH_JOB_RUN_CONCURRENCY ?? 8));
/** After the queueing stops, how long the workers may take to finish what was queued. */
const DRAIN_TIMEOUT_MS = 120_000;
/** The job type the gateway's workers complete as a no-op in this scenario (JOB_NOOP_TYPE). */
const NOOP_TYPE = 'bench.noop';
const PEER = 'bench/graphile-worker-peer.ts';

type Kind = 'noop' | 'import';

/**
 * Queue + run: for the harness's seconds, its connections queue jobs over HTTP back to back while
 * one process's workers run them; then the queue drains. Throughput = jobs finished ÷ (first sent
 * → last finished). The peer is graphile-worker 0.18 (bench/graphile-worker-peer.ts: addJob
 * behind HTTP, its worker unbatched, no events), in one process with the same concurrency.
 */
function jobsRun(kind: Kind) {
  return defineScenario({
    id: `jobs.run.${kind}`,
    title:
      kind === 'noop'
        ? `no-op jobs queued over HTTP and run, 1 process x ${CONCURRENCY} workers`
        : `1-row contacts.import jobs queued and run, 1 process x ${CONCURRENCY} workers`,
    env: { JOB_CONCURRENCY: String(CONCURRENCY), JOB_NOOP_TYPE: NOOP_TYPE },
    peers: {
      'graphile-worker': {
        title:
          kind === 'noop'
            ? 'graphile-worker 0.18: addJob (one makeWorkerUtils) behind node:http, its worker unbatched, a no-op task; no events'
            : "graphile-worker 0.18: addJob behind node:http, a task doing the 1-row import's upsert (bench_baseline.contacts); no events",
        script: PEER,
        target: { kind: 'throughput', minRatio: 0.5 },
      },
    },

    async setup(ctx) {
      await ensureBaselineContacts(ctx.sql, ctx.baselineSchema);
      return { tenant: await ctx.createTenant(`Bench jobs ${kind}`, ['communication']) };
    },

    async load(ctx, { tenant }) {
      const gateway = ctx.side === 'gateway';
      const path = gateway
        ? kind === 'noop'
          ? '/api/v1/jobs'
          : '/api/v1/contacts/contacts/import'
        : `/jobs?task=${kind}&tenant=${tenant.tenantId}`;
      const headers = { 'content-type': 'application/json', authorization: `Bearer ${tenant.apiKey}` };
      let n = 0;
      const nextBody = (label: string) =>
        kind === 'import'
          ? { contacts: [contactFixture(label)] }
          : gateway
            ? { resourceType: NOOP_TYPE, input: { n } }
            : { n };

      return {
        kind: 'custom',
        async run(options) {
          const ids: string[] = [];
          const before = gateway ? 0 : (await peerStats(ctx)).completed;
          const started = Date.now();
          const queued = await measureHttp(
            ctx.baseUrl,
            {
              kind: 'http',
              method: 'POST',
              path,
              headers,
              vary: () => {
                const label = `${ctx.runId}-${ctx.side}-${kind}-${++n}`;
                return { headers: { 'idempotency-key': label }, body: JSON.stringify(nextBody(label)) };
              },
              verifyBody: (body) => {
                const jobId = jobIdOf(body);
                if (jobId) ids.push(jobId);
                return jobId !== null;
              },
            },
            options,
          );
          const done = await (gateway ? drainGateway(ctx, tenant.tenantId, ids) : drainPeer(ctx, before, ids.length));
          const seconds = (done.lastFinishedAt - started) / 1000;
          const measurement: Measurement = {
            ...queued,
            throughput: done.succeeded / seconds,
            ok: done.succeeded,
            errors: queued.errors + done.failed,
            timeouts: queued.timeouts + (ids.length - done.succeeded - done.failed),
            durationSeconds: seconds,
            failureSamples: [
              ...queued.failureSamples,
              ...(done.failed ? [`${done.failed} jobs failed or were canceled`] : []),
              ...(done.succeeded + done.failed < ids.length
                ? [`${ids.length - done.succeeded - done.failed} jobs unfinished after ${DRAIN_TIMEOUT_MS / 1000} s`]
                : []),
            ],
            notes: [
              `${ids.length} jobs queued at ${queued.throughput.toFixed(0)}/s (p50/p99: the enqueue request), ` +
                `all finished ${((done.lastFinishedAt - started) / 1000 - queued.durationSeconds).toFixed(1)} s after the queueing ended`,
            ],
          };
          return measurement;
        },
      };
    },
  });
}

export const jobsRunNoop = jobsRun('noop');
export const jobsRunImport = jobsRun('import');

type Drained = { succeeded: number; failed: number; lastFinishedAt: number };

/**
 * Waits until none of the tenant's jobs is queued or running (also those whose answer the load did
 * not read when it stopped); how the answered ones ended, and when the last of all finished (the
 * database's clock, the machine's).
 */
async function drainGateway(ctx: SideContext, tenantId: string, ids: string[]): Promise<Drained> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const { rows } = await ctx.sql.query<Drained & { open: number }>(
      `SELECT count(*) FILTER (WHERE "status" = 'succeeded' AND "id" = ANY($2))::int AS "succeeded",
              count(*) FILTER (WHERE "status" IN ('failed', 'canceled') AND "id" = ANY($2))::int AS "failed",
              count(*) FILTER (WHERE "status" IN ('queued', 'running'))::int AS "open",
              (EXTRACT(EPOCH FROM max("finishedAt")) * 1000)::float8 AS "lastFinishedAt"
       FROM "Job" WHERE "tenantId" = $1 AND ("status" IN ('queued', 'running') OR "id" = ANY($2))`,
      [tenantId, ids],
    );
    const row = rows[0]!;
    if (row.open === 0 || Date.now() > deadline) return row;
    await sleep(100);
  }
}

/**
 * graphile-worker deletes finished jobs: the peer counts what it ran (bench/graphile-worker-peer.ts).
 * Waits until it ran the answered jobs and none is left (those whose answer the load did not read).
 */
async function drainPeer(ctx: SideContext, before: number, queued: number): Promise<Drained> {
  const deadline = Date.now() + DRAIN_TIMEOUT_MS;
  for (;;) {
    const stats = await peerStats(ctx);
    const ran = stats.completed - before;
    if ((ran >= queued && stats.pending === 0) || Date.now() > deadline)
      return { succeeded: Math.min(ran, queued), failed: 0, lastFinishedAt: stats.lastFinishedAt };
    await sleep(100);
  }
}

async function peerStats(ctx: SideContext): Promise<{ completed: number; lastFinishedAt: number; pending: number }> {
  const res = await requestJson(ctx.baseUrl, 'GET', '/stats');
  return res.body;
}

function jobIdOf(body: string): string | null {
  try {
    const jobId: unknown = JSON.parse(body).jobId;
    return typeof jobId === 'string' || typeof jobId === 'number' ? String(jobId) : null;
  } catch {
    return null;
  }
}
