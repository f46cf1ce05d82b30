// The job queue's peer: graphile-worker 0.18, in a bare node:http server that, like a gateway
// process, both queues jobs and runs them.
//   GET  /health
//   POST /jobs?task=noop|import&tenant=<id>  the body is the job's payload → addJob through one
//                           makeWorkerUtils() (its fair enqueue path: quickAddJob opens a pool per
//                           call); 202 {"jobId"}
//   GET  /stats             {"completed", "lastFinishedAt", "pending"}: jobs this process ran to the
//                           end (graphile-worker deletes finished jobs, so the bench cannot read
//                           them back), and how many are still queued or running
//   worker                  graphile-worker's run() with JOB_CONCURRENCY jobs at once, unbatched (no
//                           local queue), woken by its own LISTEN: "noop" does nothing, "import"
//                           does a 1-row contacts.import's upsert (bench/scenarios/contacts-fixtures.ts)
// Env: PORT, DATABASE_URL (the bench database), BENCH_BASELINE_SCHEMA, JOB_CONCURRENCY, BENCH_POOL_SIZE.
import './lib/promise-with-resolvers.js';
import { createServer } from 'node:http';
import { makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { sendJson, serveUntilSignalled } from './lib/http.js';
import { upsertBaselineContacts, type ContactFixture } from './scenarios/contacts-fixtures.js';

const port = Number(process.env.PORT ?? 0);
const schema = process.env.BENCH_BASELINE_SCHEMA ?? 'bench_baseline';
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');
const concurrency = Number(process.env.JOB_CONCURRENCY ?? 2);

/** The gateway's pool size (src/db/database.ts), or graphile-worker's own minimum for its concurrency. */
const pool = new pg.Pool({
  connectionString: databaseUrl,
  max: Math.max(Number(process.env.BENCH_POOL_SIZE ?? 10), concurrency + 2),
});
const utils = await makeWorkerUtils({ pgPool: pool });
await utils.migrate();

const stats = { completed: 0, lastFinishedAt: 0 };
const finished = () => {
  stats.completed++;
  stats.lastFinishedAt = Date.now();
};

type ImportPayload = { tenantId: string; contacts: ContactFixture[] };

const runner = await run({
  pgPool: pool,
  concurrency,
  noHandleSignals: true,
  pollInterval: 1000,
  taskList: {
    async noop() {
      finished();
    },
    async import(payload) {
      const { tenantId, contacts } = payload as ImportPayload;
      await upsertBaselineContacts(pool, schema, tenantId, contacts);
      finished();
    },
  },
});

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const send = (status: number, body: unknown) => sendJson(res, status, body);
  if (req.method === 'GET' && url.pathname === '/health') return send(200, { status: 'ok' });
  if (req.method === 'GET' && url.pathname === '/stats') {
    pool.query<{ pending: number }>('SELECT count(*)::int AS pending FROM graphile_worker._private_jobs').then(
      ({ rows }) => send(200, { ...stats, pending: rows[0]!.pending }),
      (error: Error) => send(500, { error: 'internal_error', message: error.message }),
    );
    return;
  }
  if (req.method !== 'POST' || url.pathname !== '/jobs') return send(404, { error: 'not_found' });
  const task = url.searchParams.get('task');
  if (task !== 'noop' && task !== 'import') return send(400, { error: 'unknown_task' });
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
    const payload = task === 'import' ? { tenantId: url.searchParams.get('tenant'), contacts: body.contacts } : body;
    utils.addJob(task, payload).then(
      (job) => send(202, { jobId: job.id }),
      (error: Error) => send(500, { error: 'internal_error', message: error.message }),
    );
  });
});

serveUntilSignalled(server, port, () =>
  runner
    .stop()
    .then(() => utils.release())
    .then(() => pool.end()),
);
