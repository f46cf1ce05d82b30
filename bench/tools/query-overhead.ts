// CPU cost per operation inside one Node process, sequentially (no concurrency): the gateway's
// own services through Prisma versus the same work as single pg statements. Diagnostic for
// where the gateway's per-request CPU goes; uses a throw-away database like bench/run.ts.
//   npx tsx bench/tools/query-overhead.ts [iterations]
import pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { createServices } from '../../src/services.js';
import { requestFingerprint } from '../../src/http/idempotency.js';
import { createBenchDatabase, DEFAULT_DATABASE_URL } from '../lib/database.js';

const iterations = Number(process.argv[2] ?? 1000);
const serverUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const bench = await createBenchDatabase(serverUrl, `nilo_bench_tool_${process.pid}`);
try {
  const config = { ...loadConfig({ ...process.env, LOG_LEVEL: 'silent' }), databaseUrl: bench.url };
  const database = await openDatabase(config);
  const services = createServices(database.prisma, config, database.query);
  const pool = new pg.Pool({ connectionString: bench.url, max: 1 });
  try {
    const { tenantId } = await services.admin.createTenant({ name: 'Overhead', features: ['communication'] });
    const { apiKey } = await services.admin.createApplication({ tenantId, name: 'Overhead app' });
    const auth = await services.authenticate(apiKey, 'corr');
    for (let i = 0; i < 1000; i++)
      await services.contacts.create(auth, { email: `seed-${i}@bench.example`, firstName: 'Ada' });
    const hash = (await pool.query('SELECT hash FROM "ApiKey" LIMIT 1')).rows[0].hash as string;
    let n = 0;
    const body = () => ({
      email: `c-${++n}@bench.example`,
      firstName: 'Ada',
      lastName: 'Lovelace',
      customData: { plan: 'pro', seats: 12 },
    });
    const select = { id: true, email: true, firstName: true, lastName: true, customData: true, updatedAt: true };

    const cases: [string, () => Promise<unknown>][] = [
      ['auth: services.authenticate (Prisma, 3 SELECTs)', () => services.authenticate(apiKey, 'corr')],
      [
        'auth: one pg SELECT … JOIN application, tenant',
        () =>
          pool.query(
            `SELECT k.id, k.status, a.id AS app_id, a.name, t.id AS tenant_id, t.features FROM "ApiKey" k
             JOIN "Application" a ON a.id = k."applicationId" JOIN "Tenant" t ON t.id = k."tenantId" WHERE k.hash = $1`,
            [hash],
          ),
      ],
      [
        'list: contacts.findMany take 51 (Prisma)',
        () => services.contacts.findMany(auth, { take: 51, orderBy: { id: 'asc' }, select }),
      ],
      [
        'list: one pg SELECT … LIMIT 51',
        () =>
          pool.query(
            `SELECT id, email, "firstName", "lastName", "customData", "updatedAt" FROM "Contact" WHERE "tenantId" = $1 ORDER BY id LIMIT 51`,
            [tenantId],
          ),
      ],
      ['create: contacts.create (Prisma tx: 5 statements)', () => services.contacts.create(auth, body())],
      [
        'create: one pg INSERT … RETURNING',
        () => {
          const b = body();
          return pool.query(
            `INSERT INTO "Contact" (id, "tenantId", email, "emailNormalized", "firstName", "lastName", "customData", "updatedAt")
             VALUES ($1, $2, $3, lower($3), $4, $5, $6, now()) RETURNING *`,
            [`contact_x${n}`, tenantId, b.email, b.firstName, b.lastName, JSON.stringify(b.customData)],
          );
        },
      ],
      [
        'idempotency: begin + complete (Prisma, 2 statements)',
        async () => {
          const key = `k-${++n}`;
          await services.idempotency.begin(auth.applicationId, key, requestFingerprint(['POST', '/x', body()]));
          await services.idempotency.complete(auth.applicationId, key, {
            statusCode: 201,
            headers: {},
            body: JSON.stringify(body()),
          });
        },
      ],
    ];

    console.log(`${iterations} sequential iterations each (after ${Math.round(iterations / 5)} warm-up)\n`);
    console.log('CPU µs/op  wall µs/op  operation');
    for (const [name, op] of cases) {
      for (let i = 0; i < iterations / 5; i++) await op();
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < iterations; i++) await op();
      const wall = Number(process.hrtime.bigint() - t0) / 1000 / iterations;
      const cpu = process.cpuUsage(cpu0);
      console.log(
        `${((cpu.user + cpu.system) / iterations).toFixed(0).padStart(9)}  ${wall.toFixed(0).padStart(10)}  ${name}`,
      );
    }
  } finally {
    await pool.end();
    await database.close();
  }
} finally {
  await bench.drop();
}
