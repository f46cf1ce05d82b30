import {
  compileFilters,
  FilterGroups,
  type FieldLookup,
  type FilterField,
  type Predicate,
} from '../../core/filters.js';
import { parseInput } from '../../core/validation.js';

// Content filters on events (the filter language of src/core/filters.ts): which fields an event of
// the selected types has, read off the JSON Schemas of their data (the event-type catalog's, handed
// in by the composition root: the catalog sits above this feature), and the one compiled predicate
// that live streams, the webhook relay and the events poll all run on an event.

/** A JSON Schema as the catalog gives it (zod's draft 2020-12 output). */
export type JsonSchema = {
  type?: string | string[];
  format?: string;
  pattern?: string;
  enum?: unknown[];
  anyOf?: JsonSchema[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
};

/** The JSON Schema of each event type's data. */
export type DataSchemas = ReadonlyMap<string, Record<string, unknown>>;

/** What a filter reads of an event: two envelope fields and the data. */
export type FilterableEvent = { resourceId: string; correlationId: string; data: unknown };

/** A compiled filter: whether an event matches. */
export type EventFilter = Predicate<FilterableEvent>;

/** Fields of the envelope a filter may name; every other name is a path into `data`. */
const ENVELOPE_FIELDS: Record<string, { field: FilterField; read: (event: FilterableEvent) => unknown }> = {
  resourceId: { field: { kind: 'text' }, read: (event) => event.resourceId },
  correlationId: { field: { kind: 'text' }, read: (event) => event.correlationId },
};

/** Compiled filters kept, by types and conditions: a relay pass compiles each endpoint's filter once, not per pass. */
const MAX_COMPILED = 50_000;

/** The filter language on events whose data `schemas` describe. */
export function eventFilters(dataSchemas: DataSchemas) {
  const schemas = dataSchemas as ReadonlyMap<string, JsonSchema>;
  const compiled = new Map<string, EventFilter | null>();
  /**
   * One reader per path for every filter compiled here, remembering the last event it read: a
   * thousand endpoints' filters on customData.erpId walk into an event's data once, not a thousand times.
   */
  const readers = new Map<string, (event: FilterableEvent) => unknown>();
  function readerOf(name: string) {
    let reader = readers.get(name);
    if (!reader) {
      const path = name.split('.');
      let last: FilterableEvent | undefined;
      let value: unknown;
      reader = (event) => {
        if (event !== last) {
          last = event;
          value = valueAt(event.data, path);
        }
        return value;
      };
      readers.set(name, reader);
    }
    return reader;
  }

  /** How `name` reads from events of `types`, or why it cannot. */
  function lookup(types: readonly string[]): FieldLookup<FilterableEvent> {
    return (name) => {
      const envelope = ENVELOPE_FIELDS[name];
      if (envelope) return envelope;
      const path = name.split('.');
      const found = types.map((type) => ({ type, field: fieldAt(schemas.get(type), path) }));
      const having = found.filter((entry) => entry.field !== undefined);
      if (!having.length)
        return {
          problem: `unknown field ${JSON.stringify(name)} for ${describeTypes(types)}; fields: ${fieldNames(schemas, types)}`,
        };
      const problem = having.find((entry) => typeof entry.field === 'string');
      if (problem) return { problem: problem.field as string };
      const fields = having.map((entry) => entry.field as FilterField);
      const kinds = new Set(fields.map((field) => field.kind));
      if (kinds.size > 1)
        return {
          problem: `${JSON.stringify(name)} is a ${[...kinds].join(' in some and a ')} in others of ${describeTypes(types)}; select fewer types`,
        };
      const values = fields.flatMap((field) => field.values ?? []);
      const field: FilterField = {
        kind: fields[0]!.kind,
        // Absent from some of the types: their events have it empty.
        nullable: having.length < types.length || fields.some((f) => f.nullable),
        ...(values.length ? { values: [...new Set(values)] } : {}),
      };
      return { field, read: readerOf(name) };
    };
  }

  return {
    /**
     * Checks `input` (`{filters, anyOf}`, absent members empty) against the fields of `types` and
     * compiles it once; null when it has no condition (every event matches). Refuses with
     * problem details naming each path (`filters[1].field`).
     */
    compile(types: readonly string[], input: unknown): EventFilter | null {
      const groups = parseInput(FilterGroups, input ?? {});
      if (!groups.filters.length && !groups.anyOf.length) return null;
      const key = JSON.stringify([types, groups]);
      if (compiled.has(key)) return compiled.get(key)!;
      const filter = compileFilters(groups, lookup(types));
      if (compiled.size >= MAX_COMPILED) compiled.clear();
      compiled.set(key, filter);
      return filter;
    },
  };
}

export type EventFilters = ReturnType<typeof eventFilters>;

function describeTypes(types: readonly string[]): string {
  return types.length === 1 ? types[0]! : `the ${types.length} selected event types`;
}

/** The top-level fields filters can name for these types (for the refusal's message). */
function fieldNames(schemas: ReadonlyMap<string, JsonSchema>, types: readonly string[]): string {
  const names = new Set(Object.keys(ENVELOPE_FIELDS));
  for (const type of types)
    for (const [name, schema] of Object.entries(schemas.get(type)?.properties ?? {}))
      if (!isList(schema)) names.add(name);
  return [...names].join(', ');
}

/** The schema without its "or null", and whether null was allowed. */
function unwrapNull(schema: JsonSchema): { schema: JsonSchema; nullable: boolean } {
  if (schema.anyOf) {
    const others = schema.anyOf.filter((option) => option.type !== 'null');
    return { schema: others.length === 1 ? others[0]! : {}, nullable: others.length < schema.anyOf.length };
  }
  if (Array.isArray(schema.type)) {
    const types = schema.type.filter((type) => type !== 'null');
    return {
      schema: { ...schema, type: types.length === 1 ? types[0] : types },
      nullable: types.length < schema.type.length,
    };
  }
  return { schema, nullable: false };
}

const isList = (schema: JsonSchema) => unwrapNull(schema).schema.type === 'array';

/**
 * The field at `path` of data described by `schema`: undefined when there is none, a message when
 * there is one that filters cannot name (a list, an object as a whole).
 */
function fieldAt(root: JsonSchema | undefined, path: string[]): FilterField | string | undefined {
  let schema = root;
  let nullable = false;
  for (const [index, segment] of path.entries()) {
    if (!schema) return undefined;
    const unwrapped = unwrapNull(schema);
    nullable ||= unwrapped.nullable;
    const free = unwrapped.schema.additionalProperties;
    const declared = unwrapped.schema.properties?.[segment];
    if (declared) schema = declared;
    else if (free && typeof free === 'object' && unwrapped.schema.type === 'object')
      // Free-form JSON (customData, a job's result): any path below it, of any type.
      return { kind: 'json', nullable: true };
    else return undefined;
    if (index < path.length - 1 && isList(schema))
      return `"${path.slice(0, index + 1).join('.')}" is a list; filters apply to single values`;
  }
  const { schema: leaf, nullable: leafNullable } = unwrapNull(schema!);
  const field = leafField(leaf);
  if (typeof field === 'string') return `"${path.join('.')}" ${field}`;
  return { ...field, nullable: nullable || leafNullable };
}

function leafField(schema: JsonSchema): FilterField | string {
  if (schema.enum) return { kind: 'enum', values: schema.enum.map(String) };
  switch (schema.type) {
    case 'string':
      if (schema.format === 'date') return { kind: 'date' };
      if (schema.format === 'date-time') return { kind: 'datetime' };
      return schema.pattern && isDecimalPattern(schema.pattern) ? { kind: 'number' } : { kind: 'text' };
    case 'number':
    case 'integer':
      return { kind: 'number' };
    case 'array':
      return 'is a list; filters apply to single values';
    case 'object':
      return schema.additionalProperties && typeof schema.additionalProperties === 'object'
        ? { kind: 'json' }
        : 'is an object; name one of its fields (a path such as "progress.completed")';
    default:
      return { kind: 'json' };
  }
}

/** Whether a string's pattern admits decimals only (amounts carried as "25.50"): they compare as numbers. */
function isDecimalPattern(pattern: string): boolean {
  const admits = (text: string) => new RegExp(pattern).test(text);
  return admits('12.5') && admits('0') && !admits('x') && !admits('1e5') && !admits('');
}

/** The value at `path` inside `data`; undefined when any step is missing. */
function valueAt(data: unknown, path: string[]): unknown {
  let value = data;
  for (const segment of path) {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || !Object.hasOwn(value, segment))
      return undefined;
    value = (value as Record<string, unknown>)[segment];
  }
  return value;
}
