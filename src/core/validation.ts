import { z } from 'zod';
import { ValidationError, type FieldError } from './errors.js';

// A missing required field reads "is required" rather than zod's type-mismatch (or union-mismatch) wording.
z.config({
  customError: (issue) =>
    (issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined
      ? 'is required'
      : undefined,
});

/** Parses input with a domain schema; failures become one 400 naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  // Before the schema: it recurses into nested values, and what it lets through reaches PostgreSQL.
  const unstorable = unstorableInputErrors(input);
  if (unstorable.length) throw new ValidationError(unstorable);
  const result = schema.safeParse(input);
  if (!result.success) throw new ValidationError(fieldErrors(result.error));
  return result.data;
}

export function fieldErrors(error: z.ZodError): FieldError[] {
  return error.issues.flatMap((issue): FieldError[] => {
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'is not a known field' }));
    }
    return [{ path: formatPath(issue.path), message: issue.message }];
  });
}

/** How deeply input (a JSON body, GraphQL variables) may nest; deeper input is refused before anything recurses into it. */
export const MAX_INPUT_DEPTH = 64;

// PostgreSQL refuses NUL in text and jsonb, and text that is not valid UTF-8 (an unpaired surrogate
// cannot be encoded). With the u flag, a surrogate pair is one code point and does not match.
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what PostgreSQL cannot store
const UNSTORABLE_TEXT = /[\u0000\uD800-\uDFFF]/u;

/** Why a string cannot be stored (NUL, an unpaired UTF-16 surrogate), or null when it can. */
export function unstorableTextProblem(text: string): string | null {
  const found = UNSTORABLE_TEXT.exec(text);
  if (!found) return null;
  return found[0] === '\u0000'
    ? 'must not contain NUL characters (U+0000)'
    : 'must not contain unpaired UTF-16 surrogates';
}

/**
 * What no field of any input may hold: nesting deeper than `maxDepth` and strings (values or keys)
 * that PostgreSQL refuses, each named by its path. Walks breadth-first with its own queue, so
 * depth cannot overflow the stack; below `maxDepth` it does not look.
 */
export function unstorableInputErrors(input: unknown, maxDepth = MAX_INPUT_DEPTH): FieldError[] {
  // Almost every input has nothing to refuse: a walk that allocates nothing says so first (an
  // import's body is 100,000s of values), and only a refused one is walked again for its paths.
  if (storable(input, 0, maxDepth)) return [];
  const errors: FieldError[] = [];
  // Each entry knows its parent's index, so a path is only built for a value that has a problem.
  const queue: { value: unknown; key: PropertyKey | null; parent: number; depth: number }[] = [
    { value: input, key: null, parent: -1, depth: 0 },
  ];
  const pathOf = (index: number, ...more: PropertyKey[]) => {
    const path = more;
    for (let at = index; at > 0; at = queue[at]!.parent) path.unshift(queue[at]!.key!);
    return formatPath(path);
  };
  for (let i = 0; i < queue.length; i++) {
    const { value, depth } = queue[i]!;
    if (typeof value === 'string') {
      const problem = unstorableTextProblem(value);
      if (problem) errors.push({ path: pathOf(i), message: problem });
      continue;
    }
    if (!isJsonContainer(value)) continue;
    if (depth >= maxDepth) {
      errors.push({ path: pathOf(i), message: `nests deeper than ${maxDepth} levels` });
      continue;
    }
    if (Array.isArray(value)) {
      value.forEach((item, index) => queue.push({ value: item, key: index, parent: i, depth: depth + 1 }));
      continue;
    }
    for (const [key, item] of Object.entries(value)) {
      const keyProblem = unstorableTextProblem(key);
      if (keyProblem) errors.push({ path: pathOf(i, key), message: `has a key that ${keyProblem}` });
      queue.push({ value: item, key, parent: i, depth: depth + 1 });
    }
  }
  return errors;
}

/** Whether unstorableInputErrors finds nothing; recursion stops at `maxDepth`, so it cannot overflow the stack. */
function storable(value: unknown, depth: number, maxDepth: number): boolean {
  if (typeof value === 'string') return !UNSTORABLE_TEXT.test(value);
  if (!isJsonContainer(value)) return true;
  if (depth >= maxDepth) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!storable(item, depth + 1, maxDepth)) return false;
    return true;
  }
  for (const key of Object.keys(value)) {
    if (UNSTORABLE_TEXT.test(key) || !storable((value as Record<string, unknown>)[key], depth + 1, maxDepth))
      return false;
  }
  return true;
}

/**
 * Arrays and plain objects, also without Object.prototype (GraphQL input objects, parsed query
 * strings and path parameters); not Dates, Decimals or Buffers.
 */
function isJsonContainer(value: unknown): value is object {
  if (Array.isArray(value)) return true;
  if (value === null || typeof value !== 'object') return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === null || prototype === Object.prototype || Object.getPrototypeOf(prototype) === null;
}

/** ["items", 0, "price"] → "items[0].price" */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

/** A nullable text field with a length limit; surrounding whitespace is dropped. */
export const optionalText = (max: number) =>
  z.string().trim().max(max, `must be at most ${max} characters`).nullable().optional();

/**
 * Free-form JSON an application stores and gets back unchanged (customData, job input and result).
 * Bodies are parsed JSON, so any value inside is JSON; registered by id so the OpenAPI document
 * references one component instead of a recursive JSON type.
 */
export const JsonObject = z.record(z.string(), z.unknown()).meta({ id: 'JsonObject', description: 'Any JSON object' });
