import type { FastifyRequest } from 'fastify';
import { compareNumber, isLosslessNumber, parse as parseLossless } from 'lossless-json';
import { DomainError, InvalidRequestError, ValidationError, type FieldError } from '../core/errors.js';
import { formatPath, MAX_INPUT_DEPTH, unstorableInputErrors } from '../core/validation.js';

// What a request carries, refused at the door when no route could use it: JSON nested too deeply,
// numbers JSON.parse would round, and text PostgreSQL cannot store (in the body or the URL).

/** What one pass over a JSON text found, before it is parsed. */
export type JsonScan = {
  /** Some array or object nests deeper than the limit (the scan stopped there). */
  tooDeep: boolean;
  /** Some number would change when read as a double (more digits than a double holds, overflow, underflow). */
  inexactNumber: boolean;
  /** Some string has a \u0000 escape or an unpaired \uD800–\uDFFF one: text PostgreSQL refuses. */
  unstorableEscape: boolean;
};

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MINUS = 0x2d;

/**
 * One loop over the raw text, no recursion: how deep it nests, and whether its numbers and string
 * escapes need a closer look. Meant for valid JSON; on invalid text its answer does not matter,
 * JSON.parse refuses it next.
 */
export function scanJson(text: string, maxDepth = MAX_INPUT_DEPTH): JsonScan {
  const scan: JsonScan = { tooDeep: false, inexactNumber: false, unstorableEscape: false };
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i++;
      for (let s = text.charCodeAt(i); i < text.length && s !== QUOTE; s = text.charCodeAt(i)) {
        if (s === BACKSLASH && text.charCodeAt(i + 1) === 0x75) {
          const escaped = unicodeEscape(text, i);
          if (escaped.unstorable) scan.unstorableEscape = true;
          i += escaped.length;
        } else {
          i += s === BACKSLASH ? 2 : 1;
        }
      }
      i++;
    } else if (c === 0x5b || c === 0x7b) {
      // [ {
      if (++depth > maxDepth) return { ...scan, tooDeep: true };
      i++;
    } else if (c === 0x5d || c === 0x7d) {
      // ] }
      depth--;
      i++;
    } else if (c === MINUS || (c >= 0x30 && c <= 0x39)) {
      let end = i + 1;
      while (end < text.length && isNumberChar(text.charCodeAt(end))) end++;
      if (!scan.inexactNumber && exactNumberProblem(text.slice(i, end)) !== null) scan.inexactNumber = true;
      i = end;
    } else {
      i++;
    }
  }
  return scan;
}

/**
 * At a \u escape: how many characters it spans (12 for an escaped surrogate pair), and whether it
 * stands for NUL or an unpaired surrogate. Text decoded from UTF-8 has no raw surrogates, so an
 * unpaired one can only come from an escape.
 */
function unicodeEscape(text: string, at: number): { length: number; unstorable: boolean } {
  const unit = hexAt(text, at + 2);
  if (unit >= 0xd800 && unit <= 0xdbff && text.startsWith('\\u', at + 6)) {
    const low = hexAt(text, at + 8);
    if (low >= 0xdc00 && low <= 0xdfff) return { length: 12, unstorable: false };
  }
  return { length: 6, unstorable: unit === 0 || (unit >= 0xd800 && unit <= 0xdfff) };
}

const hexAt = (text: string, at: number) => Number.parseInt(text.slice(at, at + 4), 16);

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === MINUS; // 0-9 . e E + -
}

/**
 * Why a JSON number's text would not survive being read as a double, or null when it would:
 * the shortest decimal of the double must be the same number as the text ("1.50" and "1.5" are;
 * "0.99999999999999999999" and 1 are not), and finite.
 */
export function exactNumberProblem(text: string): string | null {
  // Up to 15 digits and no exponent: always exact (a double holds 15 significant decimal digits).
  if (text.length <= 15 && !/[eE]/.test(text)) return null;
  const value = Number(text);
  if (Number.isFinite(value) && compareNumber(text, String(value)) === 0) return null;
  return `${text} cannot be represented exactly as a number (it would become ${value}); send it as a decimal string`;
}

/**
 * Parses a request body. Before JSON.parse: a scan refuses nesting deeper than MAX_INPUT_DEPTH
 * (400 invalid_request). After: numbers that would be rounded and strings PostgreSQL cannot store
 * are refused as 400 validation_failed naming each path. The scan keeps the common body on the
 * fast path; only a refused one is parsed again (by lossless-json, which keeps each number's text).
 */
export function parseJsonBody(text: string): unknown {
  return parseJsonText(text, 'The request body');
}

/**
 * A query parameter that carries JSON (GraphQL GET's `variables` and `extensions`), by the body's
 * rules; refusals name the parameter (`variables.input.amount`).
 */
export function parseJsonParameter(name: string, text: string): unknown {
  return parseJsonText(text, `The ${name} parameter`, name);
}

/** parseJsonBody's rules for `what`; the paths of refused values under `name` when it is given. */
function parseJsonText(text: string, what: string, name?: string): unknown {
  const scan = scanJson(text);
  if (scan.tooDeep) throw new InvalidRequestError(`${what} nests deeper than ${MAX_INPUT_DEPTH} levels.`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new InvalidRequestError(`${what} is not valid JSON.`);
  }
  const errors = scan.inexactNumber ? inexactNumberErrors(text) : [];
  if (scan.unstorableEscape) errors.push(...unstorableInputErrors(value));
  if (errors.length)
    throw new ValidationError(
      name ? errors.map(({ path, message }) => ({ path: under(name, path), message })) : errors,
    );
  return value;
}

const under = (name: string, path: string) => (!path ? name : path.startsWith('[') ? name + path : `${name}.${path}`);

/** The path of every number in `text` that exactNumberProblem refuses. */
function inexactNumberErrors(text: string): FieldError[] {
  let tree: unknown;
  try {
    tree = parseLossless(text);
  } catch {
    // lossless-json refuses a few documents JSON.parse takes (a key repeated with another value).
    return [{ path: '', message: 'has a number that cannot be represented exactly; send it as a decimal string' }];
  }
  const errors: FieldError[] = [];
  const queue: { value: unknown; path: PropertyKey[] }[] = [{ value: tree, path: [] }];
  for (let i = 0; i < queue.length; i++) {
    const { value, path } = queue[i]!;
    if (isLosslessNumber(value)) {
      const problem = exactNumberProblem(value.value);
      if (problem) errors.push({ path: formatPath(path), message: problem });
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => queue.push({ value: item, path: [...path, index] }));
    } else if (value && typeof value === 'object') {
      for (const [key, item] of Object.entries(value)) queue.push({ value: item, path: [...path, key] });
    }
  }
  return errors;
}

/** Query string and path parameters: decoded %00 or %ED%A0%80 would reach the database like body text. */
export async function refuseUnstorableUrlText(request: FastifyRequest): Promise<void> {
  const errors = [...unstorableInputErrors(request.params), ...unstorableInputErrors(request.query)];
  if (errors.length) throw new ValidationError(errors);
}

/**
 * The body rules for a graphql-ws message, which graphql-ws parses itself with JSON.parse: the id
 * of the operation the message refuses and why, or null when nothing is refused (an unreadable
 * message is left to graphql-ws, which closes the socket with 4400).
 */
export function refusedMessage(text: string): { id: string; error: DomainError } | null {
  const scan = scanJson(text);
  if (!scan.tooDeep && !scan.inexactNumber && !scan.unstorableEscape) return null;
  let id: unknown;
  try {
    id = (JSON.parse(text) as { id?: unknown } | null)?.id;
    parseJsonBody(text);
  } catch (error) {
    if (error instanceof DomainError && typeof id === 'string') return { id, error };
  }
  return null;
}
