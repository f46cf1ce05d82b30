import { z } from 'zod';
import { ValidationError } from '../../core/errors.js';

// The tenant export file: NDJSON, one JSON object a line. The first line is the header (format,
// version, what the file holds and how many of each); every other line is one record
// {"type", "row", …}, where `row` is the stored row's columns as PostgreSQL's to_jsonb writes them
// (the tenant id left out, since the importing tenant is the owner), so columns added by later
// migrations travel without this module knowing them.

export const FORMAT = 'nilo-tenant-export';
export const FORMAT_VERSION = 1;
export const NDJSON = 'application/x-ndjson';

/** The record types, in the order an export writes them: what a row refers to comes before it. */
export const RECORD_TYPES = [
  'application',
  'sellerProfile',
  'contact',
  'invoice',
  'invoiceCounter',
  'webhookEndpoint',
  'runner',
  'event',
] as const;
export type RecordType = (typeof RECORD_TYPES)[number];

export type Counts = Record<RecordType, number>;
export const noCounts = (): Counts => Object.fromEntries(RECORD_TYPES.map((type) => [type, 0])) as Counts;

const HeaderLine = z.object({
  type: z.literal('header', { error: 'the first line must be the header ({"type":"header",…})' }),
  format: z.literal(FORMAT, { error: `must be "${FORMAT}"` }),
  version: z.number().int(),
  exportId: z.string().min(1).max(100),
  exportedAt: z.iso.datetime({ offset: true }),
  tenant: z.object({ id: z.string().max(100), name: z.string().max(200), features: z.array(z.string()) }),
  includesSecrets: z.boolean(),
  includesEvents: z.boolean(),
  counts: z.object(
    Object.fromEntries(RECORD_TYPES.map((type) => [type, z.int().min(0)])) as Record<RecordType, z.ZodInt>,
  ),
});
export type Header = z.output<typeof HeaderLine>;

/** The first line of a file, checked: a wrong format, version or shape is refused before any row is read. */
export function parseHeader(text: string | undefined): Header {
  let value: unknown;
  try {
    value = JSON.parse(text ?? '');
  } catch {
    throw new ValidationError([
      { path: 'line 1', message: 'is not a JSON object: the file must start with its header' },
    ]);
  }
  const version = (value as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== FORMAT_VERSION) {
    throw new ValidationError([
      {
        path: 'line 1.version',
        message: `format version ${version} is not supported; this gateway reads version ${FORMAT_VERSION}`,
      },
    ]);
  }
  const parsed = HeaderLine.safeParse(value);
  if (!parsed.success) {
    throw new ValidationError(
      parsed.error.issues.map((issue) => ({
        path: ['line 1', ...issue.path.map(String)].join('.'),
        message: issue.message,
      })),
    );
  }
  return parsed.data;
}

/** A line of the file, numbered from 1 as an editor numbers it. */
export type Line = { number: number; text: string };

/** Longest line an import reads: a record is one row (an invoice with its lines), never megabytes. */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;

export class LineTooLongError extends Error {
  constructor(readonly line: number) {
    super(`Line ${line} is longer than ${MAX_LINE_BYTES} bytes.`);
  }
}

/**
 * The lines of a byte stream, one at a time (empty lines skipped, still counted; a trailing \r
 * dropped): the stream is never held whole, only the line being read.
 */
export async function* readLines(chunks: AsyncIterable<Uint8Array>): AsyncGenerator<Line> {
  const decoder = new TextDecoder();
  let pending = '';
  let number = 0;
  for await (const chunk of chunks) {
    pending += decoder.decode(chunk, { stream: true });
    let start = 0;
    for (let end = pending.indexOf('\n'); end !== -1; end = pending.indexOf('\n', start)) {
      number++;
      const text = pending.slice(start, end).replace(/\r$/, '');
      if (text.trim()) yield { number, text };
      start = end + 1;
    }
    pending = pending.slice(start);
    if (pending.length > MAX_LINE_BYTES) throw new LineTooLongError(number + 1);
  }
  pending += decoder.decode();
  if (pending.trim()) yield { number: number + 1, text: pending.replace(/\r$/, '') };
}
