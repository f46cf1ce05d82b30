import { z } from 'zod';
import { ValidationError, type FieldError } from './errors.js';

// A missing required field reads "is required" rather than zod's type-mismatch (or union-mismatch) wording.
z.config({
  customError: (issue) =>
    (issue.code === 'invalid_type' || issue.code === 'invalid_union') && issue.input === undefined ? 'is required' : undefined,
});

/** Parses input with a domain schema; failures become one 400 naming every bad field. */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
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

/** ["items", 0, "price"] → "items[0].price" */
export function formatPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => {
    if (typeof key === 'number') return `${out}[${key}]`;
    return out ? `${out}.${String(key)}` : String(key);
  }, '');
}

/** A nullable text field with a length limit; surrounding whitespace is dropped. */
export const optionalText = (max: number) => z.string().trim().max(max, `must be at most ${max} characters`).nullable().optional();
