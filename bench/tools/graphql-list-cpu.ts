// CPU per GraphQL contacts(first: 50) request of the gateway's whole HTTP path (Fastify hooks,
// auth, rate limit, Yoga, the resolver, serialization) inside one process through Fastify's
// inject, without sockets or a load generator in the way: steadier than a bench side on a busy
// machine, for A/B runs of one change (run it from each tree, alternately).
//   npx tsx bench/tools/graphql-list-cpu.ts [requests per round] [rounds]
import pg from 'pg';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { createBenchDatabase, DEFAULT_DATABASE_URL } from '../lib/database.js';
import { inParallel } from '../lib/http.js';

const requests = Number(process.argv[2] ?? 3000);
const rounds = Number(process.argv[3] ?? 3);
const CONCURRENCY = 32;
const QUERY = '{ contacts(first: 50) { edges { node { id email firstName lastName customData updatedAt } } } }';

const serverUrl = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
const bench = await createBenchDatabase(serverUrl, `nilo_bench_tool_${process.pid}`);
try {
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: bench.url,
    REDIS_URL: '',
    LOG_LEVEL: 'warn',
    NODE_ENV: 'production',
    RATE_LIMIT_PER_MINUTE: '100000000',
  });
  const app = await buildApp(config);
  const pool = new pg.Pool({ connectionString: bench.url, max: 1 });
  try {
    const { tenantId } = await app.services.admin.createTenant({ name: 'List CPU', features: ['communication'] });
    const { apiKey } = await app.services.admin.createApplication({ tenantId, name: 'List CPU app' });
    await pool.query(
      `INSERT INTO "Contact" (id, "tenantId", email, "emailNormalized", "firstName", "lastName", "customData", "updatedAt")
       SELECT 'contact_' || lpad(i::text, 8, '0'), $1, 'seed-' || i || '@bench.example', 'seed-' || i || '@bench.example',
              'Ada', 'Lovelace', '{"plan":"pro","seats":12,"tags":["bench","load"]}', now()
       FROM generate_series(1, 1000) AS i`,
      [tenantId],
    );
    await pool.query('VACUUM ANALYZE');
    const payload = JSON.stringify({ query: QUERY });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` };
    const once = async () => {
      const res = await app.http.inject({ method: 'POST', url: '/graphql', headers, payload });
      if (res.statusCode !== 200 || res.body.includes('"errors"'))
        throw new Error(`HTTP ${res.statusCode} ${res.body}`);
    };
    await inParallel(2000, CONCURRENCY, once);
    for (let round = 1; round <= rounds; round++) {
      const cpu = process.cpuUsage();
      const start = performance.now();
      await inParallel(requests, CONCURRENCY, once);
      const used = process.cpuUsage(cpu);
      const seconds = (performance.now() - start) / 1000;
      console.log(
        `round ${round}: ${((used.user + used.system) / requests / 1000).toFixed(3)} ms CPU per request, ${(requests / seconds).toFixed(0)} req/s`,
      );
    }
  } finally {
    await pool.end();
    await app.stop();
  }
} finally {
  await bench.drop();
}
