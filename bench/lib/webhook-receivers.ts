import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

/**
 * Local webhook receivers (webhooks.delivery, webhooks.fairness), in the harness process: each
 * verifies every request's Standard Webhooks signature with its endpoint's secret, as a real
 * receiver would, and records when it had the verified request (wall clock, Date.now(): the
 * gateway's occurredAt is one too). Answers as its Behaviour says (204 at once by default), or 400
 * when the signature does not verify.
 */
export type Receivers = {
  urls: string[];
  /** The secret of each receiver's endpoint, once the endpoints exist (none: the receiver refuses every request). */
  useSecrets(secrets: (string | undefined)[]): void;
  /** First receipt time of each delivery, by deliveryKey(receiver, eventId). */
  received: Map<string, number>;
  /** The body of each event as first received, so that the baseline sends the same bytes. */
  bodies: Map<string, string>;
  /** Requests for a delivery that had already been received. */
  duplicates(): number;
  /** When the last request was received (ms), for the idle timeout. */
  lastReceiptAt(): number;
  /** Requests that did not verify. */
  failures: string[];
  /** Verified requests per receiver, retries included. */
  requests: RequestCounts;
  /** Forgets everything received: a new run starts. */
  reset(): void;
  close(): Promise<void>;
};

/** How a receiver answers a verified request: a status, after a delay (a slow receiver). */
export type Behaviour = { status: number; delayMs?: number };

/** Verified requests per receiver, retries and duplicates included. */
export type RequestCounts = number[];

export function deliveryKey(receiver: number, eventId: string): string {
  return `${receiver} ${eventId}`;
}

export async function startReceivers(
  count: number,
  behaviour: (receiver: number) => Behaviour = () => ({ status: 204 }),
): Promise<Receivers> {
  let verifiers: (Webhook | undefined)[] = [];
  const received = new Map<string, number>();
  const bodies = new Map<string, string>();
  const failures: string[] = [];
  const requests: RequestCounts = Array.from({ length: count }, () => 0);
  let duplicates = 0;
  let lastAt = Date.now();

  const servers: Server[] = Array.from({ length: count }, (_, receiver) =>
    createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const eventId = String(req.headers['webhook-id']);
        try {
          const verifier = verifiers[receiver];
          if (!verifier) throw new Error('its endpoint has no secret here');
          verifier.verify(body, req.headers as Record<string, string>);
        } catch (error) {
          failures.push(`receiver ${receiver}: ${eventId} did not verify: ${(error as Error).message}`);
          res.writeHead(400).end();
          return;
        }
        const at = Date.now();
        lastAt = at;
        requests[receiver]!++;
        const { status, delayMs } = behaviour(receiver);
        const answer = () => {
          if (!res.destroyed) res.writeHead(status).end();
        };
        if (delayMs) setTimeout(answer, delayMs).unref();
        else answer();
        // Only answers that count as delivered are receipts.
        if (status < 200 || status > 299) return;
        const key = deliveryKey(receiver, eventId);
        if (received.has(key)) duplicates++;
        else received.set(key, at);
        if (!bodies.has(eventId)) bodies.set(eventId, body);
      });
    }),
  );
  const urls = await Promise.all(
    servers.map(
      (server) =>
        new Promise<string>((resolve) =>
          server.listen(0, '127.0.0.1', () => {
            const address = server.address();
            resolve(`http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/`);
          }),
        ),
    ),
  );

  return {
    urls,
    useSecrets(secrets) {
      verifiers = secrets.map((secret) => (secret ? new Webhook(secret) : undefined));
    },
    received,
    bodies,
    duplicates: () => duplicates,
    lastReceiptAt: () => lastAt,
    failures,
    requests,
    reset() {
      received.clear();
      bodies.clear();
      failures.length = 0;
      requests.fill(0);
      duplicates = 0;
      lastAt = Date.now();
    },
    close: () =>
      Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.closeAllConnections();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined),
  };
}
