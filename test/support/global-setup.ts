import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { projectRoot } from '../../src/db/migration-folders.js';
import { runOnServer } from './postgres.js';
import { scratchDir } from './scratch.js';

// Work every test file of a run would otherwise repeat, done once before the workers start:
// - the gateway and CLIs built with `npm run build` (into a folder of this run's own, since the
//   `npm start` suite rebuilds dist/): child processes start from JavaScript instead of
//   transpiling src/ through tsx at every start;
// - one migrated database that each file's database is copied from: a PGlite folder (initdb and
//   the migrations take seconds, a copy a fraction of that), or a PostgreSQL template database.
// The service and contract projects both list this file: the work is shared through the process.

declare module 'vitest' {
  export interface ProvidedContext {
    /** Holds main.js, cli/admin.js, cli/runner.js and db/cli.js as `npm run build` writes them. */
    builtDir: string;
    /** A migrated PGlite folder (embedded mode; '' with DATABASE_URL), to copy, never to open. */
    pgliteTemplate: string;
    /** A migrated PostgreSQL database to CREATE DATABASE … TEMPLATE from ('' in embedded mode). */
    postgresTemplate: string;
  }
}

type Prepared = { context: { builtDir: string; pgliteTemplate: string; postgresTemplate: string }; users: number };
const shared = globalThis as typeof globalThis & { niloTestSetup?: Promise<Prepared> };

export default async function setup(project: TestProject) {
  shared.niloTestSetup ??= prepare();
  const prepared = await shared.niloTestSetup;
  prepared.users += 1;
  for (const [key, value] of Object.entries(prepared.context)) project.provide(key as 'builtDir', value);
  return async () => {
    prepared.users -= 1;
    if (prepared.users === 0) await cleanUp(prepared.context);
  };
}

// Named after the run's process, so that a later run removes what an interrupted one left.
const DIST_PREFIX = 'nilo-test-dist-';
const TEMPLATE_PREFIX = 'nilo_test_template_';

async function prepare(): Promise<Prepared> {
  // Under the project so that the bundles' package imports resolve from its node_modules.
  const cache = path.join(projectRoot, 'node_modules', '.cache');
  mkdirSync(cache, { recursive: true });
  for (const entry of readdirSync(cache).filter((name) => name.startsWith(DIST_PREFIX)))
    if (!alive(Number(entry.slice(DIST_PREFIX.length).split('-')[0])))
      rmSync(path.join(cache, entry), { recursive: true });
  const builtDir = mkdtempSync(path.join(cache, `${DIST_PREFIX}${process.pid}-`));
  const databaseUrl = process.env.DATABASE_URL;
  const [, pgliteTemplate, postgresTemplate] = await Promise.all([
    promisify(execFile)('npm', ['run', 'build', '--silent', '--', `--outdir=${builtDir}`], { cwd: projectRoot }),
    databaseUrl ? '' : migratedPGlite(),
    databaseUrl ? migratedPostgres(databaseUrl) : '',
  ]);
  return { context: { builtDir, pgliteTemplate, postgresTemplate }, users: 0 };
}

/** Opens (so creates and migrates) a PGlite data folder; answers the PGlite folder inside it. */
async function migratedPGlite(): Promise<string> {
  const dataDir = scratchDir('nilo-test-template-');
  const db = await openDatabase(loadConfig({ DATA_DIR: dataDir }));
  await db.close();
  return path.join(dataDir, 'pglite');
}

/** Migrates the run's shared database, and a template database that files copy their own from. */
async function migratedPostgres(serverUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [
    `${TEMPLATE_PREFIX}%`,
  ]);
  await client.end();
  for (const { datname } of rows)
    if (!alive(Number(datname.slice(TEMPLATE_PREFIX.length).split('_')[0])))
      await runOnServer(serverUrl, `DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);

  const name = `${TEMPLATE_PREFIX}${process.pid}_${Date.now()}`;
  await runOnServer(serverUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const [template, sharedDb] = await Promise.all([
    openDatabase(loadConfig({ DATABASE_URL: url.toString() })),
    openDatabase(loadConfig({ DATABASE_URL: serverUrl })),
  ]);
  await Promise.all([template.close(), sharedDb.close()]);
  return name;
}

async function cleanUp({ builtDir, pgliteTemplate, postgresTemplate }: Prepared['context']) {
  rmSync(builtDir, { recursive: true, force: true });
  if (pgliteTemplate) rmSync(path.dirname(pgliteTemplate), { recursive: true, force: true });
  if (postgresTemplate && process.env.DATABASE_URL)
    await runOnServer(process.env.DATABASE_URL, `DROP DATABASE IF EXISTS "${postgresTemplate}" WITH (FORCE)`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // alive, someone else's
  }
}
