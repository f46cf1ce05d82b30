import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a webhook target was refused: it is, or resolves to, an address we do not send to. */
export class BlockedAddressError extends Error {
  constructor(
    readonly host: string,
    readonly address: string,
    /** What the address is instead: "loopback", "6to4 (2002::/16), embedding 127.0.0.1", … */
    readonly reason: string = nonGlobalReason(address) ?? 'not allowed',
  ) {
    super(`${host} resolves to ${address} (${reason}), which is not a public address`);
  }
}

type Block = { range: [ipaddr.IPv4 | ipaddr.IPv6, number]; name: string; embedded?: (bytes: number[]) => number[] };

const block = (cidr: string, name: string, embedded?: Block['embedded']): Block => ({
  range: ipaddr.parseCIDR(cidr),
  name: `${name} (${cidr})`,
  embedded,
});
const lastFour = (bytes: number[]) => bytes.slice(12, 16);

/**
 * Special-purpose ranges (the IANA IPv4 and IPv6 special-purpose address registries, multicast,
 * reserved space), most specific first. IPv6 outside 2000::/3 is refused even when not listed:
 * only that block is global unicast.
 */
const IPV4_BLOCKS: Block[] = [
  block('0.0.0.0/8', '"this network"'),
  block('10.0.0.0/8', 'private'),
  block('100.64.0.0/10', 'shared address space (CGNAT)'),
  block('127.0.0.0/8', 'loopback'),
  block('169.254.0.0/16', 'link-local'),
  block('172.16.0.0/12', 'private'),
  block('192.0.0.0/24', 'IETF protocol assignments'),
  block('192.0.2.0/24', 'documentation'),
  block('192.88.99.0/24', '6to4 relay anycast'),
  block('192.168.0.0/16', 'private'),
  block('198.18.0.0/15', 'benchmarking'),
  block('198.51.100.0/24', 'documentation'),
  block('203.0.113.0/24', 'documentation'),
  block('224.0.0.0/4', 'multicast'),
  block('255.255.255.255/32', 'broadcast'),
  block('240.0.0.0/4', 'reserved'),
];
const IPV6_BLOCKS: Block[] = [
  block('::/128', 'unspecified'),
  block('::1/128', 'loopback'),
  block('::ffff:0:0/96', 'IPv4-mapped', lastFour),
  block('::/96', 'IPv4-compatible', lastFour),
  block('64:ff9b::/96', 'NAT64', lastFour),
  block('64:ff9b:1::/48', 'local-use NAT64'),
  block('100::/64', 'discard-only'),
  block('2001::/32', 'Teredo'),
  block('2001:2::/48', 'benchmarking'),
  block('2001:db8::/32', 'documentation'),
  block('2001::/23', 'IETF protocol assignments'),
  block('2002::/16', '6to4', (bytes) => bytes.slice(2, 6)),
  block('3fff::/20', 'documentation'),
  block('5f00::/16', 'segment routing (SRv6)'),
  block('fc00::/7', 'unique local'),
  block('fe80::/10', 'link-local'),
  block('fec0::/10', 'site-local'),
  block('ff00::/8', 'multicast'),
];
const GLOBAL_UNICAST_V6 = ipaddr.parseCIDR('2000::/3');

/**
 * Parses an IP address; IPv6 text goes through the WHATWG URL parser first, whose canonical form
 * ipaddr.js reads correctly (it takes `::127.0.0.1`, an IPv4-compatible address, for IPv4-mapped).
 */
function parseAddress(address: string): ipaddr.IPv4 | ipaddr.IPv6 {
  const bare = address.replace(/^\[|\]$/g, '');
  return isIP(bare) === 6 ? ipaddr.IPv6.parse(new URL(`http://[${bare}]/`).hostname.slice(1, -1)) : ipaddr.parse(bare);
}

/**
 * Why `address` is not a global unicast address (the range it is in, and the IPv4 address a
 * tunnelling or translation form embeds), or null when it is one.
 */
export function nonGlobalReason(address: string): string | null {
  const parsed = parseAddress(address);
  const blocks = parsed.kind() === 'ipv4' ? IPV4_BLOCKS : IPV6_BLOCKS;
  const found = blocks.find(({ range: [range, bits] }) => range.kind() === parsed.kind() && parsed.match(range, bits));
  if (found) {
    const embedded = found.embedded && new ipaddr.IPv4(found.embedded(parsed.toByteArray())).toString();
    return embedded ? `${found.name}, embedding ${embedded}` : found.name;
  }
  if (parsed.kind() === 'ipv6' && !parsed.match(GLOBAL_UNICAST_V6)) return 'outside global unicast (2000::/3)';
  return null;
}

/**
 * The SSRF guard: webhooks go to global unicast addresses only (no loopback, private, link-local,
 * unique-local, CGNAT, multicast, documentation, benchmarking, reserved, or IPv6 forms that
 * embed or translate to IPv4: mapped, compatible, NAT64, 6to4, Teredo), except ranges the
 * operator allows. Checked when an endpoint is saved and again, after DNS resolution, on every
 * connection, so a name that later resolves elsewhere (DNS rebinding) is still refused.
 */
export function addressGuard(allowedCidrs: readonly string[]) {
  const allowed = allowedCidrs.map((cidr) => ipaddr.parseCIDR(cidr));

  function isAllowed(address: string): boolean {
    const parsed = parseAddress(address);
    // A dual-stack socket shows an IPv4 peer as IPv4-mapped: an allowed IPv4 range covers that form too.
    const forms =
      parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
        ? [parsed, (parsed as ipaddr.IPv6).toIPv4Address()]
        : [parsed];
    if (allowed.some(([range, bits]) => forms.some((form) => range.kind() === form.kind() && form.match(range, bits))))
      return true;
    return nonGlobalReason(address) === null;
  }

  /** Resolves `host` (a name or an IP literal) and fails unless every address is allowed. */
  async function check(host: string): Promise<void> {
    const bare = host.replace(/^\[|\]$/g, '');
    const addresses = isIP(bare) ? [bare] : await resolveAll(bare);
    const blocked = addresses.find((address) => !isAllowed(address));
    if (blocked) throw new BlockedAddressError(bare, blocked);
  }

  /** A drop-in for dns.lookup on sockets: the connection only proceeds to allowed addresses. */
  // biome-ignore lint/suspicious/noExplicitAny: dns.lookup's overloads take options or a callback in the same place
  const lookup: typeof dnsLookup = ((hostname: string, options: any, callback: any) => {
    const done = typeof options === 'function' ? options : callback;
    const opts = typeof options === 'function' ? {} : typeof options === 'number' ? { family: options } : options;
    dnsLookup(hostname, { ...opts, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return done(error);
      const blocked = addresses.find((a) => !isAllowed(a.address));
      if (blocked) return done(new BlockedAddressError(hostname, blocked.address));
      if (opts.all) return done(null, addresses);
      done(null, addresses[0]!.address, addresses[0]!.family);
    });
  }) as typeof dnsLookup;

  return { isAllowed, check, lookup };
}

export type AddressGuard = ReturnType<typeof addressGuard>;

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    dnsLookup(host, { all: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses.map((a) => a.address)),
    );
  });
}
