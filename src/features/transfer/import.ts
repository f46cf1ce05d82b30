import { setTimeout as sleep } from 'node:timers/promises';
import { Prisma, type PrismaClient } from '../../generated/prisma/client.js';
import { isId, newId, type IdPrefix } from '../../core/ids.js';
import { newWebhookSecret } from '../webhooks/signing.js';
import { noCounts, RECORD_TYPES, type Counts, type Line, type RecordType } from './format.js';
import {
  advanceLogAndCursor,
  appendImportedEvents,
  idsOfTenant,
  insertChildRecords,
  insertRecords,
  lockRelayCursor,
  lockTenantLog,
  raiseInvoiceCounters,
  tableColumns,
  unusableKeyHash,
} from './sql.js';

/** Records written per transaction; progress is reported after each batch. */
const BATCH = 500;
/** Errors a result lists (each with its line); `failed` counts them all. */
const MAX_ERRORS = 1000;
/** How long an event batch waits for the relays to publish the tenant's newer events before it gives up. */
const RELAY_WAIT_MS = 60_000;

export type ImportOptions = {
  /** Runner key hashes are taken from the file (the operator's import); otherwise imported runners get no usable key. */
  allowSecrets: boolean;
};

export type ImportResult = {
  exportId: string;
  /** Rows written by this import. */
  imported: Counts;
  /** Rows the tenant already held (with the same id): a second import of the same file finds them all here. */
  unchanged: Counts;
  failed: number;
  /** The refused lines (the first 1,000), numbered as in the file. */
  errors: { line: number; message: string }[];
};

export type ImportProgress = { completed: number; total: number };

/** The table each record type is stored in, the id prefix of its rows, and its children (stored with it). */
const TABLES: Record<
  RecordType,
  { table: string; prefix?: IdPrefix; child?: { field: string; table: string; prefix: IdPrefix; parent: string } }
> = {
  application: { table: 'Application', prefix: 'app' },
  sellerProfile: { table: 'SellerProfile' },
  contact: { table: 'Contact', prefix: 'contact' },
  invoice: {
    table: 'Invoice',
    prefix: 'inv',
    child: { field: 'lines', table: 'InvoiceLine', prefix: 'invl', parent: 'invoiceId' },
  },
  invoiceCounter: { table: 'InvoiceCounter' },
  webhookEndpoint: {
    table: 'WebhookEndpoint',
    prefix: 'whep',
    child: { field: 'secrets', table: 'WebhookSecret', prefix: 'whsk', parent: 'endpointId' },
  },
  runner: { table: 'Runner', prefix: 'run' },
  event: { table: 'Event', prefix: 'evt' },
};

type Row = Record<string, unknown>;
/** A record line that passed the checks of its shape. */
type ImportRecord = { line: number; type: RecordType; text: string; row: Row; children: Row[] };
/** What a batch wrote, applied to the result once its transaction committed. */
type Tally = { imported: number; unchanged: number; errors: { line: number; message: string }[] };

/** The relays have not published the tenant's newer events, so imported events cannot be put after them yet. */
class RelayBehindError extends Error {}

/**
 * Imports a file's records (the lines after its header) into a tenant, a batch of one record type
 * at a time in one transaction. Rows keep their ids; a row whose id the tenant already holds is left
 * as it is, so importing the same file again changes nothing. A line that cannot be stored is
 * reported by its number and never stops the others: a batch that fails is written again record by
 * record. Writes no change events: the rows are history moved, not news (README, "Moving a tenant").
 */
export async function importRecords(
  prisma: PrismaClient,
  target: { tenantId: string; exportId: string; total: number },
  lines: AsyncIterable<Line>,
  options: ImportOptions,
  onProgress: (progress: ImportProgress) => Promise<void>,
): Promise<ImportResult> {
  const { tenantId } = target;
  const result: ImportResult = {
    exportId: target.exportId,
    imported: noCounts(),
    unchanged: noCounts(),
    failed: 0,
    errors: [],
  };
  const fail = (line: number, message: string) => {
    result.failed++;
    if (result.errors.length < MAX_ERRORS) result.errors.push({ line, message });
  };
  const columns = await tableColumnsOf(prisma);
  const writer = batchWriter(prisma, tenantId, columns, options);
  let done = 0;
  let batch: ImportRecord[] = [];

  const flush = async () => {
    if (!batch.length) return;
    const type = batch[0]!.type;
    for (const tally of await writer.write(type, batch)) {
      result.imported[type] += tally.imported;
      result.unchanged[type] += tally.unchanged;
      for (const error of tally.errors) fail(error.line, error.message);
    }
    done += batch.length;
    batch = [];
    await onProgress({ completed: done, total: Math.max(target.total, done) });
    // Embedded PGlite answers without I/O: without this, a long import would keep HTTP waiting.
    await new Promise((resolve) => setImmediate(resolve));
  };

  for await (const line of lines) {
    const parsed = parseRecord(line, columns);
    if ('error' in parsed) {
      fail(line.number, parsed.error);
      done++;
      continue;
    }
    if (batch.length && (batch[0]!.type !== parsed.type || batch.length >= BATCH)) await flush();
    batch.push(parsed);
  }
  await flush();
  // A batch refused as a whole reports its lines after the shape errors found while it filled.
  result.errors.sort((a, b) => a.line - b.line);
  return result;
}

/** The columns of every table an import writes, as this database has them. */
async function tableColumnsOf(prisma: PrismaClient): Promise<Map<string, Set<string>>> {
  const tables = Object.values(TABLES).flatMap(({ table, child }) => (child ? [table, child.table] : [table]));
  const entries = await Promise.all(
    tables.map(async (table) => {
      const rows = await prisma.$queryRaw<{ name: string }[]>(tableColumns(table));
      return [table, new Set(rows.map((row) => row.name))] as const;
    }),
  );
  return new Map(entries);
}

/** Checks a record line's shape: its type, its row's id, its children's ids, and no column this database lacks. */
function parseRecord(line: Line, columns: Map<string, Set<string>>): ImportRecord | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line.text);
  } catch {
    return { error: 'is not valid JSON' };
  }
  if (!isObject(value)) return { error: 'is not a JSON object' };
  const type = value.type as RecordType;
  if (!RECORD_TYPES.includes(type)) return { error: `"type" must be one of ${RECORD_TYPES.join(', ')}` };
  const row = value.row;
  if (!isObject(row)) return { error: '"row" must be an object' };
  const spec = TABLES[type];
  const rowProblem = rowError(row, spec.prefix, columns.get(spec.table)!, type === 'invoiceCounter');
  if (rowProblem) return { error: rowProblem };
  let children: Row[] = [];
  if (spec.child) {
    const list = value[spec.child.field] ?? [];
    if (!Array.isArray(list)) return { error: `"${spec.child.field}" must be an array` };
    for (const [index, child] of list.entries()) {
      const problem = isObject(child)
        ? rowError(child, spec.child.prefix, columns.get(spec.child.table)!, false)
        : 'must be an object';
      if (problem) return { error: `${spec.child.field}[${index}]: ${problem}` };
    }
    children = list as Row[];
  }
  return { line: line.number, type, text: line.text, row, children };
}

function rowError(row: Row, prefix: IdPrefix | undefined, columns: Set<string>, counter: boolean): string | null {
  if (prefix && (typeof row.id !== 'string' || !isId(prefix, row.id)))
    return `"row.id" must be "${prefix}_" followed by a ULID`;
  if (counter && !(Number.isInteger(row.year) && Number.isInteger(row.last)))
    return '"row.year" and "row.last" must be integers';
  const unknown = Object.keys(row).filter((key) => !columns.has(key) || key === 'tenantId');
  if (unknown.length) return `has columns this gateway does not store: ${unknown.join(', ')}`;
  return null;
}

const isObject = (value: unknown): value is Row => typeof value === 'object' && value !== null && !Array.isArray(value);

/** Writes batches of one record type: in one transaction, or record by record once that fails. */
function batchWriter(
  prisma: PrismaClient,
  tenantId: string,
  columns: Map<string, Set<string>>,
  options: ImportOptions,
) {
  /** The columns to insert: those the records carry (the table's defaults fill the others), and the owner. */
  const named = (table: string, rows: Row[], owner: string) => {
    const keys = new Set<string>([owner]);
    for (const row of rows) for (const key of Object.keys(row)) keys.add(key);
    return [...columns.get(table)!].filter((column) => keys.has(column));
  };
  const recordsJson = (records: ImportRecord[]) => `[${records.map((record) => record.text).join(',')}]`;

  /** Rows not inserted: the tenant's own are unchanged, any other is another tenant's id. */
  async function sortOut(
    tx: Prisma.TransactionClient,
    table: string,
    records: ImportRecord[],
    inserted: Set<string>,
  ): Promise<Tally> {
    const missing = records.filter((record) => !inserted.has(record.row.id as string));
    const owned = missing.length
      ? new Set(
          (
            await tx.$queryRaw<{ id: string }[]>(
              idsOfTenant(
                table,
                tenantId,
                missing.map((record) => record.row.id as string),
              ),
            )
          ).map((row) => row.id),
        )
      : new Set<string>();
    const foreign = missing.filter((record) => !owned.has(record.row.id as string));
    return {
      imported: inserted.size,
      unchanged: owned.size,
      errors: foreign.map((record) => ({
        line: record.line,
        message: `id ${record.row.id as string} belongs to another tenant of this installation`,
      })),
    };
  }

  async function writeRows(tx: Prisma.TransactionClient, type: RecordType, records: ImportRecord[]): Promise<Tally> {
    const json = recordsJson(records);
    if (type === 'invoiceCounter') {
      const raised = await tx.$queryRaw<{ year: number }[]>(raiseInvoiceCounters(json, tenantId));
      return { imported: raised.length, unchanged: records.length - raised.length, errors: [] };
    }
    const spec = TABLES[type];
    const rows = records.map((record) => record.row);
    const list = named(spec.table, rows, 'tenantId');
    // A runner always gets a key hash: its own (the operator's import of a file with secrets) or an unusable one.
    const statement =
      type === 'runner'
        ? insertRecords(spec.table, [...new Set([...list, 'keyHash'])], json, tenantId, {
            extra: unusableKeyHash(options.allowSecrets),
          })
        : insertRecords(spec.table, list, json, tenantId, { key: spec.prefix ? 'id' : 'tenantId' });
    const inserted = new Set((await tx.$queryRaw<{ id: string }[]>(statement)).map((row) => row.id));
    // The tenant's own seller profile, when not inserted, is the one it has: kept as it is.
    if (!spec.prefix) return { imported: inserted.size, unchanged: records.length - inserted.size, errors: [] };
    const child = spec.child;
    if (child && inserted.size) {
      const children = records.flatMap((record) => record.children);
      if (children.length) {
        const childColumns = named(child.table, children, child.parent);
        await tx.$executeRaw(
          insertChildRecords(child.table, childColumns, json, child.field, child.parent, [...inserted]),
        );
      }
    }
    if (type === 'webhookEndpoint') {
      // An endpoint whose secrets did not travel signs with a new one (rotate-secret shows a new secret).
      const withoutSecret = records.filter((r) => inserted.has(r.row.id as string) && !r.children.length);
      if (withoutSecret.length) {
        await tx.webhookSecret.createMany({
          data: withoutSecret.map((r) => ({
            id: newId('whsk'),
            endpointId: r.row.id as string,
            secret: newWebhookSecret(),
          })),
        });
      }
    }
    return sortOut(tx, spec.table, records, inserted);
  }

  /**
   * Events are appended after the tenant's log (ids, times and data kept; tenantSequence renumbered
   * from the log's end) and the relay cursor moves past them in the same transaction, so they are
   * neither published live nor delivered to webhooks again. That needs every earlier event of the
   * tenant published: until the relays have done so, the batch waits.
   */
  async function appendEvents(records: ImportRecord[]): Promise<Tally> {
    const json = recordsJson(records);
    const list = named(
      'Event',
      records.map((record) => record.row),
      'tenantId',
    );
    const deadline = Date.now() + RELAY_WAIT_MS;
    for (;;) {
      try {
        return await prisma.$transaction(async (tx) => {
          const [log] = await tx.$queryRaw<{ eventSequence: number }[]>(lockTenantLog(tenantId));
          const [cursor] = await tx.$queryRaw<{ publishedSequence: number }[]>(lockRelayCursor(tenantId));
          if (!log || !cursor || cursor.publishedSequence < log.eventSequence) throw new RelayBehindError();
          const appended = await tx.$queryRaw<{ id: string }[]>(
            appendImportedEvents(list, json, tenantId, log.eventSequence),
          );
          if (appended.length) await tx.$executeRaw(advanceLogAndCursor(tenantId, log.eventSequence + appended.length));
          return sortOut(tx, 'Event', records, new Set(appended.map((row) => row.id)));
        });
      } catch (error) {
        if (!(error instanceof RelayBehindError)) throw error;
        if (Date.now() > deadline) {
          throw new Error(
            'The event relay has not published the tenant’s latest events for a minute; events are imported once it has (is a gateway with EVENT_RELAY=on running?).',
          );
        }
        await sleep(50);
      }
    }
  }

  const attempt = (type: RecordType, records: ImportRecord[]) =>
    type === 'event' ? appendEvents(records) : prisma.$transaction((tx) => writeRows(tx, type, records));

  return {
    /** Writes a batch; answers its tally, or one per record when the batch as a whole was refused. */
    async write(type: RecordType, records: ImportRecord[]): Promise<Tally[]> {
      try {
        return [await attempt(type, records)];
      } catch (error) {
        const refusal = storageError(error);
        if (refusal === null) throw error;
        if (records.length === 1)
          return [{ imported: 0, unchanged: 0, errors: [{ line: records[0]!.line, message: refusal }] }];
        const tallies: Tally[] = [];
        for (const record of records) tallies.push(...(await this.write(type, [record])));
        return tallies;
      }
    },
  };
}

/** Why PostgreSQL refused a row (a constraint, a value of the wrong type), or null for any other failure. */
function storageError(error: unknown): string | null {
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return null;
  const meta = error.meta as
    | { driverAdapterError?: { cause?: { originalMessage?: string; kind?: string; constraint?: unknown } } }
    | undefined;
  const cause = meta?.driverAdapterError?.cause;
  const reason = cause?.originalMessage ?? error.message.split('\n').at(-1) ?? error.message;
  return `cannot be stored: ${reason}`;
}
