import { describe, expect, test } from 'vitest';
import { ValidationError } from '../../src/core/errors.js';
import { compileFilters, type FieldLookup, type FilterField, FilterGroups } from '../../src/core/filters.js';
import { searchBodySchema } from '../../src/core/search.js';
import { EVENT_DATA_SCHEMAS } from '../../src/features/event-types/catalog.js';
import { eventFilters, type FilterableEvent } from '../../src/features/events/filters.js';

// The filter language evaluated in the process (live streams, webhooks, the events poll): the same
// operators and semantics as search, which turns them into SQL.

type Row = Record<string, unknown>;
const FIELDS: Record<string, FilterField> = {
  email: { kind: 'text', nullable: true },
  status: { kind: 'enum', values: ['draft', 'paid'] },
  grossTotal: { kind: 'number' },
  dueDate: { kind: 'date' },
  paidAt: { kind: 'datetime', nullable: true },
  extra: { kind: 'json' },
};
const lookup: FieldLookup<Row> = (name) =>
  FIELDS[name] ? { field: FIELDS[name]!, read: (row) => row[name] } : { problem: `unknown field "${name}"` };

const compile = (groups: unknown) => compileFilters(FilterGroups.parse(groups), lookup);
const one = (field: string, operator: string, value: unknown) => compile({ filters: [{ field, operator, value }] });
const refusal = (fn: () => unknown): { path: string; message: string }[] => {
  try {
    fn();
  } catch (error) {
    if (error instanceof ValidationError) return error.errors ?? [];
    throw error;
  }
  throw new Error('not refused');
};

describe('compileFilters: text', () => {
  test('is / is_not / is_any_of ignore case and take the text literally', () => {
    expect(one('email', 'is', 'ADA@Example.com')({ email: 'ada@example.COM' })).toBe(true);
    expect(one('email', 'is', 'a%')({ email: 'abc' })).toBe(false);
    expect(one('email', 'is_any_of', ['x', 'ADA'])({ email: 'ada' })).toBe(true);
    expect(one('email', 'includes_any_of', ['x'])({ email: 'ada' })).toBe(false);
  });

  test('contains: a case-insensitive substring, no wildcards', () => {
    expect(one('email', 'contains', 'EXAMPLE')({ email: 'ada@example.com' })).toBe(true);
    expect(one('email', 'contains', '_')({ email: 'ada' })).toBe(false);
  });

  test('null: is null matches empty and absent; is_not matches them too; other operators never do', () => {
    expect(one('email', 'is', null)({ email: null })).toBe(true);
    expect(one('email', 'is', null)({})).toBe(true);
    expect(one('email', 'is_not', null)({ email: 'a' })).toBe(true);
    expect(one('email', 'is_not', null)({ email: null })).toBe(false);
    expect(one('email', 'is_not', 'a')({ email: null })).toBe(true);
    expect(one('email', 'contains', 'a')({ email: null })).toBe(false);
    expect(one('email', 'is_any_of', ['a'])({})).toBe(false);
  });
});

describe('compileFilters: enums, numbers, dates', () => {
  test('enums compare exactly', () => {
    expect(one('status', 'is', 'paid')({ status: 'paid' })).toBe(true);
    expect(one('status', 'is_not', 'paid')({ status: 'draft' })).toBe(true);
  });

  test('amounts compare as the decimals JSON carries; before/after are strict', () => {
    expect(one('grossTotal', 'is', 0.3)({ grossTotal: 0.3 })).toBe(true);
    expect(one('grossTotal', 'is_after', 100.1)({ grossTotal: 100.1 })).toBe(false);
    expect(one('grossTotal', 'is_after', 100.1)({ grossTotal: 100.11 })).toBe(true);
    expect(one('grossTotal', 'is_before', 100.1)({ grossTotal: 100.09 })).toBe(true);
    expect(one('grossTotal', 'is_any_of', [1, 2.5])({ grossTotal: 2.5 })).toBe(true);
  });

  test('amounts carried as decimal strings compare exactly, whatever their zeros', () => {
    expect(one('grossTotal', 'is', 25.5)({ grossTotal: '25.50' })).toBe(true);
    expect(one('grossTotal', 'is', '025.500')({ grossTotal: '25.5' })).toBe(true);
    expect(one('grossTotal', 'is_any_of', ['0.10', 3])({ grossTotal: '0.1' })).toBe(true);
    // Beyond a double's precision: still exact.
    expect(one('grossTotal', 'is_after', '12345678901234567.01')({ grossTotal: '12345678901234567.02' })).toBe(true);
    expect(one('grossTotal', 'is_after', '12345678901234567.01')({ grossTotal: '12345678901234567.01' })).toBe(false);
    expect(one('grossTotal', 'is_before', '-1.5')({ grossTotal: '-2' })).toBe(true);
    expect(one('grossTotal', 'is_before', 0)({ grossTotal: '-0.01' })).toBe(true);
    expect(one('grossTotal', 'is_after', 99.99)({ grossTotal: '100' })).toBe(true);
    expect(one('grossTotal', 'is_after', 1)({ grossTotal: 'n/a' })).toBe(false);
  });

  test('dates and date-times; a date bound of a date-time is its midnight UTC', () => {
    expect(one('dueDate', 'is_before', '2026-06-01')({ dueDate: '2026-05-31' })).toBe(true);
    expect(one('dueDate', 'is_after', '2026-06-01')({ dueDate: '2026-06-01' })).toBe(false);
    expect(one('paidAt', 'is_after', '2026-06-01')({ paidAt: '2026-06-01T00:00:00.001Z' })).toBe(true);
    expect(one('paidAt', 'is', '2026-06-01T02:00:00+02:00')({ paidAt: '2026-06-01T00:00:00.000Z' })).toBe(true);
    expect(one('paidAt', 'is_before', '2026-06-01')({ paidAt: null })).toBe(false);
  });

  test('free-form JSON compares by the value given: text without case, numbers, booleans', () => {
    expect(one('extra', 'is', 'ERP-1')({ extra: 'erp-1' })).toBe(true);
    expect(one('extra', 'is', 7)({ extra: '7' })).toBe(false);
    expect(one('extra', 'is', true)({ extra: true })).toBe(true);
    expect(one('extra', 'is_after', 5)({ extra: 6 })).toBe(true);
    expect(one('extra', 'is_after', 5)({ extra: 'six' })).toBe(false);
  });
});

describe('compileFilters: groups', () => {
  test('filters are ANDed; anyOf needs one of its AND-lists besides', () => {
    const filter = compile({
      filters: [{ field: 'status', operator: 'is', value: 'paid' }],
      anyOf: [
        [{ field: 'grossTotal', operator: 'is_after', value: 1000 }],
        [
          { field: 'email', operator: 'contains', value: 'vip' },
          { field: 'grossTotal', operator: 'is_after', value: 100 },
        ],
      ],
    });
    expect(filter({ status: 'paid', grossTotal: 2000 })).toBe(true);
    expect(filter({ status: 'paid', grossTotal: 200, email: 'VIP@x' })).toBe(true);
    expect(filter({ status: 'paid', grossTotal: 200, email: 'a@x' })).toBe(false);
    expect(filter({ status: 'draft', grossTotal: 2000 })).toBe(false);
  });

  test('every problem is refused at its path', () => {
    expect(
      refusal(() =>
        compile({
          filters: [
            { field: 'status', operator: 'is', value: 'paid' },
            { field: 'nope', operator: 'is', value: 1 },
            { field: 'status', operator: 'contains', value: 'p' },
          ],
          anyOf: [[{ field: 'grossTotal', operator: 'is_any_of', value: [1, 'two'] }]],
        }),
      ),
    ).toEqual([
      { path: 'filters[1].field', message: 'unknown field "nope"' },
      { path: 'filters[2].operator', message: expect.stringContaining('does not apply to field "status"') },
      { path: 'anyOf[0][0].value[1]', message: 'must be a number or a decimal string ("25.50") (field "grossTotal")' },
    ]);
    expect(refusal(() => one('email', 'is', undefined))).toEqual([
      { path: 'filters[0].value', message: 'is required' },
    ]);
  });
});

describe('search shares the rules', () => {
  test('the same refusal for the same condition', () => {
    const body = searchBodySchema({ grossTotal: { column: 'grossTotal', kind: 'number' } }).safeParse({
      filters: [{ field: 'grossTotal', operator: 'contains', value: 1 }],
    });
    const [issue] = body.error!.issues;
    const [refused] = refusal(() => one('grossTotal', 'contains', 1));
    expect(issue?.message).toBe(refused?.message);
    expect(issue?.path).toEqual(['filters', 0, 'operator']);
    expect(refused?.path).toBe('filters[0].operator');
  });
});

describe('event filters: fields from the event-type catalog', () => {
  const filters = eventFilters(EVENT_DATA_SCHEMAS);
  const event = (data: unknown, more: Partial<FilterableEvent> = {}): FilterableEvent => ({
    resourceId: 'inv_01J0000000000000000000000A',
    correlationId: 'corr-1',
    data,
    ...more,
  });
  const invoiceTypes = ['accounting.invoice.paid', 'accounting.invoice.issued'];

  test('paths into data, free-form customData, and envelope fields', () => {
    const filter = filters.compile(['communication.contact.created'], {
      filters: [
        { field: 'customData.erpId', operator: 'is', value: 'E-1' },
        { field: 'tag', operator: 'is', value: 'VIP' },
        { field: 'correlationId', operator: 'is', value: 'CORR-1' },
      ],
    })!;
    expect(filter(event({ tag: 'vip', customData: { erpId: 'e-1' } }))).toBe(true);
    expect(filter(event({ tag: 'vip', customData: null }))).toBe(false);
    const nested = filters.compile(['jobs.job.progress'], {
      filters: [{ field: 'progress.completed', operator: 'is_after', value: 10 }],
    })!;
    expect(nested(event({ progress: { completed: 11 } }))).toBe(true);
  });

  test('no condition compiles to null; the same filter is compiled once', () => {
    expect(filters.compile(invoiceTypes, {})).toBeNull();
    const input = { filters: [{ field: 'status', operator: 'is', value: 'paid' }] };
    expect(filters.compile(invoiceTypes, input)).toBe(filters.compile(invoiceTypes, structuredClone(input)));
  });

  test('a field the selected types do not have is refused, naming the fields they have', () => {
    const errors = refusal(() =>
      filters.compile(['communication.contact.created'], {
        filters: [{ field: 'status', operator: 'is', value: 'paid' }],
      }),
    );
    expect(errors).toEqual([{ path: 'filters[0].field', message: expect.stringContaining('unknown field "status"') }]);
    expect(errors[0]!.message).toContain('tag');
  });

  test('lists, whole objects and values outside an enum are refused', () => {
    const refused = (field: string, value: unknown, types = invoiceTypes) =>
      refusal(() => filters.compile(types, { filters: [{ field, operator: 'is', value }] }))[0];
    expect(refused('items', 1)?.message).toContain('is a list');
    expect(refused('items.description', 'x')?.message).toContain('is a list');
    expect(refused('progress', 1, ['jobs.job.progress'])?.message).toContain('is an object');
    expect(refused('status', 'unpaid')).toEqual({
      path: 'filters[0].value',
      message: 'must be one of draft, issued, paid, void (field "status")',
    });
  });

  test('a field some selected types lack is empty on their events', () => {
    const filter = filters.compile(['accounting.invoice.paid', 'communication.contact.created'], {
      filters: [{ field: 'status', operator: 'is_not', value: 'paid' }],
    })!;
    expect(filter(event({ tag: 'vip' }))).toBe(true);
    expect(filter(event({ status: 'paid' }))).toBe(false);
  });

  test('a field of the same kind in several types merges (enum values); an operator must fit it', () => {
    expect(
      filters.compile(['accounting.invoice.paid', 'jobs.job.failed'], {
        filters: [{ field: 'status', operator: 'is', value: 'failed' }],
      }),
    ).not.toBeNull();
    const errors = refusal(() =>
      filters.compile(['accounting.invoice.paid', 'jobs.job.failed'], {
        filters: [{ field: 'createdAt', operator: 'contains', value: 'x' }],
      }),
    );
    expect(errors[0]?.path).toBe('filters[0].operator');
  });

  test('a field of different kinds in the selected types is refused', () => {
    const schemas = new Map([
      ['a.thing.made', { type: 'object', properties: { size: { type: 'number' } } }],
      ['b.thing.made', { type: 'object', properties: { size: { type: 'string' } } }],
    ]);
    const errors = refusal(() =>
      eventFilters(schemas).compile(['a.thing.made', 'b.thing.made'], {
        filters: [{ field: 'size', operator: 'is', value: 1 }],
      }),
    );
    expect(errors).toEqual([
      { path: 'filters[0].field', message: expect.stringContaining('"size" is a number in some and a text in others') },
    ]);
  });
});
