// Tenant export and import throughput and memory (issue 19): a tenant of N contacts (default
// 100,000) exported to an NDJSON file and imported into a new tenant, through the transfer
// service as the admin CLI runs it on the database (the tenant.export and tenant.import jobs run
// the same code). Reports rows/s of each phase and this process's peak RSS during it, sampled
// every 20 ms.
//   npx tsx bench/tools/transfer.ts [contacts]                         embedded (a PGlite folder of its own)
//   DATABASE_URL=postgresql://… npx tsx bench/tools/transfer.ts [contacts]   on a throw-away database
import { createReadStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { createServices } from '../../src/services.js';
import { createBenchDatabase } from '../lib/database.js';

const contacts = Number(process.argv[2] ?? 100_000);
const folder = mkdtempSync(path.join(tmpdir(), 'nilo-transfer-bench-'));
const serverUrl = process.env.DATABASE_URL;
const bench = serverUrl ? await createBenchDatabase(serverUrl, `nilo_bench_transfer_${process.pid}`) : undefined;

/** Runs `work` while sampling RSS; answers its seconds and the peak RSS in MB. */
async function measured<T>(work: () => Promise<T>): Promise<{ seconds: number; peakMb: number; value: T }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  const start = performance.now();
  try {
    const value = await work();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { seconds: (performance.now() - start) / 1000, peakMb: Math.round(peak / 1e6), value };
  } finally {
    clearInterval(timer);
  }
}

try {
  const env = { ...process.env, LOG_LEVEL: 'silent', DATA_DIR: path.join(folder, 'data') };
  const config = { ...loadConfig(env), ...(bench ? { databaseUrl: bench.url } : {}) };
  const database = await openDatabase(config);
  const services = createServices(database.prisma, config, database.query);
  try {
    const { tenantId } = await services.admin.createTenant({ name: 'Bench', features: ['communication'] });
    // Seeded in SQL, so the seeding leaves this process's memory as it was. Ids: "contact_01" and 24 digits (a ULID's alphabet).
    await database.prisma.$executeRaw`
      INSERT INTO "Contact" ("id", "tenantId", "email", "emailNormalized", "firstName", "lastName", "company", "city", "customData", "createdAt", "updatedAt")
      SELECT 'contact_01' || lpad(n::text, 24, '0'), ${tenantId}, 'c' || n || '@bench.example', 'c' || n || '@bench.example',
             'Ada', 'Lovelace ' || n, 'Analytical Engines Ltd', 'London', '{"plan":"pro","seats":12,"tags":["a","b"]}'::jsonb, now(), now()
      FROM generate_series(1, ${contacts}) AS n`;
    const file = path.join(folder, 'tenant.ndjson');
    const idle = Math.round(process.memoryUsage().rss / 1e6);

    const exported = await measured(async () => {
      const out = await open(file, 'w');
      try {
        return await services.transfer.exportTo(
          tenantId,
          {},
          async (chunk) => {
            await out.write(chunk);
          },
          async () => {},
        );
      } finally {
        await out.close();
      }
    });
    // The copy goes to a new tenant of the same database: the original's rows leave first (ids are kept).
    await database.prisma.contact.deleteMany({ where: { tenantId } });
    const { tenantId: copy } = await services.admin.createTenant({ name: 'Copy', features: ['communication'] });
    const imported = await measured(() => services.transfer.importFrom(copy, createReadStream(file), async () => {}));
    if (imported.value.imported.contact !== contacts || imported.value.failed)
      throw new Error(
        `import wrote ${imported.value.imported.contact} of ${contacts} (${imported.value.failed} failed)`,
      );

    const mb = (statSync(file).size / 1e6).toFixed(1);
    const mode = bench ? 'PostgreSQL' : 'PGlite (embedded)';
    console.log(`${contacts} contacts, ${mb} MB of NDJSON, ${mode}; RSS before the export: ${idle} MB`);
    for (const [phase, run] of [
      ['export', exported],
      ['import', imported],
    ] as const) {
      const rate = Math.round(contacts / run.seconds);
      console.log(`${phase}: ${run.seconds.toFixed(1)} s, ${rate} rows/s, peak RSS ${run.peakMb} MB`);
    }
  } finally {
    await database.close();
  }
} finally {
  await bench?.drop();
  rmSync(folder, { recursive: true, force: true });
}
