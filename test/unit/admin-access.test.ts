import { describe, expect, test } from 'vitest';
import { adminAccess, isLoopback } from '../../src/features/admin/rest.js';

describe('isLoopback', () => {
  test.each(['127.0.0.1', '127.8.9.10', '::1', '::ffff:127.0.0.1'])('%s is loopback', (address) =>
    expect(isLoopback(address)).toBe(true),
  );
  test.each(['10.0.0.1', '192.0.2.2', '::ffff:10.0.0.1', 'fd00::2', '0.0.0.0', '::', '', 'localhost'])(
    '%s is not',
    (address) => expect(isLoopback(address)).toBe(false),
  );
});

describe('adminAccess', () => {
  const token = 'a-sufficiently-long-operator-token';
  const refusal = (access: ReturnType<typeof adminAccess>) =>
    access.allowed ? 'allowed' : `${access.error.status} ${access.error.code}`;

  test('without a token: loopback only, whatever it presents', () => {
    expect(refusal(adminAccess(undefined, undefined, '127.0.0.1'))).toBe('allowed');
    expect(refusal(adminAccess(undefined, 'Bearer whatever', '::1'))).toBe('allowed');
    expect(refusal(adminAccess(undefined, undefined, '192.0.2.2'))).toBe('403 forbidden');
    expect(refusal(adminAccess(undefined, `Bearer ${token}`, '::ffff:192.0.2.2'))).toBe('403 forbidden');
  });

  test('with a token: that token, from any address, loopback included', () => {
    expect(refusal(adminAccess(token, `Bearer ${token}`, '192.0.2.2'))).toBe('allowed');
    expect(refusal(adminAccess(token, `bearer   ${token} `, '127.0.0.1'))).toBe('allowed');
    expect(refusal(adminAccess(token, undefined, '127.0.0.1'))).toBe('401 unauthorized');
    expect(refusal(adminAccess(token, token, '127.0.0.1'))).toBe('401 unauthorized');
    expect(refusal(adminAccess(token, `Bearer ${token}x`, '127.0.0.1'))).toBe('401 unauthorized');
    expect(refusal(adminAccess(token, `Bearer ${token.slice(0, -1)}`, '127.0.0.1'))).toBe('401 unauthorized');
    expect(refusal(adminAccess(token, 'Bearer ', '127.0.0.1'))).toBe('401 unauthorized');
  });
});
