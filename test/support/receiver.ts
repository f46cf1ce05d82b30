import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, expect } from 'vitest';

export type Received = {
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Which of the receiver's secrets verified the signature (by index), or null. */
  verifiedBy: number | null;
  receivedAt: number;
};

export type Reply = {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  delayMs?: number;
  stream?: (res: http.ServerResponse) => void;
};

/**
 * A real webhook receiver on a free port that verifies each request with the standardwebhooks
 * package, as a customer's would. `answer` decides each reply (default 204).
 */
export async function startReceiver(
  answer: (received: Received, count: number) => Reply = () => ({ status: 204 }),
  port = 0,
) {
  const received: Received[] = [];
  const secrets: string[] = [];
  const waiters = new Set<() => void>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const entry: Received = {
        headers: req.headers,
        body,
        verifiedBy: verify(body, req.headers),
        receivedAt: Date.now(),
      };
      received.push(entry);
      waiters.forEach((w) => w());
      const reply = answer(entry, received.length);
      const send = () => {
        if (reply.stream) return reply.stream(res);
        res.writeHead(reply.status, reply.headers);
        res.end(reply.body);
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  const sockets = new Set<import('node:net').Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  function verify(body: string, headers: http.IncomingHttpHeaders): number | null {
    const plain = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)]));
    const index = secrets.findIndex((secret) => {
      try {
        new Webhook(secret).verify(body, plain);
        return true;
      } catch {
        return false;
      }
    });
    return index === -1 ? null : index;
  }

  const receiver = {
    url,
    received,
    /** Secrets this receiver accepts (set after creating the endpoint). */
    secrets,
    /** The parsed bodies received so far. */
    events: () => received.map((r) => JSON.parse(r.body)),
    async waitFor(count: number, timeoutMs = 10_000): Promise<Received[]> {
      const deadline = Date.now() + timeoutMs;
      while (received.length < count && Date.now() < deadline) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(0, deadline - Date.now()));
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters.clear();
      }
      expect(received.length, `requests received by ${receiver.url}`).toBeGreaterThanOrEqual(count);
      return received;
    },
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((socket) => socket.destroy());
        server.close(() => resolve());
      }),
  };
  afterAll(() => receiver.close());
  return receiver;
}
