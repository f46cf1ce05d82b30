import { describe, expect, test } from 'vitest';
import { InvalidIdError, NotFoundError } from '../../src/core/errors.js';
import { ownedOrNotFound, type OwnedResource } from '../../src/core/owned.js';

// The one tenant-scoped "row or 404": the lookup sees the parsed id and the caller's tenant only.

const CONTACT: OwnedResource = { name: 'Contact', prefix: 'contact' };
const ID = 'contact_01JAAAAAAAAAAAAAAAAAAAAAAA';
const auth = { tenantId: 'ten_01JAAAAAAAAAAAAAAAAAAAAAAA' };

describe('ownedOrNotFound', () => {
  test("finds by the id and the caller's tenant, and returns the row", async () => {
    const seen: unknown[] = [];
    const row = { id: ID, name: 'Jane' };
    const found = await ownedOrNotFound(CONTACT, auth, ID, async (where) => {
      seen.push(where);
      return row;
    });
    expect(found).toBe(row);
    expect(seen).toEqual([{ id: ID, tenantId: auth.tenantId }]);
  });

  test("no row (missing, or another tenant's) is 404 naming the resource and the id", async () => {
    const missing = ownedOrNotFound(CONTACT, auth, ID, async () => null);
    await expect(missing).rejects.toBeInstanceOf(NotFoundError);
    await expect(missing).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
      message: `Contact ${ID} was not found.`,
    });
  });

  test('a malformed id is 400 invalid_id, and the database is never asked', async () => {
    let asked = false;
    const find = async () => {
      asked = true;
      return {};
    };
    await expect(ownedOrNotFound(CONTACT, auth, 'inv_01JAAAAAAAAAAAAAAAAAAAAAAA', find)).rejects.toBeInstanceOf(
      InvalidIdError,
    );
    await expect(ownedOrNotFound(CONTACT, auth, 'nope', find)).rejects.toMatchObject({
      code: 'invalid_id',
      errors: [{ path: 'id', message: 'must be "contact_" followed by a 26-character ULID' }],
    });
    expect(asked).toBe(false);
  });

  test('a resource may name the field its id is reported under', async () => {
    const job: OwnedResource = { name: 'Job', prefix: 'job', path: 'jobId' };
    await expect(ownedOrNotFound(job, auth, 'job_x', async () => null)).rejects.toMatchObject({
      errors: [{ path: 'jobId', message: 'must be "job_" followed by a 26-character ULID' }],
    });
    await expect(ownedOrNotFound(job, auth, 'job_01JAAAAAAAAAAAAAAAAAAAAAAA', async () => null)).rejects.toMatchObject({
      message: 'Job job_01JAAAAAAAAAAAAAAAAAAAAAAA was not found.',
    });
  });
});
