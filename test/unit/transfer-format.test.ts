import { describe, expect, test } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import {
  FORMAT,
  FORMAT_VERSION,
  LineTooLongError,
  MAX_LINE_BYTES,
  parseHeader,
  readLines,
} from '../../src/features/transfer/format.js';

// The tenant export file's rules that need no database: reading lines from chunks cut anywhere,
// and the header's checks.

async function collect(chunks: (string | Uint8Array)[]) {
  const source = (async function* () {
    for (const chunk of chunks) yield typeof chunk === 'string' ? new TextEncoder().encode(chunk) : chunk;
  })();
  const lines = [];
  for await (const line of readLines(source)) lines.push(line);
  return lines;
}

describe('readLines', () => {
  test('numbers lines as an editor does, skipping empty ones, dropping \\r, with or without a last newline', async () => {
    expect(await collect(['{"a":1}\r\n\n  \n{"b"', ':2}\n{"c":3}'])).toEqual([
      { number: 1, text: '{"a":1}' },
      { number: 4, text: '{"b":2}' },
      { number: 5, text: '{"c":3}' },
    ]);
  });

  test('a character whose UTF-8 bytes fall in two chunks arrives whole', async () => {
    const bytes = new TextEncoder().encode('{"city":"Zürich 東京"}\n');
    const cut = bytes.indexOf(0xc3) + 1; // inside ü
    const lines = await collect([bytes.subarray(0, cut), bytes.subarray(cut, cut + 12), bytes.subarray(cut + 12)]);
    expect(lines).toEqual([{ number: 1, text: '{"city":"Zürich 東京"}' }]);
  });

  test('a line longer than MAX_LINE_BYTES stops the reading, naming the line', async () => {
    const long = 'x'.repeat(MAX_LINE_BYTES + 1);
    await expect(collect(['{"ok":1}\n', long])).rejects.toEqual(new LineTooLongError(2));
  });
});

describe('parseHeader', () => {
  const header = {
    type: 'header',
    format: FORMAT,
    version: FORMAT_VERSION,
    exportId: 'job_01KBWZ2W7ZQ4G5Y6B0J9C2N3P4',
    exportedAt: '2026-12-06T09:00:00.000Z',
    tenant: { id: 'ten_01KBWZ2W7ZQ4G5Y6B0J9C2N3P4', name: 'Acme', features: ['accounting'] },
    includesSecrets: false,
    includesEvents: true,
    counts: {
      application: 1,
      sellerProfile: 0,
      contact: 3,
      invoice: 2,
      invoiceCounter: 1,
      webhookEndpoint: 1,
      runner: 0,
      event: 9,
    },
  };
  const refusal = (text: string | undefined) => {
    try {
      parseHeader(text);
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      return (error as ValidationError).errors ?? [];
    }
    throw new Error('accepted');
  };

  test('takes a header of this version', () => {
    expect(parseHeader(JSON.stringify(header))).toEqual(header);
  });

  test('refuses what is no header, naming line 1 and the field', () => {
    expect(refusal('not json')).toEqual([
      { path: 'line 1', message: 'is not a JSON object: the file must start with its header' },
    ]);
    expect(refusal(undefined)[0]?.path).toBe('line 1');
    expect(refusal(JSON.stringify({ type: 'contact', row: {} }))[0]).toEqual({
      path: 'line 1.type',
      message: 'the first line must be the header ({"type":"header",…})',
    });
    expect(refusal(JSON.stringify({ ...header, format: 'other' }))[0]?.path).toBe('line 1.format');
    expect(refusal(JSON.stringify({ ...header, counts: { contact: -1 } })).map((e) => e.path)).toContain(
      'line 1.counts.contact',
    );
  });

  test('refuses another version with what this gateway reads', () => {
    expect(refusal(JSON.stringify({ ...header, version: 2 }))).toEqual([
      { path: 'line 1.version', message: 'format version 2 is not supported; this gateway reads version 1' },
    ]);
  });
});
