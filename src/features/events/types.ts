import { FEATURES, type AuthContext, type Feature } from '../../auth/context.js';
import { FeatureNotEnabledError, ValidationError } from '../../core/errors.js';

// The event types and who may read them: the vocabulary the log, live streams, webhooks and the
// catalog share. Pure, so the rules are checked without a database.

export const EVENT_TYPES = [
  'communication.contact.created',
  'communication.contact.updated',
  'communication.contact.deleted',
  'accounting.invoice.created',
  'accounting.invoice.issued',
  'accounting.invoice.paid',
  'accounting.invoice.voided',
  'jobs.job.queued',
  'jobs.job.running',
  'jobs.job.progress',
  'jobs.job.succeeded',
  'jobs.job.failed',
  'jobs.job.canceled',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Sent to one webhook endpoint on request: named here with the others, though it never enters the log. */
export const TEST_EVENT_TYPE = 'webhooks.endpoint.test';

/** Reading an event type needs the feature its first segment names (communication.*, accounting.*); jobs.* need none. */
export function featureOf(type: string): Feature | null {
  const family = type.split('.')[0];
  return (FEATURES as readonly string[]).includes(family!) ? (family as Feature) : null;
}

export function canRead(features: readonly string[], type: string): boolean {
  const feature = featureOf(type);
  return feature === null || features.includes(feature);
}

export function matchesPattern(type: string, pattern: string): boolean {
  if (pattern === '*') return true;
  return pattern.endsWith('.*') ? type.startsWith(pattern.slice(0, -1)) : type === pattern;
}

/**
 * The event types a caller may read, narrowed by `patterns`: exact types or wildcards
 * ("accounting.*", "communication.contact.*", "*"). Without patterns: every type its features
 * allow. Asking for a type of a disabled feature is refused, so a mistake does not look like silence.
 */
export function selectEventTypes(
  auth: Pick<AuthContext, 'features'>,
  patterns?: readonly string[] | null,
): EventType[] {
  const readable = (type: EventType) => canRead(auth.features, type);
  if (!patterns) return EVENT_TYPES.filter(readable);
  const selected = new Set<EventType>();
  patterns.forEach((pattern, index) => {
    const matches = EVENT_TYPES.filter((type) => matchesPattern(type, pattern));
    if (!matches.length) {
      throw new ValidationError([
        {
          path: `types[${index}]`,
          message: `"${pattern.slice(0, 100)}" is not an event type or a wildcard such as "accounting.*"`,
        },
      ]);
    }
    const allowed = matches.filter(readable);
    if (!allowed.length) throw new FeatureNotEnabledError(featureOf(matches[0]!)!);
    allowed.forEach((type) => selected.add(type));
  });
  return EVENT_TYPES.filter((type) => selected.has(type));
}
