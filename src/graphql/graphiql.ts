import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { GraphiQLOptions } from 'graphql-yoga';

/** GraphiQL's page inlines about 9 MB of scripts and styles (so it works where the browser has no internet). */
const RENDERER = createRequire(import.meta.url).resolve('@graphql-yoga/render-graphiql');
const RENDER_IN_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
parentPort.postMessage(require(workerData.renderer).renderGraphiQL(workerData.options));
`;

/**
 * Renders GraphiQL's page in a short-lived worker thread, on each request for it: once imported,
 * a module stays in memory for the life of a process, and this one would keep about 30 MB of
 * JavaScript source in every idle gateway for a page that is rarely opened.
 */
export function renderGraphiQLInWorker(options: GraphiQLOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(RENDER_IN_WORKER, { eval: true, workerData: { renderer: RENDERER, options } });
    worker.once('message', (page: string) => {
      resolve(page);
      void worker.terminate();
    });
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`GraphiQL's renderer exited with code ${code}`)));
  });
}
