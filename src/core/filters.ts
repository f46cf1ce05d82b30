import { z } from 'zod';
import { ValidationError, type FieldError } from './errors.js';
import { isId, type IdPrefix } from './ids.js';
import { formatPath } from './validation.js';

// The filter language: `{field, operator, value}` conditions, ANDed, with optional `anyOf` groups
// (an OR of AND-lists). POST …/search compiles it to a Prisma `where` (search.ts); live events,
// webhook endpoints and the events poll compile it to a predicate run in the process
// (compileFilters). Both read the operators, the kinds of fields and what a value must be from
// here, so a filter means the same on every channel.
//
// Semantics: text equality (`is`, `is_not`, `is_any_of`, `includes_any_of`) and `contains` ignore
// case and compare the literal text (no wildcards). `is`/`is_not` accept null on optional fields
// ("is empty"/"is set"); `is_not` also matches where the field is empty or absent. No field is a
// list, so `includes_any_of` means the same as `is_any_of`. `is_before`/`is_after` are strict (<, >)
// and apply to dates, date-times and numbers; a date given for a date-time is its midnight UTC.
// Numbers and amounts are compared as exact decimals: a value may be a JSON number or a decimal
// string ("25.50", as amounts are carried), and 25.5, "25.50" and "25.500" are equal. Input that a
// double would change is refused at the door (src/http/input.ts), so a number is its decimal.
// An empty or absent field matches nothing but `is null` and `is_not`.

export const FILTER_OPERATORS = [
  'is',
  'is_not',
  'contains',
  'is_any_of',
  'includes_any_of',
  'is_before',
  'is_after',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

/** `json`: a value inside free-form JSON (customData, a job's result): text, number, boolean or null. */
export type FieldKind = 'text' | 'id' | 'enum' | 'date' | 'datetime' | 'number' | 'json';

/** What a filter needs to know of a field. */
export type FilterField = {
  kind: FieldKind;
  /** The field may be empty: `is`/`is_not` accept null. */
  nullable?: boolean;
  /** kind 'enum': the allowed values. */
  values?: readonly string[];
  /** kind 'id': the id prefix (contact, inv, …). */
  prefix?: IdPrefix;
};

export const OPERATORS_BY_KIND: Record<FieldKind, readonly FilterOperator[]> = {
  text: ['is', 'is_not', 'contains', 'is_any_of', 'includes_any_of'],
  id: ['is', 'is_not', 'is_any_of', 'includes_any_of'],
  enum: ['is', 'is_not', 'is_any_of', 'includes_any_of'],
  date: ['is', 'is_not', 'is_any_of', 'includes_any_of', 'is_before', 'is_after'],
  datetime: ['is', 'is_not', 'is_before', 'is_after'],
  number: ['is', 'is_not', 'is_any_of', 'includes_any_of', 'is_before', 'is_after'],
  json: FILTER_OPERATORS,
};

const LIST_OPERATORS: readonly FilterOperator[] = ['is_any_of', 'includes_any_of'];
const MAX_LIST = 100;
/** Conditions per AND-list, and AND-lists in `anyOf`. */
export const MAX_FILTERS = 50;
export const MAX_GROUPS = 20;

const DATE = /^\d{4}-\d{2}-\d{2}$/;
const DECIMAL = /^-?\d{1,40}(\.\d{1,40})?$/;
const dateSchema = z.iso.date();
const dateTimeSchema = z.union([z.iso.datetime({ offset: true }), z.iso.date()]);

const list = (values: readonly string[]) => values.join(', ');

/** One condition, as every channel accepts it; the field's own rules are filterProblems'. */
export const Filter = z.strictObject({
  field: z.string().min(1).max(200),
  operator: z.enum(FILTER_OPERATORS, {
    error: (issue) => `unknown operator ${JSON.stringify(issue.input)}; allowed operators: ${list(FILTER_OPERATORS)}`,
  }),
  value: z.unknown().describe('A string, number, date, null, or an array for is_any_of/includes_any_of'),
});
export type Filter = z.output<typeof Filter>;

/** `filters` (ANDed) and `anyOf` (at least one of these AND-lists must hold too): the shape of every channel but search. */
export const FilterGroups = z.strictObject({
  filters: z
    .array(Filter)
    .max(MAX_FILTERS)
    .default([])
    .describe('Conditions that must all hold: {field, operator, value}'),
  anyOf: z
    .array(z.array(Filter).min(1).max(MAX_FILTERS))
    .max(MAX_GROUPS)
    .default([])
    .describe('Lists of conditions of which at least one must hold in full (empty: no such condition)'),
});
export type FilterGroups = z.output<typeof FilterGroups>;

/** What one value of a field must be, or null when it is acceptable. */
function scalarProblem(spec: FilterField, operator: FilterOperator, value: unknown): string | null {
  switch (spec.kind) {
    case 'text':
      return typeof value === 'string' && value.length <= 1000 ? null : 'must be a string (at most 1000 characters)';
    case 'id':
      return typeof value === 'string' && isId(spec.prefix!, value)
        ? null
        : `must be "${spec.prefix}_" followed by a 26-character ULID`;
    case 'enum':
      return typeof value === 'string' && spec.values!.includes(value) ? null : `must be one of ${list(spec.values!)}`;
    case 'date':
      return dateSchema.safeParse(value).success ? null : 'must be an ISO-8601 date (YYYY-MM-DD)';
    case 'datetime':
      return dateTimeSchema.safeParse(value).success
        ? null
        : 'must be an ISO-8601 date-time (2026-05-30T12:00:00Z) or date';
    case 'number':
      return decimalOf(value) === null ? 'must be a number or a decimal string ("25.50")' : null;
    case 'json':
      if (operator === 'is_before' || operator === 'is_after')
        return (typeof value === 'number' && Number.isFinite(value)) || dateTimeSchema.safeParse(value).success
          ? null
          : 'must be a number or an ISO-8601 date or date-time';
      if (operator === 'contains') return typeof value === 'string' && value.length <= 1000 ? null : 'must be a string';
      return (typeof value === 'string' && value.length <= 1000) ||
        (typeof value === 'number' && Number.isFinite(value)) ||
        typeof value === 'boolean'
        ? null
        : 'must be a string, a number or a boolean';
  }
}

/** A problem of one condition, at its path inside the condition (['value', 2]). */
export type FilterProblem = { path: (string | number)[]; message: string };

/** Why a condition does not fit its field; empty when it fits. */
export function filterProblems(name: string, spec: FilterField, filter: Filter): FilterProblem[] {
  const allowed = OPERATORS_BY_KIND[spec.kind];
  if (!allowed.includes(filter.operator)) {
    return [
      {
        path: ['operator'],
        message: `operator "${filter.operator}" does not apply to field "${name}"; allowed operators: ${list(allowed)}`,
      },
    ];
  }
  const { value, operator } = filter;
  if (LIST_OPERATORS.includes(operator)) {
    if (!Array.isArray(value) || value.length === 0 || value.length > MAX_LIST)
      return [{ path: ['value'], message: `must be an array of 1 to ${MAX_LIST} values for "${operator}"` }];
    return value.flatMap((item, i) => {
      const problem = scalarProblem(spec, operator, item);
      return problem ? [{ path: ['value', i], message: `${problem} (field "${name}")` }] : [];
    });
  }
  if (value === null && (spec.nullable || spec.kind === 'json') && (operator === 'is' || operator === 'is_not'))
    return [];
  if (value === undefined) return [{ path: ['value'], message: 'is required' }];
  const problem = scalarProblem(spec, operator, value);
  return problem ? [{ path: ['value'], message: `${problem} (field "${name}")` }] : [];
}

/** Where a field's value is found: the field resolved, or why the name is refused. */
export type FieldLookup<T> = (
  name: string,
) => { field: FilterField; read: (record: T) => unknown } | { problem: string };

/** A compiled filter: whether a record matches. */
export type Predicate<T> = (record: T) => boolean;

/**
 * Checks `groups` against the fields `lookup` knows and compiles them once into one predicate;
 * refuses with every problem, each at its path (`filters[1].field`, `anyOf[0][2].value`).
 */
export function compileFilters<T>(groups: FilterGroups, lookup: FieldLookup<T>): Predicate<T> {
  const errors: FieldError[] = [];
  const compileList = (filters: Filter[], at: (string | number)[]): Predicate<T>[] =>
    filters.flatMap((filter, i) => {
      const found = lookup(filter.field);
      if ('problem' in found) {
        errors.push({ path: formatPath([...at, i, 'field']), message: found.problem });
        return [];
      }
      const problems = filterProblems(filter.field, found.field, filter);
      errors.push(...problems.map((p) => ({ path: formatPath([...at, i, ...p.path]), message: p.message })));
      return problems.length ? [] : [condition(found.field, filter, found.read)];
    });
  const all = compileList(groups.filters, ['filters']);
  const any = groups.anyOf.map((group, i) => compileList(group, ['anyOf', i]));
  if (errors.length) throw new ValidationError(errors);
  // Plain loops, and a lone condition as itself: the relay runs each of thousands of endpoints' filters on every event.
  const every = (predicates: Predicate<T>[], record: T) => {
    for (const predicate of predicates) if (!predicate(record)) return false;
    return true;
  };
  if (!any.length) return all.length === 1 ? all[0]! : (record) => every(all, record);
  return (record) => {
    if (!every(all, record)) return false;
    for (const group of any) if (every(group, record)) return true;
    return false;
  };
}

/** What a text compares by: its lower case (PostgreSQL's ILIKE, which search uses, ignores case the same way). */
const folded = (value: unknown) => (typeof value === 'string' ? value.toLowerCase() : value);

/**
 * The decimal text of a number or decimal string, without redundant zeros ("-0.50" → "-0.5"), or
 * null when it is neither. Exponent notation (numbers beyond 1e21) is no decimal here.
 */
export function decimalOf(value: unknown): string | null {
  const text = typeof value === 'number' && Number.isFinite(value) ? String(value) : value;
  if (typeof text !== 'string' || !DECIMAL.test(text)) return null;
  const [whole, fraction = ''] = text.replace(/^-/, '').split('.');
  const digits = whole!.replace(/^0+(?=\d)/, '');
  const decimals = fraction.replace(/0+$/, '');
  const magnitude = decimals ? `${digits}.${decimals}` : digits;
  return text.startsWith('-') && magnitude !== '0' ? `-${magnitude}` : magnitude;
}

/** The order of two decimal texts of decimalOf: exact, however many digits. */
function compareDecimals(a: string, b: string): number {
  const negative = a.startsWith('-');
  if (negative !== b.startsWith('-')) return negative ? -1 : 1;
  const [aWhole, aFraction = ''] = a.replace(/^-/, '').split('.');
  const [bWhole, bFraction = ''] = b.replace(/^-/, '').split('.');
  const width = Math.max(aFraction.length, bFraction.length);
  const magnitude =
    aWhole!.length !== bWhole!.length
      ? aWhole!.length - bWhole!.length
      : sameLengthDigits(`${aWhole}${aFraction.padEnd(width, '0')}`, `${bWhole}${bFraction.padEnd(width, '0')}`);
  return negative ? -magnitude : magnitude;
}

/** Digit strings of the same length compare as text. */
const sameLengthDigits = (a: string, b: string) => (a === b ? 0 : a < b ? -1 : 1);

/** Milliseconds of an ISO date (its midnight UTC) or date-time, NaN when it is neither. */
function instant(value: unknown): number {
  if (typeof value !== 'string') return Number.NaN;
  return Date.parse(DATE.test(value) ? `${value}T00:00:00Z` : value);
}

/** The order of a field's value against a bound, or null when they do not compare (empty, other types). */
function order(kind: FieldKind, value: unknown, bound: unknown): number | null {
  if (kind === 'number' || typeof bound === 'number') {
    const [a, b] = [decimalOf(value), decimalOf(bound)];
    return a === null || b === null ? null : compareDecimals(a, b);
  }
  if (kind === 'date' && typeof value === 'string') return value === bound ? 0 : value < (bound as string) ? -1 : 1;
  if (typeof value !== 'string' || (kind !== 'datetime' && kind !== 'json')) return null;
  const a = instant(value);
  const b = instant(bound);
  return Number.isNaN(a) || Number.isNaN(b) ? null : a - b;
}

/** One condition as a predicate; the value was checked by filterProblems. */
function condition<T>(spec: FilterField, filter: Filter, read: (record: T) => unknown): Predicate<T> {
  const caseless = spec.kind === 'text' || spec.kind === 'json';
  const key = (value: unknown) => (spec.kind === 'number' ? decimalOf(value) : caseless ? folded(value) : value);
  const { value } = filter;
  switch (filter.operator) {
    case 'is':
    case 'is_not': {
      const wanted = key(value);
      const is: Predicate<T> =
        value === null
          ? (record) => read(record) == null
          : spec.kind === 'datetime'
            ? (record) => instant(read(record)) === instant(value)
            : typeof wanted === 'string' && caseless
              ? (record) => {
                  // Texts of another length never match: most are told apart without lower-casing them.
                  const found = read(record);
                  return typeof found === 'string' && found.length === wanted.length && found.toLowerCase() === wanted;
                }
              : (record) => key(read(record)) === wanted;
      return filter.operator === 'is' ? is : (record) => !is(record);
    }
    case 'contains': {
      const part = (value as string).toLowerCase();
      return (record) => {
        const found = read(record);
        return typeof found === 'string' && found.toLowerCase().includes(part);
      };
    }
    case 'is_any_of':
    case 'includes_any_of': {
      const wanted = new Set((value as unknown[]).map(key));
      return (record) => {
        const found = read(record);
        return found != null && wanted.has(key(found));
      };
    }
    case 'is_before':
      return (record) => (order(spec.kind, read(record), value) ?? 0) < 0;
    case 'is_after':
      return (record) => (order(spec.kind, read(record), value) ?? 0) > 0;
  }
}
