import { InvalidRequestError } from './errors.js';

/** One rule for every list, REST and GraphQL alike: 1 to 500 items a page, 50 when not asked. */
export const PAGE_SIZE = { min: 1, max: 500, default: 50 } as const;

/** Whether a requested page size is allowed; null and undefined mean the default. */
export function isPageSize(value: unknown): value is number | null | undefined {
  return (
    value == null ||
    (typeof value === 'number' && Number.isInteger(value) && value >= PAGE_SIZE.min && value <= PAGE_SIZE.max)
  );
}

/** The page size asked for by `argument`, or 400 invalid_request: never clamped. */
export function pageSize(value: unknown, argument: string): number {
  if (!isPageSize(value)) {
    throw new InvalidRequestError(
      `${argument} must be an integer from ${PAGE_SIZE.min} to ${PAGE_SIZE.max} (default ${PAGE_SIZE.default}); got ${JSON.stringify(value)}.`,
    );
  }
  return value ?? PAGE_SIZE.default;
}
