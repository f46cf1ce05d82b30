// Typed domain errors. Each carries the HTTP status and the stable `code` that REST
// problem details and GraphQL `extensions.code` both expose (src/http/problems.ts,
// src/graphql/errors.ts map them, once each).

export type FieldError = { path: string; message: string };

export class DomainError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly title: string,
    detail: string,
    readonly errors?: FieldError[],
  ) {
    super(detail);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  constructor(errors: FieldError[], detail = describe(errors)) {
    super(400, 'validation_failed', 'Validation failed', detail, errors);
  }
}

export class InvalidRequestError extends DomainError {
  constructor(detail: string) {
    super(400, 'invalid_request', 'Invalid request', detail);
  }
}

export class InvalidIdError extends DomainError {
  constructor(path: string, value: string, prefix: string) {
    super(400, 'invalid_id', 'Invalid id', `${JSON.stringify(truncate(value))} is not a valid ${prefix}_ id.`, [
      { path, message: `must be "${prefix}_" followed by a 26-character ULID` },
    ]);
  }
}

export class UnauthorizedError extends DomainError {
  constructor(detail = 'A valid API key is required (Authorization: Bearer nilo_ak_... or X-API-Key).') {
    super(401, 'unauthorized', 'Unauthorized', detail);
  }
}

export class FeatureNotEnabledError extends DomainError {
  constructor(feature: string) {
    super(
      403,
      'feature_not_enabled',
      'Feature not enabled',
      `The "${feature}" feature is not enabled for this tenant.`,
    );
  }
}

export class NotFoundError extends DomainError {
  constructor(what: string, id?: string) {
    super(404, 'not_found', 'Not found', id ? `${what} ${truncate(id)} was not found.` : `${what} was not found.`);
  }
}

/** 404 for something the client can make exist (e.g. pdf_not_rendered): its own code says how it differs from not_found. */
export class NotYetAvailableError extends DomainError {
  constructor(code: string, detail: string) {
    super(404, code, 'Not found', detail);
  }
}

export class ConflictError extends DomainError {
  constructor(code: string, detail: string, errors?: FieldError[]) {
    super(409, code, 'Conflict', detail, errors);
  }
}

export class UnprocessableError extends DomainError {
  constructor(code: string, detail: string, errors?: FieldError[]) {
    super(422, code, 'Unprocessable entity', detail, errors);
  }
}

function describe(errors: FieldError[]): string {
  const first = errors[0];
  if (!first) return 'The request is invalid.';
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  return `${first.path ? `${first.path}: ` : ''}${first.message}${more}`;
}

function truncate(value: string): string {
  return value.length > 80 ? `${value.slice(0, 80)}…` : value;
}

/**
 * 503: a dependency the request needs (the database) is unreachable or not answering. Clients and
 * load balancers can tell it from a bug (500) and retry after `retryAfterSeconds`.
 */
export class ServiceUnavailableError extends DomainError {
  constructor(
    detail: string,
    readonly retryAfterSeconds: number,
  ) {
    super(503, 'service_unavailable', 'Service unavailable', detail);
  }
}
