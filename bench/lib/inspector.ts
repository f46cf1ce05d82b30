import { once } from 'node:events';
import WebSocket from 'ws';
import { processRssBytes } from './machine.js';

/** Where SIGUSR1 makes a Node process open its inspector. */
const INSPECTOR_URL = 'http://127.0.0.1:9229';

/**
 * Memory of the Node process `pid` right after a full garbage collection, so that two readings
 * compare what is retained, not when V8 last collected (a collection between two plain RSS
 * readings can even make a growth negative). SIGUSR1 opens the process's inspector; a session
 * checks it is the right process, collects, reads the JS heap in use, and closes (the inspector
 * stays open, idle). Null when the inspector does not answer or belongs to another process.
 */
export async function memoryAfterGc(pid: number): Promise<{ rssBytes: number; heapUsedBytes: number } | null> {
  process.kill(pid, 'SIGUSR1');
  const url = await debuggerUrl();
  if (!url) return null;
  const ws = new WebSocket(url);
  try {
    await once(ws, 'open');
    const call = session(ws);
    const { result } = await call('Runtime.evaluate', { expression: 'process.pid' });
    if (result.value !== pid) return null;
    await call('HeapProfiler.collectGarbage');
    const { usedSize } = await call('Runtime.getHeapUsage');
    const rssBytes = processRssBytes(pid);
    return rssBytes === null ? null : { rssBytes, heapUsedBytes: usedSize };
  } finally {
    ws.close();
  }
}

/** The first target's WebSocket URL, once the inspector listens (it starts asynchronously). */
async function debuggerUrl(): Promise<string | null> {
  for (let attempt = 0; attempt < 50; attempt++) {
    try {
      const targets = (await (await fetch(`${INSPECTOR_URL}/json/list`)).json()) as { webSocketDebuggerUrl: string }[];
      if (targets[0]) return targets[0].webSocketDebuggerUrl;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return null;
}

/** Chrome DevTools Protocol calls over one WebSocket: each resolves with its result. */
function session(ws: WebSocket): (method: string, params?: object) => Promise<any> {
  const pending = new Map<number, { resolve(result: unknown): void; reject(error: Error): void }>();
  ws.on('message', (data) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: unknown; error?: { message: string } };
    const call = message.id === undefined ? undefined : pending.get(message.id);
    if (message.error) call?.reject(new Error(`inspector: ${message.error.message}`));
    else call?.resolve(message.result);
  });
  let id = 0;
  return (method, params = {}) =>
    new Promise((resolve, reject) => {
      pending.set(++id, { resolve, reject });
      ws.send(JSON.stringify({ id, method, params }));
    });
}
