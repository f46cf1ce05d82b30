import type { KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { Database } from '../../db/database.js';
import { eventEnvelope, type EventEnvelope } from '../events/service.js';
import { BlockedAddressError, type AddressGuard } from './address-guard.js';
import { claimLeaseMs } from './policy.js';
import { signingKey } from './signing.js';
import { type ClaimRow, claimDueDeliveries } from './sql.js';

// The delivery worker's first phase: claim due deliveries with everything their POSTs need.

/** Where an endpoint's POSTs go, parsed once. */
export type Target = { origin: string; path: string; blocked: BlockedAddressError | null };

/** An endpoint as a claim reads it, with what signing and sending to it need. */
export type ClaimedEndpoint = {
  id: string;
  target: Target;
  failingSince: Date | null;
  /** The keys of its active secrets, newest first: one signature each. */
  keys: KeyObject[];
};
/** A claimed delivery with what sending it needs, read in the claim's statement. */
export type Claimed = {
  id: string;
  endpointId: string;
  endpoint: ClaimedEndpoint;
  /** Attempts logged before this one. */
  attemptCount: number;
  envelope: EventEnvelope;
  /** The envelope as sent; deliveries of one event in a claim share it. */
  body: string;
};

/** What a claim asks for: see claimDueDeliveries. */
export type ClaimRequest = { held: ReadonlyMap<string, number>; perEndpoint: number; claimSize: number };

/**
 * Claims due deliveries (claimDueDeliveries, on the driver: its rows are json that Prisma would only
 * convert) and reads them into what `send` needs, in the claim's fair order.
 */
export function claimer(database: Database, guard: AddressGuard, timeoutMs: number) {
  const leaseMs = claimLeaseMs(timeoutMs);
  // Endpoints come back in every claim: parsing their addresses and keys each time costs more
  // than keeping them.
  const targetFor = memoized((url) => targetOf(guard, url));
  const keyFor = memoized(signingKey);

  return async function claim(request: ClaimRequest): Promise<Claimed[]> {
    const [row] = await database.query<ClaimRow>(claimDueDeliveries({ ...request, leaseMs }));
    const endpoints = new Map(
      (row?.endpoints ?? []).map((endpoint) => [
        endpoint.id,
        {
          id: endpoint.id,
          target: targetFor(endpoint.url),
          failingSince: endpoint.failingSince === null ? null : utc(endpoint.failingSince),
          keys: endpoint.secrets.map(keyFor),
        },
      ]),
    );
    const events = new Map(
      (row?.events ?? []).map((event) => {
        const envelope = eventEnvelope({ ...event, occurredAt: utc(event.occurredAt) });
        return [event.id, { envelope, body: JSON.stringify(envelope) }];
      }),
    );
    return (row?.deliveries ?? []).map((delivery) => ({
      id: delivery.id,
      endpointId: delivery.endpointId,
      endpoint: endpoints.get(delivery.endpointId)!,
      attemptCount: delivery.attemptCount,
      // Test events carry their envelope; the others are the event's, as the log has it.
      ...(delivery.payload
        ? { envelope: delivery.payload, body: JSON.stringify(delivery.payload) }
        : events.get(delivery.eventId)!),
    }));
  };
}

/** json has timestamps without their zone, which is UTC. */
function utc(timestamp: string): Date {
  return new Date(`${timestamp}Z`);
}

/**
 * An endpoint URL's origin and path, and its refusal when its host is an IP literal outside the
 * allowed addresses (names are checked by the agent's lookup, at connect time).
 */
function targetOf(guard: AddressGuard, url: string): Target {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  const blocked = isIP(host) && !guard.isAllowed(host) ? new BlockedAddressError(host, host) : null;
  return { origin: parsed.origin, path: `${parsed.pathname}${parsed.search}`, blocked };
}

/** `compute` remembered by its argument, bounded by starting over. */
function memoized<T>(compute: (key: string) => T, max = 10_000): (key: string) => T {
  const known = new Map<string, T>();
  return (key) => {
    if (known.has(key)) return known.get(key)!;
    if (known.size >= max) known.clear();
    const value = compute(key);
    known.set(key, value);
    return value;
  };
}
