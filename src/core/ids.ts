import { randomFillSync } from 'node:crypto';
import { monotonicFactory } from 'ulid';
import { InvalidIdError } from './errors.js';

// Public ids are "<prefix>_<ULID>": sortable by creation time, typed at a glance.
export const ID_PREFIX = {
  tenant: 'ten',
  application: 'app',
  apiKey: 'key',
  contact: 'contact',
  invoice: 'inv',
  invoiceLine: 'invl',
  event: 'evt',
  webhookEndpoint: 'whep',
  webhookSecret: 'whsk',
  webhookDelivery: 'whdel',
  webhookAttempt: 'whatt',
  job: 'job',
  runner: 'run',
  invoiceDocument: 'invdoc',
} as const;

export type IdPrefix = (typeof ID_PREFIX)[keyof typeof ID_PREFIX];

// Monotonic: ids made in the same millisecond still sort in creation order (lists page by id).
// Random bits come from a buffer refilled 4 KiB at a time: ulid's default asks the OS per character.
const ulid = monotonicFactory(bufferedRandom());

function bufferedRandom(): () => number {
  const buffer = new Uint8Array(4096);
  let offset = buffer.length;
  return () => {
    if (offset === buffer.length) {
      randomFillSync(buffer);
      offset = 0;
    }
    return buffer[offset++]! / 256;
  };
}

const ULID_PATTERN = /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/;

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

export function isId(prefix: IdPrefix, value: string): boolean {
  return value.startsWith(`${prefix}_`) && ULID_PATTERN.test(value.slice(prefix.length + 1));
}

/** Throws 400 invalid_id for a malformed id, so only well-formed ids ever reach the database. */
export function parseId(prefix: IdPrefix, value: string, path = 'id'): string {
  if (!isId(prefix, value)) throw new InvalidIdError(path, value, prefix);
  return value;
}
