import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A counting TCP proxy in front of PostgreSQL: parses what clients send (frontend protocol) and
 * counts round trips (each Sync or simple Query waits for ReadyForQuery) and statements (each
 * Bind or simple Query), by SQL text. Diagnostic only: it sits in the path, so never measure
 * throughput through it.
 */
export type SqlCounts = { roundTrips: number; statements: number; byStatement: Map<string, number> };

export async function startPgCounter(
  upstreamUrl: string,
): Promise<{ url: string; counts: SqlCounts; reset(): void; close(): Promise<void> }> {
  const upstream = new URL(upstreamUrl);
  const counts: SqlCounts = { roundTrips: 0, statements: 0, byStatement: new Map() };
  const sockets = new Set<Socket>();

  const server: Server = createServer((client) => {
    const db = connect(Number(upstream.port || 5432), upstream.hostname);
    sockets.add(client).add(db);
    const parser = frontendParser(counts);
    client.on('data', (chunk: Buffer) => {
      parser(chunk);
      db.write(chunk);
    });
    db.pipe(client);
    const end = () => {
      client.destroy();
      db.destroy();
      sockets.delete(client);
      sockets.delete(db);
    };
    client.on('error', end).on('close', end);
    db.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxied = new URL(upstreamUrl);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: proxied.toString(),
    counts,
    reset() {
      counts.roundTrips = 0;
      counts.statements = 0;
      counts.byStatement.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;

function frontendParser(counts: SqlCounts) {
  let buffer: Buffer = Buffer.alloc(0);
  let startup = true;
  const prepared = new Map<string, string>();
  const count = (sql: string) => {
    const key = sql.replace(/\s+/g, ' ').trim();
    counts.statements++;
    counts.byStatement.set(key, (counts.byStatement.get(key) ?? 0) + 1);
  };

  return (chunk: Buffer) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      if (startup) {
        if (buffer.length < 8) return;
        const length = buffer.readInt32BE(0);
        if (buffer.length < length) return;
        const code = buffer.readInt32BE(4);
        buffer = buffer.subarray(length);
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST) startup = false;
        continue;
      }
      if (buffer.length < 5) return;
      const type = String.fromCharCode(buffer[0]!);
      const length = buffer.readInt32BE(1);
      if (buffer.length < 1 + length) return;
      const body = buffer.subarray(5, 1 + length);
      buffer = buffer.subarray(1 + length);
      switch (type) {
        case 'Q': // simple query: one round trip (may hold several statements; counted as one)
          counts.roundTrips++;
          count(cstring(body, 0).value);
          break;
        case 'P': {
          const name = cstring(body, 0);
          prepared.set(name.value, cstring(body, name.next).value);
          break;
        }
        case 'B': {
          const portal = cstring(body, 0);
          const statement = cstring(body, portal.next).value;
          count(prepared.get(statement) ?? `<prepared ${statement}>`);
          break;
        }
        case 'S':
          counts.roundTrips++;
          break;
      }
    }
  };
}

function cstring(buffer: Buffer, start: number): { value: string; next: number } {
  const end = buffer.indexOf(0, start);
  const stop = end === -1 ? buffer.length : end;
  return { value: buffer.toString('utf8', start, stop), next: stop + 1 };
}
