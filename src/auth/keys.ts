import { createHash, randomBytes } from 'node:crypto';

// Secret keys: applications' API keys and runners' keys, one format with different prefixes.

export const API_KEY_PREFIX = 'nilo_ak_';
export const RUNNER_KEY_PREFIX = 'nilo_rk_';
export type KeyPrefix = typeof API_KEY_PREFIX | typeof RUNNER_KEY_PREFIX;

const SECRET_PATTERN = /^[A-Za-z0-9_-]{32,64}$/;

/** A new key: shown once, then only its hash and fingerprint are kept. */
export function generateKey(prefix: KeyPrefix): { key: string; hash: string; fingerprint: string } {
  const key = prefix + randomBytes(24).toString('base64url');
  return { key, hash: hashKey(key), fingerprint: fingerprintOf(key) };
}

export function isWellFormedKey(prefix: KeyPrefix, key: string): boolean {
  return key.startsWith(prefix) && SECRET_PATTERN.test(key.slice(prefix.length));
}

// Keys carry 192 random bits, so a plain SHA-256 is a safe and fast lookup hash.
export function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Identifies a key in listings without revealing it; `sha256sum` of a key shows it as the hash's start. */
export function fingerprintOf(key: string): string {
  return hashKey(key).slice(0, 16);
}
