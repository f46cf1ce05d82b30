// Opens the database: a PostgreSQL server when DATABASE_URL is set, otherwise an embedded PGlite
// under DATA_DIR. This is the only place that tells the two modes apart.
import path from 'node:path';

import pg from 'pg';

import type { Config } from '../config.js';
import { Prisma, PrismaClient } from '../generated/prisma/client.js';
import { lockDataDir } from './data-dir.js';
import { migrationsCurrent } from './migration-folders.js';
import type { MigrationTarget } from './migrate.js';

export { dataDirHolder } from './data-dir.js';

/** Receives a NOTIFY payload, or null when notifications may have been missed (listener reconnected). */
export type NotificationHandler = (payload: string | null) => void;

/** Runs one statement on the driver (Database.query). */
export type Query = <Row>(statement: Prisma.Sql) => Promise<Row[]>;

export type Database = {
  prisma: PrismaClient;
  kind: 'postgres' | 'pglite';
  /**
   * One statement (a `Prisma.sql` template) on the driver itself, without Prisma: for the webhook
   * worker's claims and records, whose many rows Prisma would only convert. The two drivers parse
   * timestamps differently, so such statements return json, text and numbers. A Date parameter is
   * sent as its UTC time (ISO 8601): cast it (`::timestamp`) where PostgreSQL cannot infer its type.
   */
  query: Query;
  /**
   * Runs `work` in one transaction on one driver connection, its statements as `query` takes them:
   * committed when it resolves, rolled back when it throws. For the relay's pass, whose few
   * statements carry many rows. They run unprepared, each planned for its parameters: a prepared
   * statement's generic plan read every tenant's row for a list of one (a seq scan over the dead
   * versions of the counter rows writes keep updating: PostgreSQL CPU per create doubled).
   */
  transaction<T>(work: (query: Query) => Promise<T>): Promise<T>;
  /** LISTENs on a PostgreSQL channel; `SELECT pg_notify(channel, payload)` from any process reaches it. */
  listen(channel: string, handler: NotificationHandler): Promise<void>;
  close(): Promise<void>;
};

/** The probe of /ready and the database-up gauge: one round trip that reads no table. */
export const ping = (database: Pick<Database, 'query'>) => database.query(Prisma.sql`SELECT 1`);

export type OpenOptions = {
  /** Apply pending migrations before returning (default true). */
  migrate?: boolean;
  /** Told which migrations were just applied, e.g. to log them. */
  onMigrationsApplied?: (names: string[]) => void;
};

const POOL_SIZE = 10;
/** Distinct SQL texts each connection keeps prepared. */
export const MAX_PREPARED_STATEMENTS = 500;
/** Writes queue on per-tenant counter rows (and PGlite runs one transaction at a time), so allow waiting. */
const TRANSACTION_OPTIONS = { maxWait: 10_000, timeout: 15_000 };
/** PGlite's own folder inside the data dir, so the lock file and PostgreSQL's files don't mix. */
const PGLITE_SUBDIR = 'pglite';
/**
 * PostgreSQL's default (128MB) is resident memory once touched; PGlite's files are cached by the
 * operating system anyway, and at 32MB queries measured the same (bench/README.md, footprint).
 */
const PGLITE_SHARED_BUFFERS = '32MB';

export async function openDatabase(config: Config, opts: OpenOptions = {}): Promise<Database> {
  const { migrate = true, onMigrationsApplied } = opts;

  if (config.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: inUtc(config.databaseUrl),
      max: POOL_SIZE,
      ...connectionLimits(config),
    });
    // An idle connection that the server closed (restart, failover, admin command) is dropped by
    // the pool and replaced on demand; unhandled, its error would end the process.
    pool.on('error', () => {});
    if (migrate) {
      const databaseUrl = config.databaseUrl;
      await migrateIfBehind(async (sql) => (await pool.query(sql)).rows, { databaseUrl }, onMigrationsApplied).catch(
        async (error) => {
          await pool.end().catch(() => {}); // the original error matters more
          throw error;
        },
      );
    }
    // One generator for Prisma's statements and ours: they share the connections, and pg refuses a
    // name that a connection already prepared for another text.
    const nameOf = config.preparedStatements ? statementNames() : undefined;
    const { PrismaPg } = await import('@prisma/adapter-pg');
    const prisma = new PrismaClient({
      adapter: new PrismaPg(pool, nameOf ? { statementNameGenerator: nameOf } : {}),
      transactionOptions: TRANSACTION_OPTIONS,
    });
    const listener = new PgListener({ connectionString: config.databaseUrl, ...connectionLimits(config) });
    return {
      prisma,
      kind: 'postgres',
      query: async <Row>(statement: Prisma.Sql) => {
        const { text } = statement;
        return (await pool.query({ text, values: driverValues(statement), name: nameOf?.({ sql: text }) }))
          .rows as Row[];
      },
      transaction: async (work) => {
        const client = await pool.connect();
        // The server closing the connection mid-transaction (restart, failover) fails the statement
        // in flight; the client's own error event, unheard, would end the process.
        const ignore = () => {};
        client.on('error', ignore);
        try {
          await client.query('BEGIN');
          const result = await work(
            async (statement) => (await client.query(statement.text, driverValues(statement))).rows,
          );
          await client.query('COMMIT');
          client.off('error', ignore);
          client.release();
          return result;
        } catch (error) {
          // A connection that cannot even roll back is not handed out again.
          await client.query('ROLLBACK').then(
            () => client.release(),
            (rollbackError: Error) => client.release(rollbackError),
          );
          client.off('error', ignore);
          throw error;
        }
      },
      listen: (channel, handler) => listener.listen(channel, handler),
      close: async () => {
        await listener.close();
        await prisma.$disconnect();
        await pool.end();
      },
    };
  }

  const dataDir = path.resolve(config.dataDir);
  const releaseLock = lockDataDir(dataDir);
  // Each mode loads only its own driver: PGlite and its adapter are not in a server-mode process.
  const [{ PGlite }, { PrismaPGlite }] = await Promise.all([
    import('@electric-sql/pglite'),
    import('pglite-prisma-adapter'),
  ]);
  const pglite = new PGlite(path.join(dataDir, PGLITE_SUBDIR), {
    startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${PGLITE_SHARED_BUFFERS}`],
  });
  try {
    await pglite.waitReady;
    if (migrate)
      await migrateIfBehind(
        async (sql) => (await pglite.query<{ migration_name: string }>(sql)).rows,
        { pglite },
        onMigrationsApplied,
      );
  } catch (error) {
    await pglite.close().catch(() => {}); // the original error matters more
    releaseLock();
    throw error;
  }

  const prisma = new PrismaClient({ adapter: new PrismaPGlite(pglite), transactionOptions: TRANSACTION_OPTIONS });
  const unlisteners: (() => Promise<void>)[] = [];
  return {
    prisma,
    kind: 'pglite',
    query: async <Row>(statement: Prisma.Sql) =>
      (await pglite.query<Row>(statement.text, driverValues(statement))).rows,
    transaction: (work) =>
      pglite.transaction((tx) =>
        work(async <Row>(statement: Prisma.Sql) => (await tx.query<Row>(statement.text, driverValues(statement))).rows),
      ),
    listen: async (channel, handler) => {
      unlisteners.push(await pglite.listen(channel, handler));
    },
    close: async () => {
      try {
        await Promise.all(unlisteners.map((unlisten) => unlisten()));
        await prisma.$disconnect(); // does not close PGlite: the adapter's dispose is a no-op
        await pglite.close();
      } finally {
        releaseLock();
      }
    },
  };
}

/**
 * A statement's parameters as the drivers get them: a Date as its UTC time, since our timestamp
 * columns hold UTC wall time and pg would otherwise send the process's local time.
 */
function driverValues(statement: Prisma.Sql): unknown[] {
  return statement.values.map((value) => (value instanceof Date ? value.toISOString() : value));
}

/**
 * Runs the migration engine only when the database lacks a migration of the folder: one query
 * answers that, while loading the engine (WebAssembly) and asking it costs a few hundred ms.
 */
async function migrateIfBehind(
  query: (sql: string) => Promise<{ migration_name: string }[]>,
  target: MigrationTarget,
  onApplied: OpenOptions['onMigrationsApplied'],
): Promise<void> {
  if (await migrationsCurrent(query)) return onApplied?.([]);
  const { applyMigrations } = await import('./migrate.js');
  // Not `onApplied?.(await …)`: an absent callback would skip the migration itself.
  const applied = await applyMigrations(target);
  onApplied?.(applied);
}

/**
 * Bounds on how long a connection may wait for PostgreSQL: a server that is down or frozen fails
 * requests (503) after these instead of holding them. The server cancels a statement past the
 * statement timeout itself and keeps the connection; the driver's read timeout, a second later,
 * catches a server that cannot even do that (frozen, or the network gone) and drops the connection.
 * TCP keepalive notices a peer that vanished while a connection sat idle.
 */
function connectionLimits(config: Config): pg.ClientConfig {
  return {
    connectionTimeoutMillis: config.databaseConnectTimeoutMs,
    statement_timeout: config.databaseStatementTimeoutMs,
    query_timeout: config.databaseStatementTimeoutMs + 1000,
    keepAlive: true,
  };
}

/**
 * Names SQL texts so each connection prepares them once: PostgreSQL then parses a statement once
 * per connection instead of at every execution, and after a few executions keeps a generic plan
 * instead of planning each one. Bounded, since some texts vary with their arguments (lists of
 * every length); texts past the bound run unnamed, as before.
 */
function statementNames() {
  const names = new Map<string, string>();
  return ({ sql }: { sql: string }): string => {
    let name = names.get(sql);
    if (name === undefined && names.size < MAX_PREPARED_STATEMENTS) names.set(sql, (name = `nilo_${names.size}`));
    // pg runs a query without a name unprepared.
    return name as string;
  };
}

/**
 * Prisma stores DateTime as UTC wall time in timestamp columns, and our SQL compares them with
 * now(): both agree only when sessions run in UTC, whatever the server or the URL says. A later
 * `-c` wins, so ours goes last in the startup options.
 */
function inUtc(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.searchParams.set('options', [url.searchParams.get('options'), '-c TimeZone=UTC'].filter(Boolean).join(' '));
  return url.toString();
}

/**
 * One dedicated connection for LISTEN (a pooled one would be handed to other queries). It
 * reconnects after errors and tells handlers (payload null) that they may have missed something.
 */
class PgListener {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly handlers = new Map<string, NotificationHandler[]>();
  private closed = false;

  constructor(private readonly clientConfig: pg.ClientConfig) {}

  async listen(channel: string, handler: NotificationHandler): Promise<void> {
    const known = this.handlers.get(channel);
    this.handlers.set(channel, [...(known ?? []), handler]);
    const client = await this.connect();
    if (!known) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.client?.end().catch(() => {});
  }

  private connect(): Promise<pg.Client> {
    this.connecting ??= (async () => {
      const client = new pg.Client(this.clientConfig);
      client.on('notification', (message) => {
        for (const handler of this.handlers.get(message.channel) ?? []) handler(message.payload ?? '');
      });
      client.on('error', () => this.reconnectSoon(client));
      client.on('end', () => this.reconnectSoon(client));
      await client.connect();
      for (const channel of this.handlers.keys()) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      this.client = client;
      return client;
    })().catch((error) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private reconnectSoon(broken: pg.Client): void {
    if (this.closed || this.client !== broken) return;
    this.client = undefined;
    this.connecting = undefined;
    this.retry();
  }

  private retry(): void {
    setTimeout(() => {
      if (this.closed) return;
      this.connect().then(
        () => this.handlers.forEach((handlers) => handlers.forEach((handler) => handler(null))),
        () => this.retry(),
      );
    }, 1000).unref();
  }
}
