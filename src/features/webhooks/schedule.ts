import type { Query } from '../../db/database.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { newId } from '../../core/ids.js';
import type { EventFilter, EventFilters } from '../events/filters.js';
import type { ScheduledDeliveries, UnpublishedEvent } from '../events/relay.js';
import { endpointWants, typesOf } from './policy.js';
import { addFilteredOut, enabledEndpointsOf, endpointSetVersions, insertDeliveries, type NewDelivery } from './sql.js';

/**
 * How often a process writes the counts of events filters kept back (a row per endpoint that kept
 * any): per relay batch, ten thousand filtered endpoints would cost ten thousand rows per event.
 */
export const KEPT_BACK_WRITE_MS = 5000;
/** Tenants whose endpoints are kept in memory; past it the cache starts over (each tenant is read again once). */
const MAX_CACHED_TENANTS = 10_000;

/** An enabled endpoint as the relay keeps it: its patterns, its compiled filter, and the events it kept back not yet written. */
type CachedEndpoint = {
  id: string;
  eventTypes: string[];
  filter: EventFilter | null;
  keptBack: number;
  /** Kept back by the batch being scheduled: counted in keptBack once it committed. */
  keptBackInBatch: number;
};

/** A tenant's enabled endpoints as of `version`, and per event type (for `features`) those that want it. */
type TenantEndpoints = {
  version: string;
  features: string;
  endpoints: CachedEndpoint[];
  wanting: Map<string, CachedEndpoint[]>;
};

/** What an endpoint's filter is saved as. */
type SavedFilter = { eventTypes: string[]; filters: Prisma.JsonValue; anyOf: Prisma.JsonValue };

/**
 * An endpoint's compiled filter (null: none). One saved when valid but refused since (a field the
 * catalog no longer has) matches nothing, rather than everything.
 */
export function endpointFilter(filters: EventFilters, endpoint: SavedFilter): EventFilter | null {
  try {
    return filters.compile(typesOf(endpoint.eventTypes), { filters: endpoint.filters, anyOf: endpoint.anyOf });
  } catch {
    return () => false;
  }
}

/**
 * Decides, inside the relay's transaction (the `Query` that schedule is given), which enabled
 * endpoints get a delivery for each event of a batch: those of its tenant that want its type and
 * whose content filter matches its data (read with the batch: no read per event). A tenant's
 * endpoints, their filters compiled, stay in memory until its endpoint set's version (raised by
 * triggers on every relevant change, whichever process or path made it) moves, so a batch costs
 * one small read however many endpoints a tenant has. Events a filter kept from its endpoint are
 * counted in memory once their batch committed; writeKeptBack writes the counts (the relay's owner
 * calls it every KEPT_BACK_WRITE_MS and when it stops).
 */
export function deliveryScheduler(query: Query, filters: EventFilters) {
  const tenants = new Map<string, TenantEndpoints>();
  /** The cached endpoints by id, for their counts. */
  const byId = new Map<string, CachedEndpoint>();
  /** Counts of endpoints no longer cached (disabled, deleted, their tenant's set read again), still to write. */
  const keptBackOfDropped = new Map<string, number>();
  /** The endpoints whose keptBackInBatch counts the batch being scheduled (or a failed one, until the next). */
  let countedInBatch: CachedEndpoint[] = [];

  /** Reads the endpoints of tenants whose set moved since cached (or never was), carrying their unwritten counts over. */
  async function refresh(inBatch: Query, tenantIds: string[]): Promise<Map<string, TenantEndpoints>> {
    const versions = await inBatch<{ tenantId: string; features: string[]; version: string }>(
      endpointSetVersions(tenantIds),
    );
    if (tenants.size + versions.length > MAX_CACHED_TENANTS) for (const tenantId of tenants.keys()) drop(tenantId);
    const stale = versions.filter(({ tenantId, version }) => tenants.get(tenantId)?.version !== version);
    if (stale.length) {
      const rows = await inBatch<SavedFilter & { id: string; tenantId: string }>(
        enabledEndpointsOf(stale.map((t) => t.tenantId)),
      );
      const rowsOf = new Map<string, typeof rows>();
      for (const row of rows) {
        const ofTenant = rowsOf.get(row.tenantId);
        if (ofTenant) ofTenant.push(row);
        else rowsOf.set(row.tenantId, [row]);
      }
      for (const { tenantId, version } of stale) {
        drop(tenantId);
        const endpoints = (rowsOf.get(tenantId) ?? []).map((row) => {
          const keptBack = keptBackOfDropped.get(row.id) ?? 0;
          keptBackOfDropped.delete(row.id);
          const filter = endpointFilter(filters, row);
          const endpoint = { id: row.id, eventTypes: row.eventTypes, filter, keptBack, keptBackInBatch: 0 };
          byId.set(row.id, endpoint);
          return endpoint;
        });
        tenants.set(tenantId, { version, features: '', endpoints, wanting: new Map() });
      }
    }
    return new Map(
      versions.map(({ tenantId, features }) => {
        const cached = tenants.get(tenantId)!;
        const key = features.join(' ');
        if (cached.features !== key) {
          cached.features = key;
          cached.wanting.clear();
        }
        return [tenantId, cached];
      }),
    );
  }

  /** Forgets a tenant's cached endpoints, keeping the counts they had not written. */
  function drop(tenantId: string) {
    for (const endpoint of tenants.get(tenantId)?.endpoints ?? []) {
      if (endpoint.keptBack) keptBackOfDropped.set(endpoint.id, endpoint.keptBack);
      byId.delete(endpoint.id);
    }
    tenants.delete(tenantId);
  }

  function wantedBy(cached: TenantEndpoints, type: string): CachedEndpoint[] {
    let found = cached.wanting.get(type);
    if (!found) {
      const features = cached.features ? cached.features.split(' ') : [];
      found = cached.endpoints.filter((endpoint) => endpointWants(endpoint, features, type));
      cached.wanting.set(type, found);
    }
    return found;
  }

  /** Every count not yet written, and resets them. */
  function takeKeptBack(): Map<string, number> {
    const counts = new Map(keptBackOfDropped);
    keptBackOfDropped.clear();
    for (const endpoint of byId.values())
      if (endpoint.keptBack) {
        // Also among the dropped counts when a write failed meanwhile: both add up.
        counts.set(endpoint.id, (counts.get(endpoint.id) ?? 0) + endpoint.keptBack);
        endpoint.keptBack = 0;
      }
    return counts;
  }

  return {
    /**
     * Creates the deliveries of a batch of committed events: how many, and `committed` to call once
     * the relay's transaction has committed, which counts the events filters kept back (a batch
     * that failed is published again, and would otherwise count them twice).
     */
    async schedule(inBatch: Query, events: UnpublishedEvent[]): Promise<ScheduledDeliveries> {
      // A batch that failed is published again: what it counted goes.
      for (const endpoint of countedInBatch) endpoint.keptBackInBatch = 0;
      const counted: CachedEndpoint[] = (countedInBatch = []);
      const committed = () => {
        for (const endpoint of counted) {
          endpoint.keptBack += endpoint.keptBackInBatch;
          endpoint.keptBackInBatch = 0;
        }
        countedInBatch = []; // the relay schedules one batch at a time
      };
      const byTenant = await refresh(inBatch, [...new Set(events.map((event) => event.tenantId))]);
      const data: NewDelivery[] = [];
      for (const event of events) {
        const cached = byTenant.get(event.tenantId);
        if (!cached) continue;
        for (const endpoint of wantedBy(cached, event.type)) {
          if (endpoint.filter && !endpoint.filter(event)) {
            if (endpoint.keptBackInBatch++ === 0) counted.push(endpoint);
          } else
            data.push({
              id: newId('whdel'),
              tenantId: event.tenantId,
              endpointId: endpoint.id,
              eventId: event.id,
              eventType: event.type,
            });
        }
      }
      if (!data.length) return { created: 0, committed };
      const [{ created }] = await inBatch<{ created: number }>(insertDeliveries(data));
      return { created, committed };
    },

    /** Writes the counts of events filters kept back since the last write; kept for the next one if the write fails. */
    async writeKeptBack(): Promise<void> {
      const counts = takeKeptBack();
      if (!counts.size) return;
      try {
        await query(addFilteredOut(counts));
      } catch (err) {
        for (const [id, count] of counts) keptBackOfDropped.set(id, (keptBackOfDropped.get(id) ?? 0) + count);
        throw err;
      }
    },

    /** Events the endpoint's filter kept from it that this process has counted but not written yet. */
    keptBackOf(endpointId: string): number {
      return (keptBackOfDropped.get(endpointId) ?? 0) + (byId.get(endpointId)?.keptBack ?? 0);
    },
  };
}

export type DeliveryScheduler = ReturnType<typeof deliveryScheduler>;
