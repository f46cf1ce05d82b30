import { accessSync, constants, mkdtempSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

// Test databases live in temporary folders: in memory (/dev/shm) where the machine has room
// there, since PGlite writes every page through the file system and a migrated folder (40 MB,
// a thousand files) copies ten times faster there than to disk; else in the system's tmpdir.

const MIN_FREE_BYTES = 4 * 1024 ** 3;

const root = (() => {
  try {
    accessSync('/dev/shm', constants.W_OK);
    const { bavail, bsize } = statfsSync('/dev/shm');
    return bavail * bsize >= MIN_FREE_BYTES ? '/dev/shm' : tmpdir();
  } catch {
    return tmpdir();
  }
})();

/** A new empty folder for test data, named `prefix` + random characters. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(path.join(root, prefix));
}
