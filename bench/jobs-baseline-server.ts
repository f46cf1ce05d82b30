// The jobs.queue baseline: the gateway's job queue done directly with pg, in a bare node:http
// server that, like a gateway process, both queues jobs and runs them.
//   GET  /health
//   POST /jobs?tenant=<id>  {"contacts": [...]} → one INSERT of a queued contacts.import job and a
//                           NOTIFY; 202 {"jobId"}
//   worker                  woken by the NOTIFY (and every EVENT_POLL_MS): claims up to
//                           JOB_CONCURRENCY − running jobs with the gateway's claim statement
//                           (UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING), runs
//                           each (one contacts upsert) and marks it succeeded
// Env: PORT, DATABASE_URL (the bench database), BENCH_BASELINE_SCHEMA, JOB_CONCURRENCY, EVENT_POLL_MS,
// BENCH_POOL_SIZE.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import pg from 'pg';
import { sendJson } from './lib/http.js';
import { upsertBaselineContacts, type ContactFixture } from './scenarios/contacts-fixtures.js';

const port = Number(process.env.PORT ?? 0);
const schema = process.env.BENCH_BASELINE_SCHEMA ?? 'bench_baseline';
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');
/** The gateway's defaults (src/config.ts): jobs one process runs at once, safety-net poll. */
const concurrency = Number(process.env.JOB_CONCURRENCY ?? 2);
const pollMs = Number(process.env.EVENT_POLL_MS ?? 1000);
/** The gateway's JOB_LEASE default (src/config.ts). */
const LEASE_MS = 30_000;
const CHANNEL = 'bench_jobs';
const TYPE = 'contacts.import';

/** Same size as the gateway's pool (src/db/database.ts POOL_SIZE). */
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BENCH_POOL_SIZE ?? 10) });
const jobs = `"${schema}"."Job"`;

type ClaimedJob = { id: string; tenantId: string; input: { contacts: ContactFixture[] } };

async function enqueue(req: IncomingMessage, url: URL): Promise<{ jobId: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const { rows } = await pool.query<{ jobId: string }>(
    `WITH job AS (INSERT INTO ${jobs} ("id", "tenantId", "resourceType", "input") VALUES ($1, $2, $3, $4) RETURNING "id")
     SELECT "id" AS "jobId", pg_notify($5, $3) FROM job`,
    [`job_${randomUUID()}`, url.searchParams.get('tenant'), TYPE, Buffer.concat(chunks).toString('utf8'), CHANNEL],
  );
  return { jobId: rows[0]!.jobId };
}

// --- the worker: the gateway's claim loop (src/features/jobs/worker.ts) without its Prisma layer and events
const running = new Set<Promise<void>>();
let claiming = false;
let again = false;

function wake(): void {
  if (claiming) {
    again = true;
    return;
  }
  claiming = true;
  void claimAndRun()
    .catch((error: Error) => console.error(`claim failed: ${error.message}`))
    .finally(() => {
      claiming = false;
      if (again) {
        again = false;
        wake();
      }
    });
}

async function claimAndRun(): Promise<void> {
  const room = concurrency - running.size;
  if (room <= 0) return;
  const { rows } = await pool.query<ClaimedJob>(
    `UPDATE ${jobs} SET "status" = 'running', "attempts" = "attempts" + 1,
            "leaseExpiresAt" = now() + $1 * interval '1 millisecond', "startedAt" = coalesce("startedAt", now()), "updatedAt" = now()
     WHERE "id" IN (
       SELECT "id" FROM ${jobs}
       WHERE "status" = 'queued' AND "runAt" <= now() AND "resourceType" = ANY($2)
       ORDER BY "runAt", "id" LIMIT $3
       FOR UPDATE SKIP LOCKED)
     RETURNING "id", "tenantId", "input"`,
    [LEASE_MS, [TYPE], room],
  );
  for (const job of rows) {
    const task = run(job)
      .catch((error: Error) => console.error(`job ${job.id} failed: ${error.message}`))
      .finally(() => {
        running.delete(task);
        wake();
      });
    running.add(task);
  }
}

async function run(job: ClaimedJob): Promise<void> {
  await upsertBaselineContacts(pool, schema, job.tenantId, job.input.contacts);
  await pool.query(
    `UPDATE ${jobs} SET "status" = 'succeeded', "finishedAt" = now(), "leaseExpiresAt" = NULL, "updatedAt" = now() WHERE "id" = $1`,
    [job.id],
  );
}

const listener = new pg.Client({ connectionString: databaseUrl });
await listener.connect();
listener.on('notification', wake);
await listener.query(`LISTEN ${CHANNEL}`);
const poll = setInterval(wake, pollMs);
wake();

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const send = (status: number, body: unknown) => sendJson(res, status, body);
  if (req.method === 'GET' && url.pathname === '/health') return send(200, { status: 'ok' });
  if (req.method !== 'POST' || url.pathname !== '/jobs') return send(404, { error: 'not_found' });
  enqueue(req, url).then(
    (receipt) => send(202, receipt),
    (error: Error) => send(500, { error: 'internal_error', message: error.message }),
  );
});

server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    clearInterval(poll);
    server.close();
    server.closeAllConnections();
    Promise.all(running)
      .then(() => Promise.all([listener.end(), pool.end()]))
      .finally(() => process.exit(0));
  });
}
