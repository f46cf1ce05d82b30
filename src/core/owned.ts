import { NotFoundError } from './errors.js';
import { type IdPrefix, parseId } from './ids.js';

/**
 * A tenant-owned resource kind: the name a 404 gives it, the prefix its ids carry, and the field a
 * malformed id is reported under (default "id").
 */
export type OwnedResource = { name: string; prefix: IdPrefix; path?: string };

/**
 * The caller's tenant's row with this id, else 404 not_found. `find` gets the only where clause
 * a tenant-owned lookup may use: the parsed id (400 invalid_id when malformed) and the tenant,
 * so another tenant's row answers exactly as a missing one and ids never leak across tenants.
 */
export async function ownedOrNotFound<Row>(
  resource: OwnedResource,
  auth: { tenantId: string },
  id: string,
  find: (where: { id: string; tenantId: string }) => Promise<Row | null>,
): Promise<Row> {
  const row = await find({ id: parseId(resource.prefix, id, resource.path), tenantId: auth.tenantId });
  if (!row) throw new NotFoundError(resource.name, id);
  return row;
}
