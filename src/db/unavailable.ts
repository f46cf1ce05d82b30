// Tells a database outage (server down, restarting, frozen, unreachable) from every other error,
// once for all callers, whichever layer surfaced it: Prisma's known errors, the driver adapter's
// error kinds, or the pg driver's own errors, which Prisma passes on unchanged.
import type { FastifyBaseLogger } from 'fastify';
import { DomainError, ServiceUnavailableError } from '../core/errors.js';

/** How long clients are asked to wait (Retry-After) before trying again during an outage. */
export const RETRY_AFTER_SECONDS = 5;
/** A fault after this long without one starts a new outage, and is logged again. */
const OUTAGE_QUIET_MS = 30_000;

/** Prisma's codes for "can't reach", "timed out reaching", "operation timed out" and "server closed the connection". */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1008', 'P1017']);
/** @prisma/adapter-pg's kinds of the same (and a server out of connection slots). */
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
/** Socket errors of a server that is gone or unreachable. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNABORTED',
]);
/**
 * SQLSTATEs: connection exceptions (class 08), shutdown by an administrator, a crash or a server
 * starting or stopping (57P01-57P03), too many connections (53300), and a canceled statement
 * (57014: the statement timeout, or a shutdown canceling what runs).
 */
const SQLSTATE = /^(08...|57P0[123]|53300|57014)$/;
/** The pg driver's and pool's own errors: pool connect timeout, read timeout, a connection that died. */
const DRIVER_MESSAGES =
  /^(timeout exceeded when trying to connect|Connection terminated|Query read timeout|Client has encountered a connection error)/;
/** Prisma's interactive transaction that got no connection within maxWait. */
const NO_CONNECTION_IN_TIME = /Unable to start a transaction in the given time/;

/** Why `error` means the database is unavailable (a short text for logs), or undefined when it is any other error. */
export function databaseFault(error: unknown): string | undefined {
  if (error instanceof DomainError) return undefined; // already answered as what it is
  const seen = new Set<unknown>();
  const pending = [error];
  while (pending.length) {
    const node = pending.pop();
    if (!node || typeof node !== 'object' || seen.has(node)) continue;
    seen.add(node);
    const { code, errorCode, kind, originalCode, message, cause, meta } = node as Record<string, unknown>;
    // Prisma's messages start with where it was called; the reason is on the last line.
    const text = typeof message === 'string' ? (message.trim().split('\n').at(-1) ?? '') : '';
    if (typeof code === 'string' && (PRISMA_CODES.has(code) || SOCKET_CODES.has(code) || SQLSTATE.test(code)))
      return text || code;
    if (typeof errorCode === 'string' && PRISMA_CODES.has(errorCode)) return text || errorCode;
    if (typeof kind === 'string' && ADAPTER_KINDS.has(kind)) return text || kind;
    if (typeof originalCode === 'string' && SQLSTATE.test(originalCode)) return text || originalCode;
    if (DRIVER_MESSAGES.test(text) || NO_CONNECTION_IN_TIME.test(text)) return text;
    pending.push(
      cause,
      (meta as Record<string, unknown> | undefined)?.driverAdapterError,
      ...((node as { errors?: unknown[] }).errors ?? []),
    );
  }
  return undefined;
}

let lastFaultAt = 0;

/**
 * The 503 to answer when `error` means the database is unavailable, else undefined. Logs the
 * outage once (a warning at its first fault), not a stack per request or worker pass that meets it.
 */
export function databaseUnavailable(
  error: unknown,
  log: Pick<FastifyBaseLogger, 'warn'>,
): ServiceUnavailableError | undefined {
  if (error instanceof ServiceUnavailableError) return error;
  const reason = databaseFault(error);
  if (reason === undefined) return undefined;
  const now = Date.now();
  if (now - lastFaultAt > OUTAGE_QUIET_MS)
    log.warn({ reason }, 'database unavailable: requests that need it answer 503 until it is back');
  lastFaultAt = now;
  return new ServiceUnavailableError('The database is unavailable; retry later.', RETRY_AFTER_SECONDS);
}
