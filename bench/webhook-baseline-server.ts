// The webhooks.delivery baseline: a bare sender that POSTs signed bodies with undici, the gateway's
// WEBHOOK_CONCURRENCY at a time, and nothing else (no queue, no database).
//   GET  /health
//   POST /send  {"deliveries": [{"url", "secret", "eventId", "body", "delayMs"}]} → 202 {"start"} at
//               once (epoch ms); then each body, not before start + delayMs, signed like the gateway
//               signs it (standardwebhooks Webhook.sign) and sent with the same headers
// Env: PORT, WEBHOOK_CONCURRENCY.
import { createServer, type IncomingMessage } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { Webhook } from 'standardwebhooks';
import { Agent, request } from 'undici';
import { inParallel, sendJson, serveUntilSignalled } from './lib/http.js';

export type BaselineDelivery = { url: string; secret: string; eventId: string; body: string; delayMs: number };

const port = Number(process.env.PORT ?? 0);
const concurrency = Number(process.env.WEBHOOK_CONCURRENCY ?? 10);
const agent = new Agent();

async function send(delivery: BaselineDelivery, start: number): Promise<void> {
  const wait = start + delivery.delayMs - Date.now();
  if (wait > 0) await sleep(wait);
  const timestamp = new Date();
  const response = await request(delivery.url, {
    method: 'POST',
    dispatcher: agent,
    headers: {
      'content-type': 'application/json',
      'webhook-id': delivery.eventId,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': new Webhook(delivery.secret).sign(delivery.eventId, timestamp, delivery.body),
    },
    body: delivery.body,
  });
  await response.body.dump();
  // Not retried: the driver counts what never arrived as lost.
  if (response.statusCode < 200 || response.statusCode > 299)
    console.error(`${delivery.eventId} to ${delivery.url}: HTTP ${response.statusCode}`);
}

async function readJson(req: IncomingMessage): Promise<{ deliveries: BaselineDelivery[] }> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://localhost');
  if (req.method === 'GET' && url.pathname === '/health') return sendJson(res, 200, { status: 'ok' });
  if (req.method !== 'POST' || url.pathname !== '/send') return sendJson(res, 404, { error: 'not_found' });
  readJson(req).then(
    ({ deliveries }) => {
      const start = Date.now();
      sendJson(res, 202, { start });
      const byTime = [...deliveries].sort((a, b) => a.delayMs - b.delayMs);
      void inParallel(byTime.length, concurrency, (i) =>
        send(byTime[i]!, start).catch((error: Error) => console.error(`${byTime[i]!.eventId}: ${error.message}`)),
      );
    },
    (error: Error) => sendJson(res, 400, { error: 'invalid_json', message: error.message }),
  );
});

serveUntilSignalled(server, port, () => agent.close());
