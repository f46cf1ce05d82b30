import { Agent, type Dispatcher } from 'undici';
import { BlockedAddressError, type AddressGuard } from './address-guard.js';
import type { Claimed, Target } from './claim.js';
import { retryAfterMs } from './policy.js';
import { signatureHeaders } from './signing.js';

// The delivery worker's second phase: one signed POST of a claimed delivery, and its outcome.

/** Response bodies are logged up to this many bytes; the rest is not even read. */
const MAX_LOGGED_BODY = 4096;
/** The logged error of an attempt without a complete answer within the timeout. */
const TIMED_OUT = 'timeout: no complete answer in time';

/** What an attempt got: an answer (statusCode), or none (error). */
export type Outcome = {
  statusCode: number | null;
  headers: Record<string, string> | null;
  body: string | null;
  error: string | null;
  durationMs: number;
  retryAfterMs: number | null;
};

/**
 * The agent every POST goes through. Connections go only to allowed addresses (the guard's lookup,
 * at connect time); redirects are never followed (the dispatcher has no redirect interceptor).
 * post() bounds the whole attempt; undici's own phase timeouts are set to the same, so its 300 s
 * defaults never cut a longer WEBHOOK_TIMEOUT short.
 */
export function deliveryAgent(guard: AddressGuard, timeoutMs: number): Agent {
  return new Agent({ connect: { lookup: guard.lookup }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
}

/** Signs and POSTs one claimed delivery; every failure is an outcome, never an exception. */
export async function send(agent: Agent, { endpoint, envelope, body }: Claimed, timeoutMs: number): Promise<Outcome> {
  const timestamp = Math.floor(Date.now() / 1000);
  const signed = signatureHeaders(endpoint.keys, envelope.id, timestamp, body);
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  try {
    if (endpoint.target.blocked) throw endpoint.target.blocked;
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'nilo-gateway-webhooks/1',
      ...signed,
      'x-correlation-id': envelope.correlationId,
    };
    const response = await post(agent, endpoint.target, headers, body, timeoutMs);
    return {
      statusCode: response.statusCode,
      headers: Object.fromEntries(
        Object.entries(response.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]),
      ),
      body: response.body,
      error: null,
      durationMs: elapsed(),
      retryAfterMs: retryAfterMs(response.headers['retry-after']),
    };
  } catch (error) {
    return {
      statusCode: null,
      headers: null,
      body: null,
      error: describe(error),
      durationMs: elapsed(),
      retryAfterMs: null,
    };
  }
}

type Answer = { statusCode: number; headers: Record<string, string | string[] | undefined>; body: string };

/** An attempt that had no complete answer within the timeout. */
class AttemptTimeoutError extends Error {}

/**
 * POSTs `body` and resolves with the answer's status, headers and first MAX_LOGGED_BODY bytes;
 * the rest is not read. The whole attempt (connecting, headers, body) has `timeoutMs`. On
 * undici's dispatcher directly rather than through request(), which wraps every answer in a
 * stream and a promise chain that cost as much as the rest of the request together.
 */
function post(
  agent: Agent,
  target: Target,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const reader = new AnswerReader(resolve, reject, timeoutMs);
    agent.dispatch({ origin: target.origin, path: target.path, method: 'POST', headers, body }, reader);
  });
}

/** Reads one answer for post(): settles once, with the answer, its error, or the timeout's. */
class AnswerReader implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private settled = false;
  private statusCode = 0;
  private headers: Answer['headers'] = {};
  private readonly chunks: Buffer[] = [];
  private size = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly resolve: (answer: Answer) => void,
    private readonly reject: (error: Error) => void,
    timeoutMs: number,
  ) {
    this.timer = setTimeout(() => {
      this.settle(new AttemptTimeoutError());
      this.controller?.abort(new AttemptTimeoutError());
    }, timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.settled) controller.abort(new AttemptTimeoutError());
  }

  onResponseStart(_: Dispatcher.DispatchController, statusCode: number, headers: Answer['headers']): void {
    this.statusCode = statusCode;
    this.headers = headers;
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size >= MAX_LOGGED_BODY) {
      this.settle(null);
      controller.abort(new Error('the rest of the answer is not read'));
    }
  }

  onResponseEnd(): void {
    this.settle(null);
  }

  onResponseError(_: Dispatcher.DispatchController, error: Error): void {
    this.settle(error);
  }

  private settle(error: Error | null): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    if (error) this.reject(error);
    else {
      const body = Buffer.concat(this.chunks).subarray(0, MAX_LOGGED_BODY).toString('utf8');
      this.resolve({ statusCode: this.statusCode, headers: this.headers, body });
    }
  }
}

/** The attempt log's error text: blocked addresses and timeouts by name, others by code and message. */
function describe(error: unknown): string {
  if (error instanceof BlockedAddressError) return `blocked: ${error.message}`;
  const err = error as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (
    error instanceof AttemptTimeoutError ||
    err.code === 'UND_ERR_HEADERS_TIMEOUT' ||
    err.code === 'UND_ERR_BODY_TIMEOUT'
  )
    return TIMED_OUT;
  if (err.cause instanceof BlockedAddressError) return `blocked: ${err.cause.message}`;
  const code = err.code ?? err.cause?.code;
  return [code, err.message ?? String(error)].filter(Boolean).join(': ').slice(0, 500);
}
