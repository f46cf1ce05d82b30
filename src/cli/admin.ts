import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from '../config.js';
import { advertisedGateway, dataDirHolder } from '../db/data-dir.js';
import type { Services } from '../services.js';
import {
  exportTenant,
  importTenant,
  isReadableFile,
  progressBar,
  saveAnswer,
  uploadRequest,
  type TransferRequest,
} from './transfer.js';

// Each command runs on the admin API of a gateway (/admin/v1) when one is named (--url,
// ADMIN_URL) or holds the embedded data folder, else on the database itself through the same
// domain services. The database modules load only in the second case: a call through a gateway
// starts in a fraction of the time.

const USAGE = `Usage: npm run --silent admin -- <command> [options] [--json]

Commands:
  create-tenant --name <name> [--features accounting,communication]
  list-tenants
  export-tenant --tenant <ten_…> --out <file> [--include-secrets] [--include-events]
                                                      (the tenant as an NDJSON file; secrets: webhook signing
                                                      secrets and runner key hashes)
  import-tenant --tenant <ten_…> --file <file>        (an export into a tenant without contacts or invoices)
  set-features  --tenant <ten_…> --features <list>   (empty list switches all off)
  create-app    --tenant <ten_…> --name <name>        (prints the new API key once)
  list-apps     --tenant <ten_…>                      (fingerprints and status, never keys)
  rotate-key    --app <app_…>                         (new key printed once; old keys stop working)
  revoke-key    --app <app_…>
  create-runner --tenant <ten_…> --name <name>        (prints the new runner key once)
  list-runners  --tenant <ten_…>                      (fingerprints, status and job types, never keys)
  revoke-runner --runner <run_…>
  demo-key                                            (a new key for the demo application; the lost one stops working)
  set-seller-profile --tenant <ten_…> [--from-json <file>] [profile options]
                                                      (sets the whole profile the invoice PDFs print: the JSON
                                                      file's fields, each option replacing its field)
  show-seller-profile   --tenant <ten_…>
  remove-seller-profile --tenant <ten_…>

Seller profile options (the JSON fields in brackets):
  --legal-name <text> (legalName)   --address-line <text>, repeatable (addressLines)   --city <text>
  --postal-code <text>   --region <text>   --country <ISO 3166 alpha-2>   --vat-id <text>   --tax-id <text>
  --email <address>   --phone <text>   --currency <ISO 4217> (defaultCurrency)   --iban <IBAN>   --bic <BIC>
  --bank-name <text>   --payment-terms <text>   --logo <PNG or JPEG file>   --no-logo (removes the logo)

Options:
  --url <gateway URL>   send the command to that gateway's admin API (default: ADMIN_URL)
  --json                one line of JSON on stdout; errors as {"error": {code, message}} on stderr

Uses the same configuration as the server (DATABASE_URL, or the embedded data in DATA_DIR, and
ADMIN_TOKEN). While a gateway holds DATA_DIR, commands go through its admin API.`;

/** The seller profile's single-value options and the JSON fields they set. */
const PROFILE_OPTIONS = {
  'legal-name': 'legalName',
  city: 'city',
  'postal-code': 'postalCode',
  region: 'region',
  country: 'country',
  'vat-id': 'vatId',
  'tax-id': 'taxId',
  email: 'email',
  phone: 'phone',
  currency: 'defaultCurrency',
  iban: 'iban',
  bic: 'bic',
  'bank-name': 'bankName',
  'payment-terms': 'paymentTerms',
} as const;

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
        out: { type: 'string' },
        file: { type: 'string' },
        'include-secrets': { type: 'boolean', default: false },
        'include-events': { type: 'boolean', default: false },
        features: { type: 'string' },
        'from-json': { type: 'string' },
        ...(Object.fromEntries(Object.keys(PROFILE_OPTIONS).map((option) => [option, { type: 'string' }])) as {
          [option in keyof typeof PROFILE_OPTIONS]: { type: 'string' };
        }),
        'address-line': { type: 'string', multiple: true },
        logo: { type: 'string' },
        'no-logo': { type: 'boolean', default: false },
        url: { type: 'string' },
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

/** A refusal with its code: the domain's (a problem's `code` through the API) or `error`. */
class CommandError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/** One admin API request; a file to upload or to save the answer to for the transfer commands. */
type GatewayRequest = { method: 'GET' | 'POST' | 'PUT' | 'DELETE'; path: string; body?: unknown } & Pick<
  TransferRequest,
  'upload' | 'download'
>;

/**
 * One command: the admin API request that does it (or, for a command of several requests, the
 * steps that make them), and the same on the domain services.
 */
type Command = {
  request: GatewayRequest | ((call: (request: GatewayRequest) => Promise<unknown>) => Promise<unknown>);
  direct: (services: Services) => Promise<unknown>;
};

const features = (list: string | undefined) =>
  (list ?? '')
    .split(',')
    .map((f) => f.trim())
    .filter(Boolean);
const required = (name: 'name' | 'tenant' | 'app' | 'runner' | 'out' | 'file') => {
  const value = values[name];
  if (!value) throw new UsageError(`--${name} is required for ${command}.`);
  return value;
};

function readCommandFile(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`Cannot read ${what} ${path}: ${error instanceof Error ? error.message : error}`);
  }
}

/** The profile to set: the --from-json file's object, then each option over its field. The service checks it. */
function sellerProfileBody(): Record<string, unknown> {
  const file = values['from-json'];
  let body: Record<string, unknown> = {};
  if (file) {
    const parsed: unknown = (() => {
      try {
        return JSON.parse(readCommandFile(file, 'the JSON file').toString('utf8'));
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw new UsageError(`${file} is not JSON: ${error instanceof Error ? error.message : error}`);
      }
    })();
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new UsageError(`${file} must hold one JSON object (the seller profile's fields).`);
    body = { ...parsed };
  }
  for (const [option, field] of Object.entries(PROFILE_OPTIONS)) {
    const value = values[option as keyof typeof PROFILE_OPTIONS];
    if (value !== undefined) body[field] = value;
  }
  if (values['address-line']) body.addressLines = values['address-line'];
  if (values.logo && values['no-logo']) throw new UsageError('--logo and --no-logo exclude each other.');
  if (values.logo) body.logo = readCommandFile(values.logo, 'the logo').toString('base64');
  if (values['no-logo']) body.logo = null;
  return body;
}

/** Checks the command line and returns the work to do, so a typo never opens (or creates) a database. */
function plan(): Command {
  const id = (name: 'tenant' | 'app' | 'runner') => encodeURIComponent(required(name));
  switch (command) {
    case 'create-tenant': {
      const input = { name: required('name'), features: features(values.features) };
      return {
        request: { method: 'POST', path: '/tenants', body: input },
        direct: ({ admin }) => admin.createTenant(input),
      };
    }
    case 'list-tenants':
      return { request: { method: 'GET', path: '/tenants' }, direct: ({ admin }) => admin.listTenants() };
    case 'set-features': {
      const input = { tenantId: required('tenant'), features: features(values.features) };
      return {
        request: { method: 'PUT', path: `/tenants/${id('tenant')}/features`, body: { features: input.features } },
        direct: ({ admin }) => admin.setFeatures(input),
      };
    }
    case 'create-app': {
      const input = { tenantId: required('tenant'), name: required('name') };
      return {
        request: { method: 'POST', path: `/tenants/${id('tenant')}/applications`, body: { name: input.name } },
        direct: ({ admin }) => admin.createApplication(input),
      };
    }
    case 'list-apps': {
      const tenantId = required('tenant');
      return {
        request: { method: 'GET', path: `/tenants/${id('tenant')}/applications` },
        direct: ({ admin }) => admin.listApplications(tenantId),
      };
    }
    case 'rotate-key': {
      const app = required('app');
      return {
        request: { method: 'POST', path: `/applications/${id('app')}/keys` },
        direct: ({ admin }) => admin.rotateKey(app),
      };
    }
    case 'revoke-key': {
      const app = required('app');
      return {
        request: { method: 'DELETE', path: `/applications/${id('app')}/keys` },
        direct: ({ admin }) => admin.revokeKeys(app),
      };
    }
    case 'create-runner': {
      const tenantId = required('tenant');
      const name = required('name');
      return {
        request: { method: 'POST', path: `/tenants/${id('tenant')}/runners`, body: { name } },
        direct: ({ runners }) => runners.createRunner(tenantId, name),
      };
    }
    case 'list-runners': {
      const tenantId = required('tenant');
      return {
        request: { method: 'GET', path: `/tenants/${id('tenant')}/runners` },
        direct: ({ runners }) => runners.listRunners(tenantId),
      };
    }
    case 'revoke-runner': {
      const runner = required('runner');
      return {
        request: { method: 'DELETE', path: `/runners/${id('runner')}` },
        direct: ({ runners }) => runners.revokeRunner(runner),
      };
    }
    case 'set-seller-profile': {
      const tenantId = required('tenant');
      const body = sellerProfileBody();
      return {
        request: { method: 'PUT', path: `/tenants/${id('tenant')}/seller-profile`, body },
        direct: ({ sellerProfiles }) => sellerProfiles.put(tenantId, body),
      };
    }
    case 'show-seller-profile': {
      const tenantId = required('tenant');
      return {
        request: { method: 'GET', path: `/tenants/${id('tenant')}/seller-profile` },
        direct: ({ sellerProfiles }) => sellerProfiles.show(tenantId),
      };
    }
    case 'remove-seller-profile': {
      const tenantId = required('tenant');
      return {
        request: { method: 'DELETE', path: `/tenants/${id('tenant')}/seller-profile` },
        direct: ({ sellerProfiles }) => sellerProfiles.remove(tenantId),
      };
    }
    case 'export-tenant':
      return exportTenant({
        tenantId: required('tenant'),
        out: required('out'),
        includeSecrets: values['include-secrets'],
        includeEvents: values['include-events'],
        progress: progressBar(!values.json && process.stderr.isTTY, 'Exporting'),
        failure: (message, code) => new CommandError(message, code),
      });
    case 'import-tenant': {
      const file = required('file');
      if (!isReadableFile(file)) throw new UsageError(`Cannot read ${file}.`);
      return importTenant({
        tenantId: required('tenant'),
        file,
        progress: progressBar(!values.json && process.stderr.isTTY, 'Importing'),
        failure: (message, code) => new CommandError(message, code),
      });
    }
    case 'demo-key':
      return { request: { method: 'POST', path: '/demo-key' }, direct: ({ admin }) => admin.replaceDemoKey() };
    default:
      throw new UsageError(`Unknown command "${command}".\n\n${USAGE}`);
  }
}

/** How long a command waits for a gateway that holds the data folder but does not listen yet (it is starting). */
const GATEWAY_START_WAIT_MS = 30_000;

/** The gateway to send the command to, or null to open the database here. */
async function gatewayUrl(config: Config): Promise<string | null> {
  const named = values.url ?? config.adminUrl;
  if (named) return named;
  if (config.databaseUrl) return null;
  const deadline = Date.now() + GATEWAY_START_WAIT_MS;
  for (;;) {
    const holder = dataDirHolder(config.dataDir);
    if (holder === null) return null;
    const url = advertisedGateway(config.dataDir, holder);
    if (url) return url;
    if (Date.now() > deadline) {
      throw new Error(
        `Data folder ${config.dataDir} is in use by process ${holder}, which does not answer admin commands (it advertised no address). Stop it, or pass --url.`,
      );
    }
    await sleep(200);
  }
}

/** A command's requests through the gateway at `url`. */
function viaGateway(url: string, request: Command['request'], token: string | undefined): Promise<unknown> {
  return typeof request === 'function'
    ? request((step) => throughGateway(url, step, token))
    : throughGateway(url, request, token);
}

async function throughGateway(
  url: string,
  { method, path, body, upload, download }: GatewayRequest,
  token: string | undefined,
): Promise<unknown> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const target = `${url.replace(/\/+$/, '')}/admin/v1${path}`;
  let response: Response;
  try {
    response = await fetch(
      target,
      upload
        ? { method, ...uploadRequest(upload, headers) }
        : { method, headers, body: body === undefined ? undefined : JSON.stringify(body) },
    );
  } catch (error) {
    throw new Error(
      `Cannot reach the gateway at ${url}: ${error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : error}`,
    );
  }
  if (response.ok && download) return saveAnswer(response, download);
  const answer = (await response.json().catch(() => null)) as { code?: string; detail?: string } | null;
  if (response.ok) return answer;
  throw new CommandError(answer?.detail ?? `The gateway answered ${response.status}.`, answer?.code ?? 'error');
}

async function onDatabase(config: Config, direct: Command['direct']): Promise<unknown> {
  // The services as the server composes them (createServices), loaded only on this path.
  const [{ openDatabase }, { createServices }, { DomainError }] = await Promise.all([
    import('../db/database.js'),
    import('../services.js'),
    import('../core/errors.js'),
  ]);
  const database = await openDatabase(config);
  try {
    return await direct(createServices(database.prisma, config, database.query));
  } catch (error) {
    if (error instanceof DomainError) throw new CommandError(error.message, error.code);
    throw error;
  } finally {
    await database.close();
  }
}

try {
  const { request, direct } = plan();
  const config = loadConfig();
  const url = await gatewayUrl(config);
  print(url ? await viaGateway(url, request, config.adminToken) : await onDatabase(config, direct));
} catch (error) {
  if (error instanceof UsageError) fail(error.message, 'usage');
  if (error instanceof CommandError) fail(error.message, error.code);
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
