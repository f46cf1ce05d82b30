// The embedded data folder's lock, and the address its gateway advertises: kept apart from
// database.ts so the admin CLI can find a running gateway without loading a database driver.
import { linkSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

const LOCK_FILE = 'gateway.lock';
/** `{ pid, url }` of the gateway holding the folder, written once it listens: where the admin CLI sends commands. */
const URL_FILE = 'gateway.url';

/** Data folders whose lock this process holds (a restarted container may get the same pid again). */
const heldDataDirs = new Set<string>();

/**
 * The pid of the live process holding `dataDir`, or null when it is free (no lock file, or one
 * left behind by a process that is gone).
 */
export function dataDirHolder(dataDir: string): number | null {
  const dir = path.resolve(dataDir);
  return liveHolder(dir, readLockPid(path.join(dir, LOCK_FILE)));
}

/**
 * Records where the gateway holding `dataDir` listens (a wildcard address as loopback, where the
 * admin API answers without a token); removed with the lock.
 */
export function advertiseGateway(dataDir: string, listening: AddressInfo): void {
  const ipv6 = listening.family === 'IPv6';
  const host = listening.address === '0.0.0.0' ? '127.0.0.1' : listening.address === '::' ? '::1' : listening.address;
  const url = `http://${ipv6 && !host.includes('.') ? `[${host}]` : host}:${listening.port}`;
  const file = path.join(path.resolve(dataDir), URL_FILE);
  writeFileSync(`${file}.${process.pid}`, JSON.stringify({ pid: process.pid, url }));
  renameSync(`${file}.${process.pid}`, file); // readers never see half a file
}

/** The URL advertised by process `pid` for `dataDir`, or null while it has none (still starting). */
export function advertisedGateway(dataDir: string, pid: number): string | null {
  try {
    const advertised = JSON.parse(readFileSync(path.join(path.resolve(dataDir), URL_FILE), 'utf8')) as {
      pid?: unknown;
      url?: unknown;
    };
    return advertised.pid === pid && typeof advertised.url === 'string' ? advertised.url : null;
  } catch {
    return null; // absent, or left half-written by a process that died
  }
}

function liveHolder(dataDir: string, pid: number | null): number | null {
  if (pid === null) return null;
  if (pid === process.pid) return heldDataDirs.has(dataDir) ? pid : null;
  return isAlive(pid) ? pid : null;
}

/**
 * PGlite is a single-process database: two processes opening one folder would corrupt it.
 * Takes `<dataDir>/gateway.lock` (holding our pid) and returns the function that releases it.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lockPath = path.join(dataDir, LOCK_FILE);

  // Written aside then hard-linked into place: the lock appears atomically, pid included.
  const draft = `${lockPath}.${process.pid}`;
  writeFileSync(draft, String(process.pid));
  try {
    for (;;) {
      try {
        linkSync(draft, lockPath); // fails if the lock exists
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const pid = readLockPid(lockPath);
      const holder = liveHolder(dataDir, pid);
      if (holder !== null) {
        throw new Error(
          `Data folder ${dataDir} is in use by process ${holder}. Stop that gateway first, ` +
            `or set DATABASE_URL to use a PostgreSQL server. If no such process runs, delete ${lockPath}.`,
        );
      }
      // Stale: its process is gone. Delete it unless another starting process has just replaced it.
      if (readLockPid(lockPath) === pid) unlinkIfExists(lockPath);
    }
  } finally {
    unlinkIfExists(draft);
  }

  heldDataDirs.add(dataDir);
  return () => {
    if (!heldDataDirs.delete(dataDir)) return; // already released
    if (readLockPid(lockPath) !== process.pid) return;
    if (advertisedGateway(dataDir, process.pid) !== null) unlinkIfExists(path.join(dataDir, URL_FILE));
    unlinkIfExists(lockPath);
  };
}

function readLockPid(lockPath: string): number | null {
  let text: string;
  try {
    text = readFileSync(lockPath, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  const pid = Number.parseInt(text.trim(), 10);
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0 only checks that the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, but belongs to another user
  }
}

function unlinkIfExists(file: string): void {
  try {
    unlinkSync(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
