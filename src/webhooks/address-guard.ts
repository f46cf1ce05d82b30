import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Why a webhook target was refused: it is, or resolves to, an address we do not send to. */
export class BlockedAddressError extends Error {
  constructor(readonly host: string, readonly address: string) {
    super(`${host} resolves to ${address}, which is not a public address`);
  }
}

type Range = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * The SSRF guard: webhooks go to public unicast addresses only (no loopback, private, link-local,
 * unique-local, CGNAT, multicast, reserved or tunnelling ranges), except ranges the operator allows.
 * Checked when an endpoint is saved and again, after DNS resolution, on every connection, so a
 * name that later resolves elsewhere (DNS rebinding) is still refused.
 */
export function addressGuard(allowedCidrs: readonly string[]) {
  const allowed: Range[] = allowedCidrs.map((cidr) => ipaddr.parseCIDR(cidr));

  function isAllowed(address: string): boolean {
    let parsed = ipaddr.parse(address);
    if (parsed instanceof ipaddr.IPv6 && parsed.isIPv4MappedAddress()) parsed = parsed.toIPv4Address();
    if (allowed.some(([range, bits]) => range.kind() === parsed.kind() && parsed.match(range, bits))) return true;
    return parsed.range() === 'unicast';
  }

  /** Resolves `host` (a name or an IP literal) and fails unless every address is allowed. */
  async function check(host: string): Promise<void> {
    const bare = host.replace(/^\[|\]$/g, '');
    const addresses = isIP(bare) ? [bare] : await resolveAll(bare);
    const blocked = addresses.find((address) => !isAllowed(address));
    if (blocked) throw new BlockedAddressError(bare, blocked);
  }

  /** A drop-in for dns.lookup on sockets: the connection only proceeds to allowed addresses. */
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
    dnsLookup(host, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses.map((a) => a.address))));
  });
}
