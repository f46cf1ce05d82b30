import { describe, expect, test } from 'vitest';
import { FeatureNotEnabledError, ValidationError } from '../../src/core/errors.js';
import {
  canRead,
  EVENT_TYPES,
  featureOf,
  matchesPattern,
  selectEventTypes,
  TEST_EVENT_TYPE,
} from '../../src/features/events/types.js';

// Which event types a caller reads: the feature each type needs, and the patterns (exact types
// and wildcards) that subscriptions, GET /events and webhook endpoints narrow them with.

const caller = (...features: string[]) => ({ features });
const JOB_TYPES = EVENT_TYPES.filter((type) => type.startsWith('jobs.'));
const ACCOUNTING_TYPES = EVENT_TYPES.filter((type) => type.startsWith('accounting.'));
const CONTACT_TYPES = EVENT_TYPES.filter((type) => type.startsWith('communication.contact.'));

describe('featureOf and canRead', () => {
  test('a type needs the feature its first segment names', () => {
    expect(featureOf('accounting.invoice.paid')).toBe('accounting');
    expect(featureOf('communication.contact.created')).toBe('communication');
  });

  test('jobs and the webhook test event need no feature', () => {
    expect(featureOf('jobs.job.queued')).toBeNull();
    expect(featureOf(TEST_EVENT_TYPE)).toBeNull();
    expect(canRead([], 'jobs.job.succeeded')).toBe(true);
    expect(canRead([], TEST_EVENT_TYPE)).toBe(true);
  });

  test('a feature type is readable only with its feature on', () => {
    expect(canRead([], 'accounting.invoice.paid')).toBe(false);
    expect(canRead(['communication'], 'accounting.invoice.paid')).toBe(false);
    expect(canRead(['accounting'], 'accounting.invoice.paid')).toBe(true);
  });
});

describe('matchesPattern', () => {
  test('"*" matches every type', () => {
    expect(EVENT_TYPES.every((type) => matchesPattern(type, '*'))).toBe(true);
  });

  test('a trailing ".*" matches the types under that prefix, at a segment boundary', () => {
    expect(matchesPattern('accounting.invoice.paid', 'accounting.*')).toBe(true);
    expect(matchesPattern('accounting.invoice.paid', 'accounting.invoice.*')).toBe(true);
    expect(matchesPattern('communication.contact.created', 'accounting.*')).toBe(false);
    expect(matchesPattern('accountingx.invoice.paid', 'accounting.*')).toBe(false);
  });

  test('anything else is an exact type: no prefix, suffix or inner wildcard', () => {
    expect(matchesPattern('jobs.job.failed', 'jobs.job.failed')).toBe(true);
    expect(matchesPattern('jobs.job.failed', 'jobs.job')).toBe(false);
    expect(matchesPattern('jobs.job.failed', 'jobs')).toBe(false);
    expect(matchesPattern('jobs.job.failed', '*.failed')).toBe(false);
    expect(matchesPattern('jobs.job.failed', 'jobs.*.failed')).toBe(false);
  });
});

describe('selectEventTypes', () => {
  test('without patterns: every type the features allow, in catalog order', () => {
    expect(selectEventTypes(caller())).toEqual(JOB_TYPES);
    expect(selectEventTypes(caller('accounting'), null)).toEqual([...ACCOUNTING_TYPES, ...JOB_TYPES]);
    expect(selectEventTypes(caller('accounting', 'communication'))).toEqual([...EVENT_TYPES]);
  });

  test('patterns narrow to their union, once each, in catalog order', () => {
    expect(selectEventTypes(caller('accounting', 'communication'), ['jobs.*', 'communication.contact.*'])).toEqual([
      ...CONTACT_TYPES,
      ...JOB_TYPES,
    ]);
    expect(selectEventTypes(caller('accounting'), ['accounting.invoice.paid', 'accounting.*'])).toEqual(
      ACCOUNTING_TYPES,
    );
  });

  test('a wildcard spanning features keeps what the caller may read', () => {
    expect(selectEventTypes(caller(), ['*'])).toEqual(JOB_TYPES);
    expect(selectEventTypes(caller('communication'), ['*'])).toEqual([...CONTACT_TYPES, ...JOB_TYPES]);
  });

  test('an empty list selects nothing', () => {
    expect(selectEventTypes(caller('accounting'), [])).toEqual([]);
  });

  test('a pattern that matches only types of a disabled feature is refused with that feature', () => {
    const refusal = () => selectEventTypes(caller('communication'), ['jobs.*', 'accounting.*']);
    expect(refusal).toThrow(FeatureNotEnabledError);
    expect(refusal).toThrow('"accounting" feature');
    expect(() => selectEventTypes(caller(), ['communication.contact.updated'])).toThrow('"communication" feature');
  });

  test('a pattern that matches no type is a validation error naming its position', () => {
    const error = catchError(() => selectEventTypes(caller('accounting'), ['accounting.*', 'accounting.invoice']));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).errors).toEqual([
      {
        path: 'types[1]',
        message: '"accounting.invoice" is not an event type or a wildcard such as "accounting.*"',
      },
    ]);
  });

  test('the webhook test event is not in the log, so it cannot be selected', () => {
    expect(() => selectEventTypes(caller(), [TEST_EVENT_TYPE])).toThrow(ValidationError);
  });

  test('a long unknown pattern is quoted cut to 100 characters', () => {
    const error = catchError(() => selectEventTypes(caller(), ['x'.repeat(500)])) as ValidationError;
    expect(error.errors![0]!.message).toBe(
      `"${'x'.repeat(100)}" is not an event type or a wildcard such as "accounting.*"`,
    );
  });
});

function catchError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}
