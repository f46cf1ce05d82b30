import { createHmac, createSecretKey, type KeyObject, randomBytes } from 'node:crypto';

// Standard Webhooks signing (https://www.standardwebhooks.com): node:crypto's HMAC, where the
// standardwebhooks package hashes in JavaScript; the tests verify with the package.

/** whsec_ + 32 random bytes in base64, the Standard Webhooks secret format. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64')}`;
}

/** A secret's signing key: the base64 after `whsec_`. */
export function signingKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret.replace(/^whsec_/, ''), 'base64'));
}

/** `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body` under the key. */
export function sign(key: KeyObject, id: string, timestampSeconds: number, body: string): string {
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`;
}

/**
 * The headers that let a receiver verify a message: its id, when it was signed, and one
 * `v1,<signature>` per key, space-separated, so receivers on the old or the new secret of a
 * rotation both verify.
 */
export function signatureHeaders(keys: readonly KeyObject[], id: string, timestampSeconds: number, body: string) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSeconds),
    'webhook-signature': keys.map((key) => sign(key, id, timestampSeconds, body)).join(' '),
  };
}
