import { createHash, randomBytes } from 'node:crypto';

export const API_KEY_PREFIX = 'nilo_ak_';
const KEY_PATTERN = /^nilo_ak_[A-Za-z0-9_-]{32,64}$/;

/** A new API key: shown once, then only its hash and fingerprint are kept. */
export function generateApiKey(): { key: string; hash: string; fingerprint: string } {
  const key = API_KEY_PREFIX + randomBytes(24).toString('base64url');
  return { key, hash: hashApiKey(key), fingerprint: fingerprintOf(key) };
}

export function isWellFormedApiKey(key: string): boolean {
  return KEY_PATTERN.test(key);
}

// Keys carry 192 random bits, so a plain SHA-256 is a safe and fast lookup hash.
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** Identifies a key in listings without revealing it; `sha256sum` of a key shows it as the hash's start. */
export function fingerprintOf(key: string): string {
  return hashApiKey(key).slice(0, 16);
}
