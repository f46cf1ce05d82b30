// The baseline: a bare node:http server doing, per request, the single SQL statement a scenario
// needs, with a pg Pool the size of the gateway's. Routes come from the scenarios' peers given as
// routes: `/${scenario.id}` for the peer named baseline, `/${scenario.id}/${peer}` for the others.
// Env: PORT, DATABASE_URL (the bench database), BENCH_BASELINE_SCHEMA, BENCH_POOL_SIZE.
import { createServer } from 'node:http';
import pg from 'pg';
import { sendJson, serveUntilSignalled } from './lib/http.js';
import { peersOf, routePath } from './lib/peers.js';
import type { BaselineRoute } from './lib/types.js';
import { scenarios } from './scenarios/index.js';

const port = Number(process.env.PORT ?? 0);
const schema = process.env.BENCH_BASELINE_SCHEMA ?? 'bench_baseline';
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');

/** Same size as the gateway's pool (src/db/database.ts POOL_SIZE). */
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BENCH_POOL_SIZE ?? 10) });
/** The peers that are a route here (the others bring a server of their own). */
const routes = new Map<string, BaselineRoute>();
for (const scenario of scenarios)
  for (const [name, peer] of peersOf(scenario))
    if ('handle' in peer) routes.set(`${peer.method} ${routePath(scenario.id, name)}`, peer);

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const send = (status: number, body: unknown) => sendJson(res, status, body);
  if (url.pathname === '/health') return send(200, { status: 'ok' });
  const route = routes.get(`${req.method} ${url.pathname}`);
  if (!route) return send(404, { error: 'not_found' });

  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: unknown;
    try {
      body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    } catch {
      return send(400, { error: 'invalid_json' });
    }
    route.handle({ pool, schema, body, url }).then(
      (result) => send(result.status, result.body),
      (error: Error) => send(500, { error: 'internal_error', message: error.message }),
    );
  });
});

serveUntilSignalled(server, port, () => pool.end());
