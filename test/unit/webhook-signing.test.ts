import { randomBytes, randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, test } from 'vitest';
import { newWebhookSecret, sign, signatureHeaders, signingKey } from '../../src/features/webhooks/signing.js';

// Signatures as the Standard Webhooks specification defines them, checked against its published
// example and against the standardwebhooks package's own verification.

describe("the specification's test vector", () => {
  const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
  const id = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
  const timestamp = 1614265330;
  const payload = '{"test": 2432232314}';
  const expected = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

  test('sign gives the published signature', () => {
    expect(sign(signingKey(secret), id, timestamp, payload)).toBe(expected);
  });
  test('the headers carry the id, the timestamp in seconds and that signature', () => {
    expect(signatureHeaders([signingKey(secret)], id, timestamp, payload)).toEqual({
      'webhook-id': id,
      'webhook-timestamp': '1614265330',
      'webhook-signature': expected,
    });
  });
  test('the package signs the same', () => {
    expect(new Webhook(secret).sign(id, new Date(timestamp * 1000), payload)).toBe(expected);
  });
});

describe('verified by the standardwebhooks package', () => {
  const now = () => Math.floor(Date.now() / 1000);
  const payloads = Array.from({ length: 5 }, (_, n) =>
    JSON.stringify({ n, data: randomBytes(16 + n * 50).toString('base64'), text: 'ünïcødé ✓ "quoted"' }),
  );

  test.each(payloads)('a random payload (%#)', (payload) => {
    const secret = newWebhookSecret();
    const headers = signatureHeaders([signingKey(secret)], `evt_${randomUUID()}`, now(), payload);
    expect(new Webhook(secret).verify(payload, headers)).toEqual(JSON.parse(payload));
  });

  test('with two secrets (a rotation), receivers on either verify', () => {
    const [older, newer] = [newWebhookSecret(), newWebhookSecret()];
    const payload = payloads[0]!;
    const headers = signatureHeaders([newer, older].map(signingKey), 'evt_rotation', now(), payload);
    expect(headers['webhook-signature'].split(' ')).toHaveLength(2);
    expect(new Webhook(older).verify(payload, headers)).toEqual(JSON.parse(payload));
    expect(new Webhook(newer).verify(payload, headers)).toEqual(JSON.parse(payload));
  });

  test('a tampered body is rejected', () => {
    const secret = newWebhookSecret();
    const payload = payloads[1]!;
    const headers = signatureHeaders([signingKey(secret)], 'evt_tampered', now(), payload);
    expect(() => new Webhook(secret).verify(payload.replace('"n":1', '"n":2'), headers)).toThrow();
    expect(() => new Webhook(secret).verify(`${payload} `, headers)).toThrow();
  });

  test('another secret is rejected', () => {
    const payload = payloads[2]!;
    const headers = signatureHeaders([signingKey(newWebhookSecret())], 'evt_wrong_secret', now(), payload);
    expect(() => new Webhook(newWebhookSecret()).verify(payload, headers)).toThrow();
  });

  test('another id or timestamp is rejected', () => {
    const secret = newWebhookSecret();
    const payload = payloads[3]!;
    const headers = signatureHeaders([signingKey(secret)], 'evt_original', now(), payload);
    expect(() => new Webhook(secret).verify(payload, { ...headers, 'webhook-id': 'evt_other' })).toThrow();
    const later = String(Number(headers['webhook-timestamp']) + 1);
    expect(() => new Webhook(secret).verify(payload, { ...headers, 'webhook-timestamp': later })).toThrow();
  });
});

test('a new secret is whsec_ and 32 random bytes in base64', () => {
  const secrets = Array.from({ length: 20 }, newWebhookSecret);
  for (const secret of secrets) {
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
  }
  expect(new Set(secrets).size).toBe(secrets.length);
});
