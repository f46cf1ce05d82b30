import { describe, expect, test } from 'vitest';
import { addressGuard, BlockedAddressError, nonGlobalReason } from '../../src/features/webhooks/address-guard.js';

const guard = addressGuard([]);

describe('refused: every address that is not global unicast, form by form', () => {
  test.each([
    // IPv4
    ['0.0.0.0', /"this network"/],
    ['0.1.2.3', /"this network"/],
    ['10.1.2.3', /private \(10\.0\.0\.0\/8\)/],
    ['100.64.0.1', /CGNAT/],
    ['100.127.255.254', /CGNAT/],
    ['127.0.0.1', /loopback/],
    ['127.255.0.1', /loopback/],
    ['169.254.169.254', /link-local/],
    ['172.16.0.1', /private/],
    ['172.31.255.255', /private/],
    ['192.0.0.8', /IETF protocol assignments/],
    ['192.0.2.10', /documentation/],
    ['192.88.99.1', /6to4 relay/],
    ['192.168.1.1', /private/],
    ['198.18.0.1', /benchmarking/],
    ['198.19.255.255', /benchmarking/],
    ['198.51.100.7', /documentation/],
    ['203.0.113.9', /documentation/],
    ['224.0.0.1', /multicast/],
    ['239.255.255.250', /multicast/],
    ['240.0.0.1', /reserved/],
    ['255.255.255.255', /broadcast/],
    // IPv6
    ['::', /unspecified/],
    ['::1', /loopback/],
    ['::127.0.0.1', /IPv4-compatible.*embedding 127\.0\.0\.1/],
    ['::7f00:1', /IPv4-compatible.*embedding 127\.0\.0\.1/],
    ['::8.8.8.8', /IPv4-compatible.*embedding 8\.8\.8\.8/],
    ['::ffff:127.0.0.1', /IPv4-mapped.*embedding 127\.0\.0\.1/],
    ['::ffff:8.8.8.8', /IPv4-mapped.*embedding 8\.8\.8\.8/],
    ['64:ff9b::127.0.0.1', /NAT64 \(64:ff9b::\/96\), embedding 127\.0\.0\.1/],
    ['64:ff9b::8.8.8.8', /NAT64/],
    ['64:ff9b:1::a00:1', /local-use NAT64/],
    ['100::1', /discard-only/],
    ['2001::1', /Teredo/],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', /Teredo/],
    ['2001:2::1', /benchmarking/],
    ['2001:10::1', /IETF protocol assignments/],
    ['2001:20::1', /IETF protocol assignments/],
    ['2001:db8::1', /documentation/],
    ['2002:7f00:1::1', /6to4 \(2002::\/16\), embedding 127\.0\.0\.1/],
    ['2002:a9fe:a9fe::1', /6to4.*embedding 169\.254\.169\.254/],
    ['2002:808:808::1', /6to4.*embedding 8\.8\.8\.8/],
    ['3fff::1', /documentation/],
    ['5f00::1', /SRv6/],
    ['fc00::1', /unique local/],
    ['fd12:3456:789a::1', /unique local/],
    ['fe80::1', /link-local/],
    ['febf::1', /link-local/],
    ['fec0::1', /site-local/],
    ['ff02::1', /multicast/],
    ['ff0e::1', /multicast/],
    ['4000::1', /outside global unicast/],
    ['::2', /IPv4-compatible/],
  ])('%s', (address, reason) => {
    expect(nonGlobalReason(address)).toMatch(reason);
    expect(guard.isAllowed(address)).toBe(false);
  });
});

test.each([
  '8.8.8.8',
  '93.184.216.34',
  '1.1.1.1',
  '100.63.255.255',
  '100.128.0.1',
  '172.32.0.1',
  '192.0.1.1',
  '198.20.0.1',
  '223.255.255.254',
  '2606:4700:4700::1111',
  '2001:4860:4860::8888',
  '2a00:1450:4001::1',
  '2001:200::1',
])('allowed: the global unicast address %s', (address) => {
  expect(nonGlobalReason(address)).toBeNull();
  expect(guard.isAllowed(address)).toBe(true);
});

test('bracketed IPv6 literals, as URL hosts are written, are classified the same', () => {
  expect(guard.isAllowed('[::127.0.0.1]')).toBe(false);
  expect(guard.isAllowed('[2606:4700:4700::1111]')).toBe(true);
});

test('the operator allows chosen ranges, and nothing else', () => {
  const local = addressGuard(['127.0.0.0/8', 'fd00::/8', '100.64.0.0/10']);
  expect(local.isAllowed('127.0.0.1')).toBe(true);
  expect(local.isAllowed('::ffff:127.0.0.1')).toBe(true); // an allowed IPv4 peer seen through a dual-stack socket
  expect(local.isAllowed('fd00::5')).toBe(true);
  expect(local.isAllowed('100.64.3.4')).toBe(true);
  expect(local.isAllowed('8.8.8.8')).toBe(true);
  expect(local.isAllowed('::1')).toBe(false);
  expect(local.isAllowed('10.0.0.1')).toBe(false);
  expect(local.isAllowed('::127.0.0.1')).toBe(false);
  expect(local.isAllowed('64:ff9b::127.0.0.1')).toBe(false);
  expect(local.isAllowed('2002:7f00:1::1')).toBe(false);
});

test('check() refuses an IP literal with the address and why', async () => {
  const error = await guard.check('[::127.0.0.1]').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(BlockedAddressError);
  expect((error as BlockedAddressError).message).toMatch(
    /^::127\.0\.0\.1 resolves to ::127\.0\.0\.1 \(IPv4-compatible \(::\/96\), embedding 127\.0\.0\.1\), which is not a public address$/,
  );
  await expect(guard.check('8.8.8.8')).resolves.toBeUndefined();
});
