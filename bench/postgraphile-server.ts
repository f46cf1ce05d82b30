// The PostGraphile 5 peer: PostGraphile's Amber preset over the gateway's own tables (schema
// public of the bench database, migrated by the gateway), served by grafserv on node:http at
// POST /graphql, with GET /health for the harness. No authentication, no rate limit: the
// gateway's scenarios query it the way its own GraphQL is queried, e.g.
//   allContacts(first: 50, condition: { tenantId }, orderBy: PRIMARY_KEY_ASC)
//   createContact(input: { contact: { rowId, tenantId, email, emailNormalized, …, updatedAt } })
// (PostGraphile names a table's primary key column `rowId`; `id` is its global node id. rowId and
// updatedAt are required there: the gateway, not the table, gives them their values.)
// Env: PORT, DATABASE_URL (the bench database), BENCH_POOL_SIZE (default 10, the gateway's pool).
import './lib/promise-with-resolvers.js';
import { createServer } from 'node:http';
import { makePgService } from 'postgraphile/adaptors/pg';
import { grafserv } from 'postgraphile/grafserv/node';
import { postgraphile } from 'postgraphile';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { sendJson, serveUntilSignalled } from './lib/http.js';

const port = Number(process.env.PORT ?? 0);
const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) throw new Error('DATABASE_URL is required');

const pgl = postgraphile({
  extends: [PostGraphileAmberPreset],
  pgServices: [
    makePgService({
      connectionString: databaseUrl,
      schemas: ['public'],
      poolConfig: { max: Number(process.env.BENCH_POOL_SIZE ?? 10) },
    }),
  ],
  grafserv: { graphqlPath: '/graphql', graphiql: false, watch: false },
});
const serv = pgl.createServ(grafserv);

// No WebSocket handler needed (serv.addTo would add one): grafserv's request handler alone, which
// passes what is not its GraphQL path on to `next`: the harness's health check.
const handle = serv.createHandler();
const server = createServer((req, res) =>
  handle(req, res, () =>
    sendJson(res, req.url === '/health' ? 200 : 404, { status: req.url === '/health' ? 'ok' : 'not_found' }),
  ),
);
// Built before the first request, so start-up is not measured as the first requests' latency.
await pgl.getSchema();
serveUntilSignalled(server, port, () => pgl.release());
