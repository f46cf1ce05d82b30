import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, startNode, waitForHealthy, type Child } from '../lib/children.js';
import { percentiles } from '../lib/custom-load.js';
import { requestJson } from '../lib/http.js';
import { measureHttp, type LoadOptions } from '../lib/load.js';
import { processCpuMs } from '../lib/machine.js';
import { defineScenario, type HttpLoad, type Measurement, type SideContext } from '../lib/types.js';
import { contactFixture, ensureBaselineContacts } from './contacts-fixtures.js';

/** Processes per side, each running JOB_CONCURRENCY jobs at once (the gateway's default is 2). */
const PROCESSES = 2;
const CONCURRENCY = Math.max(1, Number(process.env.BENCH_JOB_CONCURRENCY ?? 2));
/** Jobs a second in the steady phase: few enough that the workers keep up (on the gateway too). */
const STEADY_RATE = Math.max(1, Number(process.env.BENCH_JOB_RATE ?? 10));
/** After the queueing stops, how long the workers may take to finish what was queued. */
const DRAIN_TIMEOUT_MS = 120_000;

/**
 * The job queue, with 1-row contacts.import jobs (a built-in type: the gateway's own workers run
 * them) queued on the first of PROCESSES processes, which all run jobs. Burst: for the harness's
 * seconds, its connections queue jobs back to back (the throughput: jobs queued per second), then
 * the queue drains. Steady: STEADY_RATE jobs a second for as long, then the queue drains; the
 * latency is how long each of these waited queued until a worker claimed it. The baseline is the
 * same queue and claim statement directly with pg (bench/jobs-baseline-server.ts), also in
 * PROCESSES processes.
 */
export const jobsQueue = defineScenario({
  id: 'jobs.queue',
  title: `1-row contacts.import jobs, ${PROCESSES} processes x ${CONCURRENCY} workers`,
  target: { kind: 'throughput', minRatio: 0.5 },
  env: { JOB_CONCURRENCY: String(CONCURRENCY) },

  async setup(ctx) {
    await ensureBaselineContacts(ctx.sql, ctx.baselineSchema);
    // The columns of the gateway's "Job" that queueing, claiming and finishing touch.
    await ctx.sql.query(`
      CREATE TABLE IF NOT EXISTS "${ctx.baselineSchema}"."Job" (
        "id" text PRIMARY KEY,
        "tenantId" text NOT NULL,
        "resourceType" text NOT NULL,
        "status" text NOT NULL DEFAULT 'queued',
        "input" jsonb NOT NULL,
        "attempts" integer NOT NULL DEFAULT 0,
        "runAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "leaseExpiresAt" timestamp(3),
        "createdAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "updatedAt" timestamp(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
        "startedAt" timestamp(3),
        "finishedAt" timestamp(3)
      );
      CREATE INDEX IF NOT EXISTS "Job_status_runAt_idx" ON "${ctx.baselineSchema}"."Job" ("status", "runAt");
    `);
    return { tenant: await ctx.createTenant('Bench jobs', ['communication']) };
  },

  baseline: { script: 'bench/jobs-baseline-server.ts' },

  async load(ctx, { tenant }) {
    const others = await Promise.all(Array.from({ length: PROCESSES - 1 }, (_, i) => startProcess(ctx, i + 2)));
    const pids = [ctx.pid, ...others.map((child) => child.process.pid!)];
    const table = ctx.side === 'gateway' ? '"Job"' : `"${ctx.baselineSchema}"."Job"`;
    const path = ctx.side === 'gateway' ? '/api/v1/contacts/contacts/import' : `/jobs?tenant=${tenant.tenantId}`;
    // The baseline gets the same headers; it just ignores them.
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${tenant.apiKey}` };
    let n = 0;
    /** A new job: one new contact, and a fresh Idempotency-Key. */
    const nextJob = () => {
      const label = `${ctx.runId}-${ctx.side}-job-${++n}`;
      return { headers: { 'idempotency-key': label }, body: { contacts: [contactFixture(label)] } };
    };

    /** `connections` clients queue jobs back to back for `seconds`. */
    async function queueBurst(options: LoadOptions): Promise<{ queued: Measurement; ids: string[] }> {
      const ids: string[] = [];
      const load: HttpLoad = {
        kind: 'http',
        method: 'POST',
        path,
        headers,
        vary: () => {
          const job = nextJob();
          return { headers: job.headers, body: JSON.stringify(job.body) };
        },
        verifyBody: (body) => {
          const jobId = jobIdOf(body);
          if (jobId) ids.push(jobId);
          return jobId !== null;
        },
      };
      return { queued: await measureHttp(ctx.baseUrl, load, options), ids };
    }

    /** STEADY_RATE jobs a second for `seconds`, each sent on time whether or not the previous one was answered. */
    async function queueSteadily(seconds: number): Promise<string[]> {
      const started = Date.now();
      const requests: Promise<string>[] = [];
      for (let i = 0; i < seconds * STEADY_RATE; i++) {
        await sleep(started + (i * 1000) / STEADY_RATE - Date.now());
        const job = nextJob();
        requests.push(
          requestJson(ctx.baseUrl, 'POST', path, { headers: { ...headers, ...job.headers }, body: job.body }).then(
            (res) => {
              const jobId = jobIdOf(res.text);
              if (res.status !== 202 || !jobId)
                throw new Error(`queueing a job failed: HTTP ${res.status} ${res.text.slice(0, 500)}`);
              return jobId;
            },
          ),
        );
      }
      return Promise.all(requests);
    }

    /** Waits until no job is queued or running (also those whose response the burst did not read). */
    async function drain(): Promise<void> {
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      while (Date.now() < deadline) {
        const { rows } = await ctx.sql.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${table} WHERE "status" IN ('queued', 'running')`,
        );
        if (rows[0]!.n === 0) return;
        await sleep(200);
      }
    }

    /** How the jobs fared: how long each waited for a worker, how fast they ran, which did not succeed. */
    async function outcome(ids: string[]) {
      const { rows } = await ctx.sql.query<{
        status: string;
        waitMs: number | null;
        createdAt: number;
        finishedAt: number | null;
      }>(
        `SELECT "status", EXTRACT(EPOCH FROM "startedAt" - "createdAt")::float8 * 1000 AS "waitMs",
                EXTRACT(EPOCH FROM "createdAt")::float8 * 1000 AS "createdAt", EXTRACT(EPOCH FROM "finishedAt")::float8 * 1000 AS "finishedAt"
         FROM ${table} WHERE "id" = ANY($1)`,
        [ids],
      );
      const first = rows.reduce((min, job) => Math.min(min, job.createdAt), Infinity);
      const last = rows.reduce((max, job) => Math.max(max, job.finishedAt ?? 0), 0);
      const succeeded = rows.filter((job) => job.status === 'succeeded').length;
      return {
        waits: percentiles(rows.flatMap((job) => (job.waitMs === null ? [] : [job.waitMs]))),
        ranPerSecond: (succeeded / (last - first)) * 1000,
        unfinished: rows.filter((job) => job.status === 'queued' || job.status === 'running').length,
        failed: rows.filter((job) => job.status === 'failed' || job.status === 'canceled').length,
      };
    }

    return {
      kind: 'custom',
      async run(options) {
        try {
          const cpuBefore = totalCpuMs(pids);
          const burst = await queueBurst(options);
          await drain();
          const steadyIds = await queueSteadily(options.seconds);
          await drain();
          const cpuMs = totalCpuMs(pids) - cpuBefore;
          const [ofBurst, ofSteady] = [await outcome(burst.ids), await outcome(steadyIds)];
          const failed = ofBurst.failed + ofSteady.failed;
          const unfinished = ofBurst.unfinished + ofSteady.unfinished;
          const queued = burst.ids.length + steadyIds.length;
          return {
            ...burst.queued,
            ...ofSteady.waits,
            ok: queued,
            errors: burst.queued.errors + failed,
            timeouts: burst.queued.timeouts + unfinished,
            failureSamples: [
              ...burst.queued.failureSamples,
              ...(failed ? [`${failed} jobs failed or were canceled`] : []),
              ...(unfinished
                ? [`${unfinished} jobs not finished ${DRAIN_TIMEOUT_MS / 1000} s after the last was queued`]
                : []),
            ],
            serverCpuMsPerRequest: cpuMs / queued,
            notes: [
              `burst: ${burst.ids.length} jobs queued at ${burst.queued.throughput.toFixed(0)}/s ran at ${ofBurst.ranPerSecond.toFixed(0)}/s ` +
                `(first queued to last finished); their wait for a worker p50 ${ofBurst.waits.p50.toFixed(0)} ms, p99 ${ofBurst.waits.p99.toFixed(0)} ms`,
              `steady: ${steadyIds.length} jobs at ${STEADY_RATE}/s; their wait for a worker is p50/p99 in the table`,
            ],
          };
        } finally {
          if (!options.warmup) await Promise.all(others.map((child) => child.stop()));
        }
      },
    };
  },
});

/** Another process of the side, with the environment the harness gives the first (bench/run.ts startSide). */
async function startProcess(ctx: SideContext, number: number): Promise<Child> {
  const port = await freePort();
  const env = {
    DATABASE_URL: ctx.databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    BENCH_BASELINE_SCHEMA: ctx.baselineSchema,
    ...jobsQueue.env,
  };
  const child = startNode(
    `${ctx.side} ${number}`,
    ctx.side === 'gateway' ? 'src/main.ts' : 'bench/jobs-baseline-server.ts',
    env,
  );
  try {
    await waitForHealthy(child, `http://127.0.0.1:${port}/health`);
  } catch (error) {
    await child.stop();
    throw error;
  }
  return child;
}

function jobIdOf(body: string): string | null {
  try {
    const jobId: unknown = JSON.parse(body).jobId;
    return typeof jobId === 'string' ? jobId : null;
  } catch {
    return null;
  }
}

function totalCpuMs(pids: number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuMs(pid) ?? 0), 0);
}
