import type { Prisma, PrismaClient } from '../../generated/prisma/client.js';
import { FORMAT, FORMAT_VERSION, noCounts, RECORD_TYPES, type Counts, type Header, type RecordType } from './format.js';
import {
  applicationLines,
  sellerProfileLines,
  contactLines,
  countTenantRows,
  eventLines,
  invoiceCounterLines,
  invoiceLines,
  runnerLines,
  webhookEndpointLines,
  type ExportLine,
} from './sql.js';
import type { FileStore } from './store.js';

/** Rows read per statement: a page is a few hundred kilobytes at most. */
const PAGE = 1000;

export type ExportOptions = { includeSecrets: boolean; includeEvents: boolean };

/** Rows written so far, of how many the tenant held when the export started. */
export type ExportProgress = { completed: number; total: number };

export type WrittenExport = { exportId: string; bytes: number; counts: Counts };

/**
 * Writes the tenant as an export file (`fileId`, chunks of the file store): each record type page
 * by page in keyset order, then the header with the counts actually written as chunk 0, so it comes
 * first. Rows are read as the text PostgreSQL renders and written as such: nothing is parsed, and
 * no more than a page is in memory. Without a snapshot (a long transaction would hold the embedded
 * database's only connection), a row changed meanwhile travels as it was when its page was read.
 */
export async function writeExport(
  prisma: PrismaClient,
  files: FileStore,
  target: { tenantId: string; fileId: string; exportId: string },
  options: ExportOptions,
  onProgress: (progress: ExportProgress) => Promise<void>,
): Promise<WrittenExport> {
  const { tenantId, fileId } = target;
  const tenant = await prisma.tenant.findUniqueOrThrow({ where: { id: tenantId } });
  const held = (await prisma.$queryRaw<Counts[]>(countTenantRows(tenantId)))[0]!;
  const types = RECORD_TYPES.filter((type) => type !== 'event' || options.includeEvents);
  const total = types.reduce((sum, type) => sum + held[type], 0);
  const counts = noCounts();
  await files.remove(fileId); // what an earlier attempt of the same job wrote
  const writer = files.writer(fileId, tenantId);
  let completed = 0;
  for (const type of types) {
    for (let after = ''; ; ) {
      const rows = await prisma.$queryRaw<ExportLine[]>(page(type, tenantId, after, options));
      if (!rows.length) break;
      for (const row of rows) await writer.write(`${row.line}\n`);
      after = rows.at(-1)!.key;
      counts[type] += rows.length;
      completed += rows.length;
      await onProgress({ completed, total: Math.max(total, completed) });
      // Embedded PGlite answers without I/O: without this, a long export would keep HTTP waiting.
      await new Promise((resolve) => setImmediate(resolve));
      if (rows.length < PAGE) break;
    }
  }
  const bytes = await writer.end();
  const header: Header = {
    type: 'header',
    format: FORMAT,
    version: FORMAT_VERSION,
    exportId: target.exportId,
    exportedAt: new Date().toISOString(),
    tenant: { id: tenant.id, name: tenant.name, features: tenant.features },
    includesSecrets: options.includeSecrets,
    includesEvents: options.includeEvents,
    counts,
  };
  const headerLine = Buffer.from(`${JSON.stringify(header)}\n`);
  await files.put(fileId, tenantId, 0, new Uint8Array(headerLine));
  return { exportId: target.exportId, bytes: bytes + headerLine.length, counts };
}

function page(type: RecordType, tenantId: string, after: string, options: ExportOptions): Prisma.Sql {
  switch (type) {
    case 'application':
      return applicationLines(tenantId, after, PAGE);
    case 'sellerProfile':
      return sellerProfileLines(tenantId, after);
    case 'contact':
      return contactLines(tenantId, after, PAGE);
    case 'invoice':
      return invoiceLines(tenantId, after, PAGE);
    case 'invoiceCounter':
      return invoiceCounterLines(tenantId, after, PAGE);
    case 'webhookEndpoint':
      return webhookEndpointLines(tenantId, after, PAGE, options.includeSecrets);
    case 'runner':
      return runnerLines(tenantId, after, PAGE, options.includeSecrets);
    case 'event':
      return eventLines(tenantId, after, PAGE);
  }
}
