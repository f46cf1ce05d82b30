import pg from 'pg';
import { describe, expect, test } from 'vitest';
import { databaseFault, databaseUnavailable, RETRY_AFTER_SECONDS } from '../../src/db/unavailable.js';
import { ServiceUnavailableError, ValidationError } from '../../src/core/errors.js';
import { Prisma } from '../../src/generated/prisma/client.js';

// The shapes below are those Prisma 7, @prisma/adapter-pg and pg surface when PostgreSQL is down,
// restarting or frozen (as test/faults.test.ts meets them for real).

function prismaError(code: string, message: string, cause?: Record<string, unknown>) {
  return new Prisma.PrismaClientKnownRequestError(message, {
    code,
    clientVersion: '7.10.0',
    meta: cause ? { driverAdapterError: { name: 'DriverAdapterError', cause } } : {},
  });
}

function sqlError(code: string, message: string) {
  return Object.assign(new pg.DatabaseError(message, 0, 'error'), { code, severity: 'FATAL' });
}

function socketError(code: string) {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), {
    code,
    syscall: 'connect',
    errno: -111,
    address: '127.0.0.1',
    port: 5432,
  });
}

describe('databaseFault', () => {
  test.each([
    [
      'server not reachable (P1001)',
      prismaError('P1001', "Can't reach database server at 127.0.0.1:5432", {
        kind: 'DatabaseNotReachable',
        host: '127.0.0.1',
        port: 5432,
      }),
    ],
    [
      'connection closed (P1017)',
      prismaError('P1017', 'Server has closed the connection.', { kind: 'ConnectionClosed' }),
    ],
    [
      'a raw query on an unreachable server (P2010)',
      prismaError('P2010', 'Raw query failed. Code: `N/A`.', { kind: 'DatabaseNotReachable' }),
    ],
    [
      'a shutdown ending the session (57P01 in P2010)',
      prismaError('P2010', 'Raw query failed. Code: `57P01`.', {
        kind: 'postgres',
        code: '57P01',
        originalCode: '57P01',
      }),
    ],
    [
      'the statement timeout (57014 in P2010)',
      prismaError('P2010', 'Raw query failed. Code: `57014`.', {
        kind: 'postgres',
        code: '57014',
        originalCode: '57014',
      }),
    ],
    [
      'too many connections',
      prismaError('P2037', 'Too many database connections opened', { kind: 'TooManyConnections' }),
    ],
    [
      'no connection for a transaction in time (P2028)',
      prismaError('P2028', 'Transaction API error: Unable to start a transaction in the given time.'),
    ],
    ['pg: administrator shutdown', sqlError('57P01', 'terminating connection due to administrator command')],
    ['pg: server starting up', sqlError('57P03', 'the database system is starting up')],
    ['pg: connection failure', sqlError('08006', 'connection failure')],
    ['pg: refused', socketError('ECONNREFUSED')],
    ['pg: reset', socketError('ECONNRESET')],
    ['pg: several addresses refused', new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')])],
    ['pool: no connection in time', new Error('timeout exceeded when trying to connect')],
    [
      'pool: connection timeout',
      new Error('Connection terminated due to connection timeout', {
        cause: new Error('Connection terminated unexpectedly'),
      }),
    ],
    ['driver: connection died', new Error('Connection terminated unexpectedly')],
    ['driver: no answer in time (a frozen server)', new Error('Query read timeout')],
  ])('%s is an outage', (_, error) => {
    expect(databaseFault(error)).toEqual(expect.any(String));
  });

  test.each([
    [
      'a unique violation (P2002)',
      prismaError('P2002', 'Unique constraint failed', { kind: 'UniqueConstraintViolation' }),
    ],
    [
      'a raw query that broke a constraint (23505 in P2010)',
      prismaError('P2010', 'Raw query failed. Code: `23505`.', {
        kind: 'UniqueConstraintViolation',
        originalCode: '23505',
      }),
    ],
    ['a missing row (P2025)', prismaError('P2025', 'No record was found for an update.')],
    ['pg: a syntax error', sqlError('42601', 'syntax error at or near "SELEC"')],
    ['pg: a deadlock', sqlError('40P01', 'deadlock detected')],
    ['a domain error', new ValidationError([{ path: 'email', message: 'Connection terminated unexpectedly' }])],
    ['any other error', new Error('boom')],
    ['not an error', 'Connection terminated unexpectedly'],
    ['nothing', undefined],
  ])('%s is not an outage', (_, error) => {
    expect(databaseFault(error)).toBeUndefined();
  });

  test("names the reason in one line, not Prisma's call site", () => {
    const error = prismaError(
      'P1001',
      "\nInvalid `prisma.contact.findMany()` invocation in\n/app/src/domain/contacts.ts:132:29\n\n  129 …\n\nCan't reach database server at 127.0.0.1:5432",
    );
    expect(databaseFault(error)).toBe("Can't reach database server at 127.0.0.1:5432");
  });
});

describe('databaseUnavailable', () => {
  test('answers 503 service_unavailable with Retry-After, logging the outage once rather than at every fault', () => {
    const warnings: unknown[] = [];
    const log = { warn: (...args: unknown[]) => void warnings.push(args) };
    const first = databaseUnavailable(new Error('Query read timeout'), log);
    expect(first).toBeInstanceOf(ServiceUnavailableError);
    expect(first).toMatchObject({ status: 503, code: 'service_unavailable', retryAfterSeconds: RETRY_AFTER_SECONDS });
    expect(warnings).toHaveLength(1);
    expect(databaseUnavailable(socketError('ECONNREFUSED'), log)).toBeInstanceOf(ServiceUnavailableError);
    expect(warnings).toHaveLength(1);
  });

  test('leaves other errors alone', () => {
    const log = { warn: () => expect.unreachable('logged') };
    expect(databaseUnavailable(new Error('boom'), log)).toBeUndefined();
  });
});
