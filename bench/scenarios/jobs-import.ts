import { setTimeout as sleep } from 'node:timers/promises';
import { customMeasurement } from '../lib/custom-load.js';
import { requestJson } from '../lib/http.js';
import { defineScenario } from '../lib/types.js';
import {
  contactFixture,
  ensureBaselineContacts,
  upsertBaselineContacts,
  type ContactFixture,
} from './contacts-fixtures.js';

const ROWS = Math.max(1, Number(process.env.BENCH_IMPORT_ROWS ?? 20_000));
const WARMUP_ROWS = Math.min(ROWS, 1_000);
/** The gateway's rows per transaction (src/features/contacts/import.ts CHUNK), the baseline's batch. */
const CHUNK = 500;
const BASELINE_TENANT = 'ten_bench_import';
const POLL_MS = 100;

type Imported = { finishedAt: number; chunkMs: number[] };

/**
 * One large contacts.import of new contacts: rows per second from sending the request to the last
 * row written, and the time per 500-row chunk. The baseline upserts the same rows with one
 * multi-row INSERT … ON CONFLICT per 500, in the request.
 */
export const jobsImport = defineScenario({
  id: 'jobs.import',
  title: `contacts.import of ${ROWS} rows`,
  target: { kind: 'throughput', minRatio: 0.5 },

  async setup(ctx) {
    await ensureBaselineContacts(ctx.sql, ctx.baselineSchema);
    return { tenant: await ctx.createTenant('Bench import', ['communication']) };
  },

  baseline: {
    method: 'POST',
    async handle({ pool, schema, body }) {
      const { contacts } = body as { contacts: ContactFixture[] };
      const chunkMs: number[] = [];
      for (let start = 0; start < contacts.length; start += CHUNK) {
        const began = performance.now();
        await upsertBaselineContacts(pool, schema, BASELINE_TENANT, contacts.slice(start, start + CHUNK));
        chunkMs.push(performance.now() - began);
      }
      return { status: 200, body: { chunkMs } };
    },
  },

  async load(ctx, { tenant }) {
    const authorization = `Bearer ${tenant.apiKey}`;

    /** Queues the import, polls the job until it ended; chunk times from its progress events (one after each chunk). */
    async function viaGateway(contacts: ContactFixture[]): Promise<Imported> {
      const queued = await requestJson(ctx.baseUrl, 'POST', '/api/v1/contacts/contacts/import', {
        headers: { authorization },
        body: { contacts },
      });
      if (queued.status !== 202)
        throw new Error(`the import was refused: HTTP ${queued.status} ${queued.text.slice(0, 500)}`);
      let job = queued.body;
      while (job.status === 'queued' || job.status === 'running') {
        await sleep(POLL_MS);
        job = (await requestJson(ctx.baseUrl, 'GET', queued.body.pollPath, { headers: { authorization } })).body;
      }
      if (job.status !== 'succeeded' || job.result.created !== contacts.length) {
        throw new Error(
          `the import of ${contacts.length} rows ended ${job.status}: ${JSON.stringify(job.result ?? job.error).slice(0, 500)}`,
        );
      }
      const { rows } = await ctx.sql.query<{ at: number }>(
        `SELECT EXTRACT(EPOCH FROM "occurredAt")::float8 * 1000 AS at FROM "Event" WHERE "resourceId" = $1 AND "type" = 'jobs.job.progress' ORDER BY "tenantSequence"`,
        [job.jobId],
      );
      return { finishedAt: Date.parse(job.finishedAt), chunkMs: rows.slice(1).map((row, i) => row.at - rows[i]!.at) };
    }

    async function viaBaseline(contacts: ContactFixture[]): Promise<Imported> {
      const res = await requestJson(ctx.baseUrl, 'POST', '/jobs.import', { body: { contacts } });
      if (res.status !== 200)
        throw new Error(`the baseline import failed: HTTP ${res.status} ${res.text.slice(0, 500)}`);
      return { finishedAt: Date.now(), chunkMs: res.body.chunkMs };
    }

    return {
      kind: 'custom',
      // The harness's seconds and connections do not apply: the work is one import.
      async run({ warmup }) {
        const rows = warmup ? WARMUP_ROWS : ROWS;
        const label = `${ctx.runId}-${ctx.side}-import-${warmup ? 'warmup' : 'measured'}`;
        const contacts = Array.from({ length: rows }, (_, i) => contactFixture(`${label}-${i}`));
        const started = Date.now();
        const { finishedAt, chunkMs } =
          ctx.side === 'gateway' ? await viaGateway(contacts) : await viaBaseline(contacts);
        return customMeasurement({ ok: rows, durationSeconds: (finishedAt - started) / 1000, latenciesMs: chunkMs });
      },
    };
  },
});
