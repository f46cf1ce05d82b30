import { describe, expect, test } from 'vitest';
import { InvalidIdError } from '../../src/core/errors.js';
import { ID_PREFIX, isId, newId, parseId } from '../../src/core/ids.js';

// Public ids are "<prefix>_<ULID>": typed by their prefix, sortable by creation time.

describe('ids', () => {
  test('newId: the prefix, an underscore and a 26-character ULID', () => {
    for (const prefix of Object.values(ID_PREFIX)) {
      const id = newId(prefix);
      expect(id).toMatch(new RegExp(`^${prefix}_[0-7][0-9A-HJKMNP-TV-Z]{25}$`));
      expect(isId(prefix, id)).toBe(true);
    }
  });

  test('ids made one after another sort in creation order, within a millisecond too', () => {
    const ids = Array.from({ length: 1000 }, () => newId('contact'));
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('isId: the prefix must be the one asked for and the ULID well formed', () => {
    const id = newId('inv');
    expect(isId('inv', id)).toBe(true);
    expect(isId('invl', id)).toBe(false); // a prefix that starts the same is another kind
    expect(isId('contact', id)).toBe(false);
    const ulid = id.slice('inv_'.length);
    for (const bad of [
      `inv${ulid}`, // no underscore
      `inv_${ulid.toLowerCase()}`, // Crockford base32 is upper case here
      `inv_${ulid.slice(1)}`, // 25 characters
      `inv_${ulid}0`, // 27
      `inv_8${ulid.slice(1)}`, // beyond the 48-bit time range
      `inv_${ulid.slice(0, -1)}I`, // I, L, O and U are not in the alphabet
      `inv_${ulid.slice(0, -1)}U`,
      '',
      'inv_',
    ]) {
      expect(isId('inv', bad), bad).toBe(false);
    }
  });

  test('parseId returns a well-formed id, and refuses any other as 400 invalid_id naming the path', () => {
    const id = newId('whep');
    expect(parseId('whep', id)).toBe(id);
    try {
      parseId('whep', 'whep_nope', 'endpointId');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(InvalidIdError);
      const refusal = error as InvalidIdError;
      expect(refusal.status).toBe(400);
      expect(refusal.code).toBe('invalid_id');
      expect(refusal.message).toBe('"whep_nope" is not a valid whep_ id.');
      expect(refusal.errors).toEqual([
        { path: 'endpointId', message: 'must be "whep_" followed by a 26-character ULID' },
      ]);
    }
    expect(() => parseId('whep', newId('job'))).toThrow(InvalidIdError);
    expect(() => parseId('job', 'x')).toThrow(
      expect.objectContaining({ errors: [{ path: 'id', message: 'must be "job_" followed by a 26-character ULID' }] }),
    );
  });
});
