import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { adminService } from '../domain/admin.js';
import { DomainError } from '../domain/errors.js';
import { jobService } from '../domain/jobs.js';
import { runnerService } from '../domain/runners.js';

const USAGE = `Usage: npm run --silent admin -- <command> [options] [--json]

Commands:
  create-tenant --name <name> [--features accounting,communication]
  list-tenants
  set-features  --tenant <ten_…> --features <list>   (empty list switches all off)
  create-app    --tenant <ten_…> --name <name>        (prints the new API key once)
  list-apps     --tenant <ten_…>                      (fingerprints and status, never keys)
  rotate-key    --app <app_…>                         (new key printed once; old keys stop working)
  revoke-key    --app <app_…>
  create-runner --tenant <ten_…> --name <name>        (prints the new runner key once)
  list-runners  --tenant <ten_…>                      (fingerprints, status and job types, never keys)
  revoke-runner --runner <run_…>

Uses the same configuration as the server (DATABASE_URL, or the embedded data in DATA_DIR).`;

const { positionals, values } = parseCommandLine();

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        tenant: { type: 'string' },
        app: { type: 'string' },
        runner: { type: 'string' },
        features: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    // An unknown option or one missing its value: a usage error like the others, not a stack trace.
    const message = `${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`;
    console.error(process.argv.includes('--json') ? JSON.stringify({ error: { code: 'usage', message } }) : message);
    process.exit(2);
  }
}

const command = positionals[0];
if (values.help || !command) {
  console.log(USAGE);
  process.exit(command || values.help ? 0 : 2);
}

/** A mistake on the command line, found before the database is opened. */
class UsageError extends Error {}

type Operator = { admin: ReturnType<typeof adminService>; runners: ReturnType<typeof runnerService> };

const features = (list: string | undefined) => (list ?? '').split(',').map((f) => f.trim()).filter(Boolean);
const required = (name: 'name' | 'tenant' | 'app' | 'runner') => {
  const value = values[name];
  if (!value) throw new UsageError(`--${name} is required for ${command}.`);
  return value;
};

/** Checks the command line and returns the work to do, so a typo never opens (or creates) a database. */
function plan(): (operator: Operator) => Promise<unknown> {
  switch (command) {
    case 'create-tenant': {
      const name = required('name');
      return ({ admin }) => admin.createTenant({ name, features: features(values.features) });
    }
    case 'list-tenants':
      return ({ admin }) => admin.listTenants();
    case 'set-features': {
      const tenantId = required('tenant');
      return ({ admin }) => admin.setFeatures({ tenantId, features: features(values.features) });
    }
    case 'create-app': {
      const tenantId = required('tenant');
      const name = required('name');
      return ({ admin }) => admin.createApplication({ tenantId, name });
    }
    case 'list-apps': {
      const tenantId = required('tenant');
      return ({ admin }) => admin.listApplications(tenantId);
    }
    case 'rotate-key': {
      const app = required('app');
      return ({ admin }) => admin.rotateKey(app);
    }
    case 'revoke-key': {
      const app = required('app');
      return ({ admin }) => admin.revokeKeys(app);
    }
    case 'create-runner': {
      const tenantId = required('tenant');
      const name = required('name');
      return ({ runners }) => runners.createRunner(tenantId, name);
    }
    case 'list-runners': {
      const tenantId = required('tenant');
      return ({ runners }) => runners.listRunners(tenantId);
    }
    case 'revoke-runner': {
      const runner = required('runner');
      return ({ runners }) => runners.revokeRunner(runner);
    }
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

try {
  const run = plan();
  const config = loadConfig();
  const database = await openDatabase(config);
  try {
    const { prisma } = database;
    print(await run({ admin: adminService(prisma), runners: runnerService(prisma, jobService(prisma), config.jobs.leaseMs) }));
  } finally {
    await database.close();
  }
} catch (error) {
  if (error instanceof UsageError) fail(error.message, 'usage');
  if (error instanceof DomainError) fail(error.message, error.code);
  fail(error instanceof Error ? error.message : String(error), 'error');
}

function print(result: unknown) {
  if (values.json) {
    console.log(JSON.stringify(result));
    return;
  }
  console.log(JSON.stringify(result, null, 2));
  if (result && typeof result === 'object' && 'apiKey' in result) {
    console.error('\nThe API key above is shown only once: store it now.');
  }
  if (result && typeof result === 'object' && 'runnerKey' in result) {
    console.error('\nThe runner key above is shown only once: store it now.');
  }
}

function fail(message: string, code: string): never {
  if (values.json) console.error(JSON.stringify({ error: { code, message } }));
  else console.error(message);
  process.exit(code === 'usage' ? 2 : 1);
}
