// PostgreSQL CPU per webhook delivery on its own rows, with the feature's statements (sql.ts) and
// no HTTP: the relay's insert (500 events × 10 endpoints per statement), claims of 40 each followed
// by their records (17 attempts per statement, as the worker's group commit averages in
// webhooks.delivery). CPU is the backend's own (/proc), so other work on the machine moves it
// less than wall time; how many claims were HOT updates comes from pg_stat_user_tables. Uses a
// throw-away database like bench/run.ts; PostgreSQL must run on this machine.
//   npx tsx bench/tools/webhook-rows.ts [rounds]
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { newId } from '../../src/core/ids.js';
import { openDatabase } from '../../src/db/database.js';
import type { Prisma } from '../../src/generated/prisma/client.js';
import {
  type AttemptRow,
  type ClaimRow,
  claimDueDeliveries,
  insertDeliveries,
  recordAttempts,
} from '../../src/features/webhooks/sql.js';
import { createBenchDatabase, DEFAULT_DATABASE_URL } from '../lib/database.js';

const rounds = Number(process.argv[2] ?? 3);
const ENDPOINTS = 10;
const EVENTS = 1000;
const RELAY_BATCH = 500;
const CLAIM_SIZE = 40;
const RECORD_SIZE = 17;
const EVENT_TYPE = 'communication.contact.created';

const serverUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const bench = await createBenchDatabase(serverUrl, `nilo_bench_tool_${process.pid}`);
try {
  const config = { ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' }), databaseUrl: bench.url };
  await (await openDatabase(config)).close();
  const client = new pg.Client({ connectionString: bench.url });
  await client.connect();
  try {
    await measure(client);
  } finally {
    await client.end();
  }
} finally {
  await bench.drop();
}

async function measure(client: pg.Client): Promise<void> {
  // Named, so each text is prepared once, as the gateway's pool does.
  const run = <Row extends pg.QueryResultRow>(statement: Prisma.Sql, name: string) =>
    client.query<Row>({ text: statement.text, values: statement.values, name });
  const { pid } = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!;
  const tenantId = newId('ten');
  await client.query(`INSERT INTO "Tenant" ("id", "name", "features", "updatedAt") VALUES ($1, 'Rows', $2, now())`, [
    tenantId,
    ['communication'],
  ]);
  const endpoints = Array.from({ length: ENDPOINTS }, () => newId('whep'));
  for (const id of endpoints) {
    await client.query(
      `INSERT INTO "WebhookEndpoint" ("id", "tenantId", "url", "eventTypes", "updatedAt") VALUES ($1, $2, 'http://127.0.0.1:9/', $3, now())`,
      [id, tenantId, [EVENT_TYPE]],
    );
    await client.query(`INSERT INTO "WebhookSecret" ("id", "endpointId", "secret") VALUES ($1, $2, $3)`, [
      newId('whsk'),
      id,
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    ]);
  }
  const events = Array.from({ length: EVENTS }, () => newId('evt'));
  await client.query(
    `INSERT INTO "Event" ("id", "tenantId", "tenantSequence", "type", "correlationId", "resourceType", "resourceId", "data")
     SELECT e.id, $2, e.n, $3, 'rows', 'contact', 'contact_rows', '{"email":"ada@bench.example","firstName":"Ada"}'
     FROM unnest($1::text[]) WITH ORDINALITY AS e(id, n)`,
    [events, tenantId, EVENT_TYPE],
  );

  const cpuMs = { insert: 0, claim: 0, record: 0 };
  let hot = 0;
  for (let round = 0; round < rounds; round++) {
    await client.query('DELETE FROM "WebhookDelivery"');
    await client.query('VACUUM ANALYZE "WebhookDelivery", "WebhookAttempt"');
    const before = await updates(client);
    let started = backendCpuMs(pid);
    for (let first = 0; first < EVENTS; first += RELAY_BATCH) {
      const deliveries = events.slice(first, first + RELAY_BATCH).flatMap((eventId) =>
        endpoints.map((endpointId) => ({
          id: newId('whdel'),
          tenantId,
          endpointId,
          eventId,
          eventType: EVENT_TYPE,
        })),
      );
      await run(insertDeliveries(deliveries), 'insert');
    }
    cpuMs.insert += backendCpuMs(pid) - started;
    for (;;) {
      started = backendCpuMs(pid);
      const claim = claimDueDeliveries({ held: new Map(), leaseMs: 20_000, perEndpoint: 4, claimSize: CLAIM_SIZE });
      const claimed = (await run<ClaimRow>(claim, 'claim')).rows[0]?.deliveries ?? [];
      cpuMs.claim += backendCpuMs(pid) - started;
      started = backendCpuMs(pid);
      for (let first = 0; first < claimed.length; first += RECORD_SIZE)
        await run(recordAttempts(claimed.slice(first, first + RECORD_SIZE).map(succeeded)), 'record');
      cpuMs.record += backendCpuMs(pid) - started;
      if (claimed.length < CLAIM_SIZE) break;
    }
    const after = await updates(client);
    hot += after.hot - before.hot;
  }
  const perDelivery = (ms: number) => `${((ms * 1000) / (rounds * EVENTS * ENDPOINTS)).toFixed(1)} µs`;
  console.log(
    `PostgreSQL CPU per delivery over ${rounds} × ${EVENTS * ENDPOINTS} deliveries: insert ${perDelivery(cpuMs.insert)}, ` +
      `claim ${perDelivery(cpuMs.claim)}, record ${perDelivery(cpuMs.record)}, ` +
      `total ${perDelivery(cpuMs.insert + cpuMs.claim + cpuMs.record)}; ` +
      `HOT updates ${hot} of ${rounds * EVENTS * ENDPOINTS} claims (records are never HOT)`,
  );
}

/** A 204 attempt of a claimed delivery, as record.ts writes it. */
function succeeded(delivery: { id: string }): AttemptRow {
  return {
    attemptId: newId('whatt'),
    deliveryId: delivery.id,
    attemptedAt: new Date().toISOString(),
    durationMs: 1,
    statusCode: 204,
    responseHeaders: { date: new Date().toUTCString(), connection: 'keep-alive', 'keep-alive': 'timeout=5' },
    responseBody: '',
    error: null,
    status: 'succeeded',
    nextAttemptAt: null,
  };
}

/** The backend's user and system CPU so far, in ms (clock ticks of 10 ms). */
function backendCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The deliveries table's HOT updates so far, once this backend's statistics are flushed. */
async function updates(client: pg.Client): Promise<{ hot: number }> {
  await sleep(1100);
  await client.query('SELECT pg_stat_clear_snapshot()');
  const { rows } = await client.query<{ hot: string }>(
    `SELECT n_tup_hot_upd AS hot FROM pg_stat_user_tables WHERE relname = 'WebhookDelivery'`,
  );
  return { hot: Number(rows[0]?.hot ?? 0) };
}
