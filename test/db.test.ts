import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { loadConfig } from '../src/config.js';
import { Prisma } from '../src/generated/prisma/client.js';
import { dataDirHolder, MAX_PREPARED_STATEMENTS, openDatabase, type Database } from '../src/db/database.js';
import { applyMigrations, pendingSchemaChanges, projectRoot } from '../src/db/migrate.js';
import { createDatabase, createTenant, http, useGateway, type Tenant } from './support/gateway.js';
import { settledJob } from './support/jobs.js';
import { scratchDir } from './support/scratch.js';

// Starting PGlite on a fresh folder runs initdb (~3 s).
const SLOW = 30_000;

const migrationNames = readdirSync(path.join(projectRoot, 'prisma/migrations'), { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

function tempDir(): string {
  return scratchDir('gateway-db-test-');
}

describe('openDatabase without DATABASE_URL (PGlite)', { timeout: SLOW }, () => {
  const dataDir = path.join(tempDir(), 'data'); // not created yet: openDatabase must mkdir -p
  const config = loadConfig({ DATA_DIR: dataDir });
  let db: Database;

  beforeAll(async () => {
    const started = performance.now();
    let applied: string[] = [];
    db = await openDatabase(config, { onMigrationsApplied: (names) => (applied = names) });
    console.log(`openDatabase (PGlite, fresh folder, with migrations): ${Math.round(performance.now() - started)} ms`);
    expect(db.kind).toBe('pglite');
    expect(applied).toEqual(migrationNames);
  }, SLOW);

  afterAll(async () => {
    await db?.close();
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  });

  test('creates and reads a Tenant', async () => {
    await db.prisma.tenant.create({ data: { id: 'ten_1', name: 'Acme', features: ['accounting'] } });
    const tenant = await db.prisma.tenant.findUniqueOrThrow({ where: { id: 'ten_1' } });
    expect(tenant).toMatchObject({ name: 'Acme', features: ['accounting'], eventSequence: 0 });
  });

  test('refuses a second open of the held folder', async () => {
    expect(dataDirHolder(dataDir)).toBe(process.pid);
    await expect(openDatabase(config)).rejects.toThrow(`Data folder ${dataDir} is in use by process ${process.pid}`);
  });

  test('queues concurrent interactive transactions (PGlite runs one at a time)', async () => {
    const key = { tenantId_year: { tenantId: 'ten_1', year: 2026 } };
    await db.prisma.invoiceCounter.create({ data: { tenantId: 'ten_1', year: 2026, last: 0 } });
    // Read-then-write on purpose: only correct if the transactions really run one after another.
    const increment = () =>
      db.prisma.$transaction(async (tx) => {
        const counter = await tx.invoiceCounter.findUniqueOrThrow({ where: key });
        await tx.invoiceCounter.update({ where: key, data: { last: counter.last + 1 } });
      });
    await Promise.all(Array.from({ length: 20 }, increment));
    expect((await db.prisma.invoiceCounter.findUniqueOrThrow({ where: key })).last).toBe(20);
  });

  test('close releases the folder; reopening applies nothing and keeps the data', async () => {
    await db.close();
    expect(dataDirHolder(dataDir)).toBeNull();

    let applied: string[] | undefined;
    db = await openDatabase(config, { onMigrationsApplied: (names) => (applied = names) });
    expect(applied).toEqual([]);
    expect(await db.prisma.tenant.count()).toBe(1);
  });
});

describe('dataDirHolder', () => {
  test('treats a lock left by a dead process as free, and one of a live process as held', () => {
    const dir = tempDir();
    try {
      expect(dataDirHolder(dir)).toBeNull();
      const deadPid = spawnSync(process.execPath, ['-e', '']).pid;
      writeFileSync(path.join(dir, 'gateway.lock'), String(deadPid));
      expect(dataDirHolder(dir)).toBeNull();
      writeFileSync(path.join(dir, 'gateway.lock'), String(process.ppid));
      expect(dataDirHolder(dir)).toBe(process.ppid);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('migrations folder', () => {
  test(
    'matches prisma/schema.prisma (run `npm run db:migration:create -- <name>` if not)',
    async () => {
      expect(await pendingSchemaChanges()).toBeNull();
    },
    SLOW,
  );

  test(
    'a failing migration is reported and recorded as failed',
    async () => {
      const dir = tempDir();
      mkdirSync(path.join(dir, '20200101000000_broken'));
      writeFileSync(
        path.join(dir, '20200101000000_broken/migration.sql'),
        'CREATE TABLE t (id int);\nCREATE TABLE t (id int);\n',
      );
      const pglite = await PGlite.create();
      try {
        await expect(applyMigrations({ pglite }, dir)).rejects.toThrow('relation "t" already exists');
        const { rows } = await pglite.query(`SELECT finished_at FROM _prisma_migrations`);
        expect(rows).toEqual([{ finished_at: null }]);
      } finally {
        await pglite.close();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    SLOW,
  );
});

const { databaseUrl } = loadConfig();

// Registered only when DATABASE_URL is set (the second pass of .ci/run), so no run reports it as skipped.
if (databaseUrl)
  describe('applyMigrations on PostgreSQL', { timeout: SLOW }, () => {
    // A database of its own, so the race starts from nothing even when other suites migrated theirs.
    const database = `gateway_migrate_test_${process.pid}_${Date.now()}`;
    const url = new URL(databaseUrl ?? 'postgresql://unused');
    url.pathname = `/${database}`;

    beforeAll(() => runSql(databaseUrl, [`CREATE DATABASE "${database}"`]));
    afterAll(() => runSql(databaseUrl, [`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`]));

    test('three concurrent runs apply each migration exactly once', async () => {
      const runs = await Promise.all([1, 2, 3].map(() => applyMigrations({ databaseUrl: url.toString() })));
      expect(runs.flat().sort()).toEqual(migrationNames);
      expect(await applyMigrations({ databaseUrl: url.toString() })).toEqual([]);
    });
  });

// Prisma writes DateTime as UTC wall time; the job and delivery queues compare it with now(). On a
// PostgreSQL whose sessions default to another time zone, jobs must still run when due.
// Registered only with DATABASE_URL: the embedded database has no server time zone to set.
if (databaseUrl)
  describe('a server whose sessions default to another time zone', { timeout: SLOW }, () => {
    const newYork = `${databaseUrl}${databaseUrl.includes('?') ? '&' : '?'}options=${encodeURIComponent('-c TimeZone=America/New_York')}`;
    const gateway = useGateway({ DATABASE_URL: newYork });

    test('a job queued through the gateway runs at once', async () => {
      const tenant = await createTenant(gateway.app);
      const started = await http(gateway.url, 'POST', '/api/v1/contacts/contacts/import', {
        key: tenant.apiKey,
        body: { contacts: [{ email: 'tz@example.com' }] },
      });
      expect(started.status).toBe(202);
      const job = await settledJob(gateway.url, tenant.apiKey, started.body.jobId, 10_000);
      expect(job).toMatchObject({ status: 'succeeded', result: { created: 1 } });
      const queuedToFinished = Date.parse(job.finishedAt) - Date.parse(job.createdAt);
      expect(queuedToFinished).toBeGreaterThanOrEqual(0);
      expect(queuedToFinished).toBeLessThan(10_000);
    });
  });

// Registered only with DATABASE_URL: statements are prepared by the PostgreSQL driver.
if (databaseUrl)
  describe('statements on PostgreSQL', { timeout: SLOW }, () => {
    let db: Database;
    beforeAll(async () => {
      db = await openDatabase(loadConfig({ DATABASE_URL: databaseUrl }), { migrate: false });
    });
    afterAll(() => db?.close());

    /** The statements the transaction's connection holds prepared, after running `sqls` on it. */
    function preparedAfter(sqls: string[], on = db): Promise<{ name: string; statement: string }[]> {
      return on.prisma.$transaction(async (tx) => {
        for (const sql of sqls) await tx.$queryRawUnsafe(sql);
        return tx.$queryRaw<
          { name: string; statement: string }[]
        >`SELECT "name", "statement" FROM pg_prepared_statements`;
      });
    }

    test('a transaction whose connection the server ends is rejected, and the process goes on', async () => {
      const admin = new pg.Client({ connectionString: databaseUrl });
      await admin.connect();
      try {
        const outcome = await db
          .transaction(async (query) => {
            const [{ pid }] = await query<{ pid: number }>(Prisma.sql`SELECT pg_backend_pid() AS "pid"`);
            await admin.query('SELECT pg_terminate_backend($1)', [pid]);
            // Idle between statements, as the relay is while it publishes: the error arrives now.
            await new Promise((resolve) => setTimeout(resolve, 300));
            return query(Prisma.sql`SELECT 1`);
          })
          .then(
            () => 'committed',
            () => 'rejected',
          );
        expect(outcome).toBe('rejected');
        expect(await db.transaction((query) => query<{ one: number }>(Prisma.sql`SELECT 1 AS "one"`))).toEqual([
          { one: 1 },
        ]);
      } finally {
        await admin.end();
      }
    });

    test('a statement is prepared once per connection and reused', async () => {
      const sql = `SELECT 'prepared once' AS "probe"`;
      const first = await preparedAfter([sql, sql]);
      expect(first.filter((s) => s.statement === sql)).toHaveLength(1);
      expect(first.find((s) => s.statement === sql)!.name).toMatch(/^nilo_\d+$/);
    });

    test('with DATABASE_PREPARED_STATEMENTS=off nothing is prepared (for poolers that cannot keep them)', async () => {
      const unprepared = await openDatabase(
        loadConfig({ DATABASE_URL: databaseUrl, DATABASE_PREPARED_STATEMENTS: 'off' }),
        { migrate: false },
      );
      try {
        const sql = `SELECT 'never prepared' AS "probe"`;
        expect(await preparedAfter([sql, sql], unprepared)).toEqual([]);
      } finally {
        await unprepared.close();
      }
    });

    test('distinct texts beyond the bound run unprepared', async () => {
      const sqls = Array.from({ length: MAX_PREPARED_STATEMENTS + 20 }, (_, i) => `SELECT ${i} AS "bound probe"`);
      const prepared = await preparedAfter(sqls);
      expect(prepared.length).toBeLessThanOrEqual(MAX_PREPARED_STATEMENTS + 1);
      expect(prepared.filter((s) => s.statement.includes('bound probe')).length).toBeLessThan(sqls.length);
      expect(prepared.some((s) => s.statement === sqls.at(-1))).toBe(false);
    });
  });

describe('DATABASE_PREPARED_STATEMENTS', () => {
  test('takes on or off, and refuses anything else by name', () => {
    expect(loadConfig({ DATABASE_PREPARED_STATEMENTS: 'off' }).preparedStatements).toBe(false);
    expect(loadConfig({}).preparedStatements).toBe(true);
    expect(() => loadConfig({ DATABASE_PREPARED_STATEMENTS: 'yes' })).toThrow(
      /^Invalid configuration: DATABASE_PREPARED_STATEMENTS: /,
    );
  });
});

// A newer version's migration runs while older processes still serve. Their statements name the
// columns they know, so their prepared plans stay valid and new columns get their defaults.
if (databaseUrl)
  describe('a column added while the gateway runs (rolling deploy)', { timeout: SLOW }, () => {
    const env: Record<string, string> = {};
    let database: Awaited<ReturnType<typeof createDatabase>>;
    beforeAll(async () => {
      database = await createDatabase(databaseUrl);
      env.DATABASE_URL = database.url;
    });
    const gateway = useGateway(env);
    afterAll(() => database?.drop());

    async function writeContactsAndImport(tenant: Tenant, label: string) {
      const created = await http(gateway.url, 'POST', '/api/v1/contacts/contacts', {
        key: tenant.apiKey,
        body: { email: `${label}@example.com` },
      });
      expect(created.status).toBe(201);
      const started = await http(gateway.url, 'POST', '/api/v1/contacts/contacts/import', {
        key: tenant.apiKey,
        body: {
          contacts: [{ email: `${label}@example.com`, firstName: 'Updated' }, { email: `${label}-new@example.com` }],
        },
      });
      expect(started.status).toBe(202);
      const job = await settledJob(gateway.url, tenant.apiKey, started.body.jobId, 10_000);
      expect(job).toMatchObject({ status: 'succeeded', result: { created: 1, updated: 1, failed: 0 } });
      return created.body.contactId as string;
    }

    test('contacts and jobs are still written and read, and the new columns get their defaults', async () => {
      const tenant = await createTenant(gateway.app);
      await writeContactsAndImport(tenant, 'before');

      await runSql(database.url, [
        `ALTER TABLE "Contact" ADD COLUMN "addedLater" text NOT NULL DEFAULT 'default'`,
        `ALTER TABLE "Job" ADD COLUMN "addedLater" text NOT NULL DEFAULT 'default'`,
      ]);

      const contactId = await writeContactsAndImport(tenant, 'after');
      const read = await http(gateway.url, 'GET', `/api/v1/contacts/contacts/${contactId}`, { key: tenant.apiKey });
      expect(read.status).toBe(200);
      expect(read.body).not.toHaveProperty('addedLater');
      const rows = await runSql(database.url, [
        `SELECT DISTINCT "addedLater" FROM "Contact" UNION SELECT DISTINCT "addedLater" FROM "Job"`,
      ]);
      expect(rows).toEqual([{ addedLater: 'default' }]);
    });
  });

/** Runs statements on `url` in order; returns the last one's rows. */
async function runSql(url: string, statements: string[]): Promise<unknown[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    let rows: unknown[] = [];
    for (const sql of statements) rows = (await client.query(sql)).rows;
    return rows;
  } finally {
    await client.end();
  }
}
