// CPU per contacts page (50 of a tenant's 1,000 rows, the GraphQL list's columns) inside one Node
// process, sequentially: Prisma's findMany, Prisma's $queryRaw of one statement, and pg directly.
// Diagnostic for the GraphQL list's data access; uses a throw-away database like bench/run.ts.
//   npx tsx bench/tools/list-overhead.ts [iterations]
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { Prisma } from '../../src/generated/prisma/client.js';
import { createBenchDatabase, DEFAULT_DATABASE_URL } from '../lib/database.js';

const iterations = Number(process.argv[2] ?? 1000);
const serverUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const bench = await createBenchDatabase(serverUrl, `nilo_bench_tool_${process.pid}`);
try {
  const config = { ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' }), databaseUrl: bench.url };
  const database = await openDatabase(config);
  const { prisma } = database;
  const pool = new pg.Pool({ connectionString: bench.url, max: 1 });
  try {
    const tenantId = 'ten_overhead';
    await pool.query(
      `INSERT INTO "Tenant" (id, name, features, "updatedAt") VALUES ($1, 'Overhead', '{communication}', now())`,
      [tenantId],
    );
    await pool.query(
      `INSERT INTO "Contact" (id, "tenantId", email, "emailNormalized", "firstName", "lastName", "customData", "updatedAt")
       SELECT 'contact_' || lpad(i::text, 8, '0'), $1, 'seed-' || i || '@bench.example', 'seed-' || i || '@bench.example', 'Ada', 'Lovelace', '{"plan":"pro","seats":12,"tags":["bench","load"]}', now()
       FROM generate_series(1, 1000) AS i`,
      [tenantId],
    );
    const select = { id: true, email: true, firstName: true, lastName: true, customData: true, updatedAt: true };
    const cases: [string, () => Promise<unknown>][] = [
      [
        'Prisma findMany take 51',
        () => prisma.contact.findMany({ where: { tenantId }, take: 51, orderBy: { id: 'asc' }, select }),
      ],
      [
        'Prisma $queryRaw, one statement',
        () =>
          prisma.$queryRaw(
            Prisma.sql`SELECT id, email, "firstName", "lastName", "customData", "updatedAt" FROM "Contact" WHERE "tenantId" = ${tenantId} ORDER BY id LIMIT 51`,
          ),
      ],
      [
        'Database.query (pg, prepared), one statement',
        () =>
          database.query(
            Prisma.sql`SELECT id, email, "firstName", "lastName", "customData", "updatedAt" FROM "Contact" WHERE "tenantId" = ${tenantId} ORDER BY id LIMIT 51`,
          ),
      ],
      [
        'pg Pool, one statement',
        () =>
          pool.query(
            `SELECT id, email, "firstName", "lastName", "customData", "updatedAt" FROM "Contact" WHERE "tenantId" = $1 ORDER BY id LIMIT 51`,
            [tenantId],
          ),
      ],
    ];
    console.log(`${iterations} sequential iterations each (after 100 warm-up), two rounds\n`);
    console.log('CPU µs/op  wall µs/op  operation');
    for (let round = 0; round < 2; round++) {
      for (const [name, run] of cases) {
        for (let i = 0; i < 100; i++) await run();
        const cpu = process.cpuUsage();
        const start = performance.now();
        for (let i = 0; i < iterations; i++) await run();
        const wall = ((performance.now() - start) * 1000) / iterations;
        const used = process.cpuUsage(cpu);
        const cpuUs = (used.user + used.system) / iterations;
        console.log(`${cpuUs.toFixed(0).padStart(9)}  ${wall.toFixed(0).padStart(10)}  ${name}`);
      }
    }
  } finally {
    await pool.end();
    await database.close();
  }
} finally {
  await bench.drop();
}
