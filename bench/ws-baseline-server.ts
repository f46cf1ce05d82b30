// The subscriptions.fanout baseline: a bare `ws` server relaying a tenant's Redis channel to its
// WebSocket clients, and the minimal mutation: one INSERT, then a PUBLISH of the new row's id.
//   GET  /health
//   POST /contacts?tenant=<id>   {"email", "firstName"} → INSERT; PUBLISH events:<id>; 201 {"contactId"}
//   WS   /events?tenant=<id>     every message of events:<id>, as published
// Env: PORT, HOST, DATABASE_URL (the bench database), BENCH_BASELINE_SCHEMA, REDIS_URL, BENCH_POOL_SIZE.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { Redis } from 'ioredis';
import pg from 'pg';
import { WebSocketServer, type WebSocket } from 'ws';
import { sendJson } from './lib/http.js';

const port = Number(process.env.PORT ?? 0);
const schema = process.env.BENCH_BASELINE_SCHEMA ?? 'bench_baseline';
const databaseUrl = process.env.DATABASE_URL;
const redisUrl = process.env.REDIS_URL;
if (!databaseUrl || !redisUrl) throw new Error('DATABASE_URL and REDIS_URL are required');

/** Same size as the gateway's pool (src/db/database.ts POOL_SIZE). */
const pool = new pg.Pool({ connectionString: databaseUrl, max: Number(process.env.BENCH_POOL_SIZE ?? 10) });
const publisher = new Redis(redisUrl);
const subscriber = new Redis(redisUrl);
/** Clients by Redis channel; the first client of a channel subscribes to it. */
const clients = new Map<string, Set<WebSocket>>();

subscriber.on('message', (channel: string, message: string) => {
  for (const ws of clients.get(channel) ?? []) ws.send(message);
});

const channelOf = (url: URL) => `events:${url.searchParams.get('tenant')}`;

async function createContact(req: IncomingMessage, url: URL): Promise<{ contactId: string }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const contact = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { email: string; firstName: string };
  const { rows } = await pool.query<{ contactId: string }>(
    `INSERT INTO "${schema}".contacts (id, tenant_id, email, email_normalized, first_name) VALUES ($1, $2, $3, lower($3), $4) RETURNING id AS "contactId"`,
    [`contact_${randomUUID()}`, url.searchParams.get('tenant'), contact.email, contact.firstName],
  );
  await publisher.publish(
    channelOf(url),
    JSON.stringify({ type: 'communication.contact.created', resourceId: rows[0]!.contactId }),
  );
  return rows[0]!;
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const send = (status: number, body: unknown) => sendJson(res, status, body);
  if (req.method === 'GET' && url.pathname === '/health') return send(200, { status: 'ok' });
  if (req.method !== 'POST' || url.pathname !== '/contacts') return send(404, { error: 'not_found' });
  createContact(req, url).then(
    (contact) => send(201, contact),
    (error: Error) => send(500, { error: 'internal_error', message: error.message }),
  );
});

const wss = new WebSocketServer({ server, path: '/events' });
wss.on('connection', (ws, req) => {
  const channel = channelOf(new URL(req.url ?? '/', 'http://localhost'));
  let channelClients = clients.get(channel);
  if (!channelClients) {
    clients.set(channel, (channelClients = new Set()));
    void subscriber.subscribe(channel);
  }
  channelClients.add(ws);
  ws.on('close', () => channelClients.delete(ws));
});

server.keepAliveTimeout = 65_000;
server.listen(port, process.env.HOST ?? '127.0.0.1');

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    for (const ws of wss.clients) ws.terminate();
    server.close();
    server.closeAllConnections();
    Promise.allSettled([pool.end(), publisher.quit(), subscriber.quit()]).finally(() => process.exit(0));
  });
}
