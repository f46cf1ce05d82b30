import { contractOf } from './contract.js';

// Every answer any test receives from a documented /api/v1 operation is checked against the
// gateway's own /openapi.json, whether the test asks through http() or calls fetch itself: this
// setup file wraps fetch once for every test file. A mismatch rejects the fetch, failing the test.
// Files that share a worker (isolate: false) run this again: wrap the original fetch only once.
const WRAPPED = Symbol.for('nilo.test.checkedFetch');
const untouchedFetch: typeof fetch = (globalThis.fetch as any)[WRAPPED] ?? globalThis.fetch;

globalThis.fetch = async function checkedFetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
  const response = await untouchedFetch(input, init);
  const url = new URL(input instanceof Request ? input.url : input);
  if (!url.pathname.startsWith('/api/v1/')) return response;
  const method = (init?.method ?? (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const text = await response.clone().text();
  const failures = (await contractOf(url.origin)).check(method, url.pathname, response.status, response.headers, text);
  if (failures.length) throw new Error(`The answer does not match /openapi.json:\n${failures.join('\n')}`);
  return response;
};
(globalThis.fetch as any)[WRAPPED] = untouchedFetch;
