import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { openDatabase } from '../db/database.js';
import { adminService } from '../domain/admin.js';
import { DomainError } from '../domain/errors.js';

const USAGE = `Usage: npm run --silent admin -- <command> [options] [--json]

Commands:
  create-tenant --name <name> [--features accounting,communication]
  list-tenants
  set-features  --tenant <ten_…> --features <list>   (empty list switches all off)
  create-app    --tenant <ten_…> --name <name>        (prints the new API key once)
  list-apps     --tenant <ten_…>                      (fingerprints and status, never keys)
  rotate-key    --app <app_…>                         (new key printed once; old keys stop working)
  revoke-key    --app <app_…>

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

/** A mistake on the command line; thrown (not exited on) so the database is closed first. */
class UsageError extends Error {}

const features = (list: string | undefined) => (list ?? '').split(',').map((f) => f.trim()).filter(Boolean);
const required = (name: 'name' | 'tenant' | 'app') => {
  const value = values[name];
  if (!value) throw new UsageError(`--${name} is required for ${command}.`);
  return value;
};

try {
  const database = await openDatabase(loadConfig());
  try {
    const admin = adminService(database.prisma);
    const commands: Record<string, () => Promise<unknown>> = {
      'create-tenant': () => admin.createTenant({ name: required('name'), features: features(values.features) }),
      'list-tenants': () => admin.listTenants(),
      'set-features': () => admin.setFeatures({ tenantId: required('tenant'), features: features(values.features) }),
      'create-app': () => admin.createApplication({ tenantId: required('tenant'), name: required('name') }),
      'list-apps': () => admin.listApplications(required('tenant')),
      'rotate-key': () => admin.rotateKey(required('app')),
      'revoke-key': () => admin.revokeKeys(required('app')),
    };
    const run = commands[command];
    if (!run) throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
    print(await run());
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
}

function fail(message: string, code: string): never {
  if (values.json) console.error(JSON.stringify({ error: { code, message } }));
  else console.error(message);
  process.exit(code === 'usage' ? 2 : 1);
}
