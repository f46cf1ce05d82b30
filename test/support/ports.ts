import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

// A port handed to a process that starts listening on it seconds later (`npm start` builds first)
// must not be taken meanwhile. The kernel hands out ports for listen(0) (every test's receivers)
// and for outgoing connections only from its ephemeral range, so ports are picked below it, each
// vitest worker from its own slice, and checked free before they are handed out.

const SLICE = 2000;
const SLICES = 8;
const ephemeralLow = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]) || 32768;
  } catch {
    return 32768;
  }
})();
const sliceStart = ephemeralLow - SLICE * SLICES + SLICE * ((Number(process.env.VITEST_POOL_ID ?? 1) - 1) % SLICES);
let next = Math.floor(Math.random() * SLICE);

/** Whether nothing listens on the port (on 127.0.0.1) right now. */
function free(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A free port no other listener of the test run is handed by the kernel: safe to pass to a process that listens later. */
export async function freePort(): Promise<number> {
  for (let tries = 0; tries < SLICE; tries++) {
    const port = sliceStart + (next++ % SLICE);
    if (await free(port)) return port;
  }
  throw new Error('no free port in this worker’s slice');
}
