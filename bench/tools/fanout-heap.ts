// What an idle graphql-ws subscriber keeps in the gateway's heap: starts a gateway (PostgreSQL and
// Redis, like subscriptions.fanout), writes a heap snapshot, connects N subscribers, writes another,
// and prints the retained growth by constructor, per subscriber. Diagnostic for the fan-out's
// KiB per idle subscriber; uses a throw-away database like bench/run.ts.
//   npx tsx bench/tools/fanout-heap.ts [subscribers] [snapshot folder]
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort, runNode, startNode, waitForHealthy } from '../lib/children.js';
import { createBenchDatabase, DEFAULT_DATABASE_URL } from '../lib/database.js';
import { startSubscribers } from '../lib/fanout.js';

const count = Number(process.argv[2] ?? 1000);
const folder = path.resolve(process.argv[3] ?? `/tmp/fanout-heap-${process.pid}`);
mkdirSync(folder, { recursive: true });

const bench = await createBenchDatabase(
  process.env.DATABASE_URL || DEFAULT_DATABASE_URL,
  `nilo_bench_heap_${process.pid}`,
);
const port = await freePort();
const gateway = startNode(
  'gateway',
  'src/main.ts',
  {
    DATABASE_URL: bench.url,
    REDIS_URL: process.env.REDIS_URL || 'redis://127.0.0.1:6379',
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    RATE_LIMIT_PER_MINUTE: '100000000',
    WS_MAX_CONNECTIONS_PER_APP: '100000',
  },
  ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${folder}`],
);
try {
  await waitForHealthy(gateway, `http://127.0.0.1:${port}/health`);
  const env = { DATABASE_URL: bench.url, LOG_LEVEL: 'warn' };
  const json = (out: string) => JSON.parse(out.trim().split('\n').pop()!);
  const tenant = json(
    await runNode(
      'src/cli/admin.ts',
      ['create-tenant', '--name', 'Heap', '--features', 'communication', '--json'],
      env,
    ),
  );
  const app = json(
    await runNode('src/cli/admin.ts', ['create-app', '--tenant', tenant.tenantId, '--name', 'Heap app', '--json'], env),
  );
  // One subscriber first, so what the first one loads (modules, caches) is in both snapshots.
  const url = `ws://127.0.0.1:${port}/graphql`;
  const first = await startSubscribers({ kind: 'graphql-ws', url, apiKey: app.apiKey, count: 1, processes: 1 });
  await sleep(2_000);
  const before = await snapshot();
  const subscribers = await startSubscribers({ kind: 'graphql-ws', url, apiKey: app.apiKey, count, processes: 2 });
  await sleep(2_000);
  const after = await snapshot();
  const a = summarize(before);
  const b = summarize(after);
  const rows = [...b.entries()]
    .map(([name, { size, count: n }]) => ({
      name,
      size: size - (a.get(name)?.size ?? 0),
      count: n - (a.get(name)?.count ?? 0),
    }))
    .filter((row) => row.size > 0)
    .sort((x, y) => y.size - x.size);
  const total = rows.reduce((sum, row) => sum + row.size, 0);
  console.log(`${count} subscribers: ${(total / count / 1024).toFixed(2)} KiB self size per subscriber (growth)`);
  for (const row of rows.slice(0, 40))
    console.log(
      `${(row.size / count).toFixed(0).padStart(7)} B  ${(row.count / count).toFixed(2).padStart(6)}×  ${row.name}`,
    );
  await subscribers.stop();
  await first.stop();
} catch (error) {
  console.error(gateway.output());
  throw error;
} finally {
  await gateway.stop();
  await bench.drop();
}

async function snapshot(): Promise<string> {
  const known = new Set(readdirSync(folder));
  process.kill(gateway.process.pid!, 'SIGUSR2');
  for (;;) {
    await sleep(500);
    const written = readdirSync(folder).find((f) => f.endsWith('.heapsnapshot') && !known.has(f));
    if (written) {
      const file = path.join(folder, written);
      // Written in one go: wait until its JSON is complete.
      for (;;) {
        try {
          JSON.parse(readFileSync(file, 'utf8'));
          return file;
        } catch {
          await sleep(500);
        }
      }
    }
  }
}

/** Self sizes and counts by node type and name (a constructor, a closure's function, "(string)"). */
function summarize(file: string): Map<string, { size: number; count: number }> {
  const data = JSON.parse(readFileSync(file, 'utf8'));
  const fields: string[] = data.snapshot.meta.node_fields;
  const types: string[] = data.snapshot.meta.node_types[0];
  const width = fields.length;
  const at = (field: string) => fields.indexOf(field);
  const [typeAt, nameAt, sizeAt] = [at('type'), at('name'), at('self_size')];
  const nodes: number[] = data.nodes;
  const strings: string[] = data.strings;
  const totals = new Map<string, { size: number; count: number }>();
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]!]!;
    const name =
      type === 'object' || type === 'closure' || type === 'native'
        ? `${type} ${strings[nodes[i + nameAt]!]}`
        : `(${type})`;
    const entry = totals.get(name) ?? { size: 0, count: 0 };
    entry.size += nodes[i + sizeAt]!;
    entry.count++;
    totals.set(name, entry);
  }
  return totals;
}
