import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { sleep } from './support/problem.js';
import { fingerprintOf, json, refused, runAdmin, type Run } from './support/cli.js';
import { startGateway, stopGateway, type GatewayProcess } from './support/processes.js';
import { scratchDir } from './support/scratch.js';

// The admin CLI and the gateway as real subprocesses (node --import tsx, cwd = project root), on a
// temporary embedded data folder, or on DATABASE_URL when it is set.

const PG = Boolean(process.env.DATABASE_URL);
const ULID = '[0-9A-HJKMNP-TV-Z]{26}';
const scratch = scratchDir('nilo-cli-test-');

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
});

/** The environment of a child: embedded (no DATABASE_URL) on dataDir, or the PostgreSQL of this run. */
function childEnv(dataDir: string | null, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', NODE_ENV: 'development', ...extra };
  if (dataDir) {
    delete env.DATABASE_URL;
    env.DATA_DIR = dataDir;
  } else {
    env.DATA_DIR = path.join(scratch, 'unused'); // must stay untouched in PostgreSQL mode
  }
  return env;
}

const run = runAdmin;

/** Several commands: side by side on PostgreSQL, in turn on an embedded folder (one process at a time). */
async function runEach(commands: string[][], env: NodeJS.ProcessEnv): Promise<Run[]> {
  if (PG) return Promise.all(commands.map((args) => run(args, env)));
  const results: Run[] = [];
  for (const args of commands) results.push(await run(args, env));
  return results;
}

async function hello(url: string, key: string) {
  const res = await fetch(`${url}/api/v1/hello`, { headers: { authorization: `Bearer ${key}` } });
  return { status: res.status, body: await res.json() };
}

const DEMO_KEY = /Its API key is shown only this once:\s+(nilo_ak_\S+)/;
type Replaced = { run: Run; oldKey: number; newKey?: number };
type FirstStart = {
  url: string;
  output: string;
  key?: string;
  hello?: { status: number; body: any };
  replaced?: Replaced;
  exitCode: unknown;
  /** The start after a first start that created the demo tenant. */
  restartOutput?: string;
  tenants: Run;
};
const DEMO_KEY_HINT = 'Lost the demo key? npm run --silent admin -- demo-key';

/**
 * Starts a gateway on a fresh embedded folder, tries the demo key if it prints one and replaces it
 * with `demo-key` (through the running gateway), stops it, lists the tenants (through the
 * gateway started again when there is a demo tenant, whose start output must name `demo-key`).
 */
async function firstStart(folder: string, extra: Record<string, string>): Promise<FirstStart> {
  const dataDir = path.join(scratch, folder);
  const gateway = await startGateway(childEnv(dataDir, extra));
  // The demo tenant is printed right after the server starts listening.
  const deadline = Date.now() + (extra.NODE_ENV === 'production' ? 1_000 : 60_000);
  while (!DEMO_KEY.test(gateway.output()) && Date.now() < deadline) await sleep(100);
  const key = DEMO_KEY.exec(gateway.output())?.[1];
  const helloResult = key ? await hello(gateway.url, key) : undefined;
  let replaced: Replaced | undefined;
  if (key) {
    const demoKey = await run(['demo-key', '--json'], childEnv(dataDir, extra));
    const newKey = demoKey.code === 0 ? JSON.parse(demoKey.stdout).apiKey : undefined;
    replaced = {
      run: demoKey,
      oldKey: (await hello(gateway.url, key)).status,
      newKey: newKey && (await hello(gateway.url, newKey)).status,
    };
  }
  gateway.proc.kill('SIGTERM');
  const exitCode = await Promise.race([gateway.exited, sleep(20_000).then(() => 'still running')]);
  const again = key ? await startGateway(childEnv(dataDir, extra)) : undefined;
  const tenants = await run(['list-tenants', '--json'], childEnv(dataDir));
  if (again) {
    const hinted = Date.now() + 30_000;
    while (!again.output().includes(DEMO_KEY_HINT) && Date.now() < hinted) await sleep(100);
    await stopGateway(again);
  }
  return {
    url: gateway.url,
    output: gateway.output(),
    key,
    hello: helloResult,
    replaced,
    exitCode,
    restartOutput: again?.output(),
    tenants,
  };
}

const firstStarts = {} as Record<'demo' | 'production', Promise<FirstStart>>;
beforeAll(() => {
  firstStarts.demo = firstStart('demo', {});
  firstStarts.production = firstStart('production', { NODE_ENV: 'production' });
  for (const started of Object.values(firstStarts)) started.catch(() => {}); // reported by the tests that await them
});

describe('admin CLI and gateway on one database', { timeout: 180_000 }, () => {
  const dataDir = PG ? null : path.join(scratch, 'data');
  const env = childEnv(dataDir);
  const lockFile = dataDir && path.join(dataDir, 'gateway.lock');
  const tenantName = `Acme ${Date.now()}`; // unique: PostgreSQL may hold tenants of earlier runs
  let tenantId: string;
  const apps = {} as Record<
    'erp' | 'revoked' | 'rotated',
    { applicationId: string; apiKey: string; fingerprint: string }
  >;
  let rotatedKey: { apiKey: string; fingerprint: string };

  test('create-tenant prints the tenant, features normalized', async () => {
    const out = await run(
      ['create-tenant', '--name', tenantName, '--features', 'communication,accounting,communication', '--json'],
      env,
    );
    expect(out.stdout).toMatch(
      new RegExp(
        `^\\{"tenantId":"ten_${ULID}","name":"${tenantName}","features":\\["accounting","communication"\\]\\}\\n$`,
      ),
    );
    tenantId = json(out).tenantId;
    if (lockFile) expect(existsSync(lockFile), 'the CLI released the data folder').toBe(false);
  });

  test('create-app prints a new key once, with its fingerprint', async () => {
    const names = { erp: 'ERP Sync', revoked: 'Old integration', rotated: 'Rotating app' } as const;
    const runs = await runEach(
      Object.values(names).map((name) => ['create-app', '--tenant', tenantId, '--name', name, '--json']),
      env,
    );
    for (const [i, [which, name]] of (Object.entries(names) as [keyof typeof names, string][]).entries()) {
      const app = json(runs[i]!);
      expect(Object.keys(app).sort()).toEqual([
        'apiKey',
        'applicationId',
        'applicationName',
        'fingerprint',
        'tenantId',
      ]);
      expect(app).toMatchObject({ applicationName: name, tenantId });
      expect(app.applicationId).toMatch(new RegExp(`^app_${ULID}$`));
      expect(app.apiKey).toMatch(/^nilo_ak_[A-Za-z0-9_-]{32,64}$/);
      expect(app.fingerprint).toBe(fingerprintOf(app.apiKey));
      apps[which] = app;
    }
    expect(new Set(Object.values(apps).map((a) => a.apiKey)).size).toBe(3);
  });

  test('set-features replaces the feature list', async () => {
    const out = json(await run(['set-features', '--tenant', tenantId, '--features', 'accounting', '--json'], env));
    expect(out).toStrictEqual({ tenantId, name: tenantName, features: ['accounting'] });
  });

  test('rotate-key issues a new key and revokes the old one; revoke-key revokes; list-apps shows it, never a key', async () => {
    const rotated = json(await run(['rotate-key', '--app', apps.rotated.applicationId, '--json'], env));
    expect(rotated).toMatchObject({
      applicationId: apps.rotated.applicationId,
      applicationName: 'Rotating app',
      tenantId,
    });
    expect(rotated.apiKey).toMatch(/^nilo_ak_/);
    expect(rotated.apiKey).not.toBe(apps.rotated.apiKey);
    expect(rotated.fingerprint).toBe(fingerprintOf(rotated.apiKey));
    rotatedKey = rotated;

    expect(json(await run(['revoke-key', '--app', apps.revoked.applicationId, '--json'], env))).toStrictEqual({
      applicationId: apps.revoked.applicationId,
      revokedKeys: 1,
    });

    const out = await run(['list-apps', '--tenant', tenantId, '--json'], env);
    expect(out.stdout).not.toContain('nilo_ak_');
    const list = json(out);
    expect(list.map((a: any) => a.applicationId)).toEqual(
      [apps.erp, apps.revoked, apps.rotated].map((a) => a.applicationId).sort(),
    );
    for (const app of list) {
      expect(Object.keys(app).sort()).toEqual(['applicationId', 'applicationName', 'keys']);
      for (const key of app.keys) {
        expect(Object.keys(key).sort()).toEqual(['createdAt', 'fingerprint', 'lastUsedAt', 'revokedAt', 'status']);
        expect(key.lastUsedAt).toBeNull();
        expect(key.revokedAt === null).toBe(key.status === 'active');
      }
    }
    const keysOf = (id: string) => list.find((a: any) => a.applicationId === id).keys;
    expect(keysOf(apps.erp.applicationId).map((k: any) => [k.fingerprint, k.status])).toEqual([
      [apps.erp.fingerprint, 'active'],
    ]);
    expect(keysOf(apps.revoked.applicationId).map((k: any) => [k.fingerprint, k.status])).toEqual([
      [apps.revoked.fingerprint, 'revoked'],
    ]);
    expect(keysOf(apps.revoked.applicationId)[0].revokedAt).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    expect(keysOf(apps.rotated.applicationId).map((k: any) => [k.fingerprint, k.status])).toEqual([
      [apps.rotated.fingerprint, 'revoked'],
      [rotatedKey.fingerprint, 'active'],
    ]);
  });

  test('bad input exits non-zero with a JSON error on stderr, and changes nothing', async () => {
    const [unknownFeature, malformed, missingName, missingValue, unknownCommand] = await runEach(
      [
        ['create-tenant', '--name', 'Telepaths', '--features', 'accounting,telepathy', '--json'],
        ['create-app', '--tenant', 'ten_nope', '--name', 'X', '--json'],
        ['create-tenant', '--features', 'accounting', '--json'],
        ['create-tenant', '--json', '--name'],
        ['frobnicate', '--json'],
      ],
      env,
    );
    const featureMessage = refused(unknownFeature!, 1, 'validation_failed');
    expect(featureMessage).toContain('features[1]');
    expect(featureMessage).toContain('"accounting"|"communication"');
    expect(refused(malformed!, 1, 'invalid_id')).toBe('"ten_nope" is not a valid ten_ id.');
    expect(refused(missingName!, 2, 'usage')).toBe('--name is required for create-tenant.');
    expect(refused(missingValue!, 2, 'usage')).toMatch(/^Option '--name <value>' argument missing\n\nUsage:/);
    expect(refused(unknownCommand!, 2, 'usage')).toMatch(/^Unknown command "frobnicate"\.\n\nUsage:/);

    if (lockFile) expect(existsSync(lockFile), 'a failed command left the data folder locked').toBe(false);
    // That they created nothing is checked at the end, with list-tenants.
  });

  let gateway: GatewayProcess;

  test('the gateway on the same database accepts the CLI keys, and only the live ones', async () => {
    gateway = await startGateway(env);

    expect(await hello(gateway.url, apps.erp.apiKey)).toStrictEqual({
      status: 200,
      body: { status: 'ok', applicationId: apps.erp.applicationId, applicationName: 'ERP Sync' },
    });
    expect(await hello(gateway.url, rotatedKey.apiKey)).toStrictEqual({
      status: 200,
      body: { status: 'ok', applicationId: apps.rotated.applicationId, applicationName: 'Rotating app' },
    });
    for (const key of [apps.rotated.apiKey, apps.revoked.apiKey]) {
      const res = await hello(gateway.url, key);
      expect(res.status).toBe(401);
      expect(res.body.code).toBe('unauthorized');
    }

    // set-features took effect: accounting only.
    const headers = { authorization: `Bearer ${apps.erp.apiKey}` };
    const contacts = await fetch(`${gateway.url}/api/v1/contacts/contacts`, { headers });
    expect(contacts.status).toBe(403);
    expect((await contacts.json()).code).toBe('feature_not_enabled');
    expect((await fetch(`${gateway.url}/api/v1/invoices`, { headers })).status).toBe(200);
  });

  // Each mode registers only the test that applies to it, so no run reports a skipped test.
  if (!PG)
    test('while the gateway runs, the CLI sends its commands to the gateway, which keeps the folder', async () => {
      const pid = gateway.proc.pid!;
      expect(readFileSync(lockFile!, 'utf8').trim()).toBe(String(pid));

      const tenant = json(
        await run(['create-tenant', '--name', 'Through the gateway', '--features', 'accounting', '--json'], env),
      );
      expect(tenant).toStrictEqual({
        tenantId: expect.stringMatching(new RegExp(`^ten_${ULID}$`)),
        name: 'Through the gateway',
        features: ['accounting'],
      });
      const app = json(await run(['create-app', '--tenant', tenant.tenantId, '--name', 'Live', '--json'], env));
      expect(app.fingerprint).toBe(fingerprintOf(app.apiKey));
      expect((await hello(gateway.url, app.apiKey)).status).toBe(200);
      // The gateway's key cache learns of a revocation at once.
      expect(json(await run(['revoke-key', '--app', app.applicationId, '--json'], env))).toStrictEqual({
        applicationId: app.applicationId,
        revokedKeys: 1,
      });
      expect((await hello(gateway.url, app.apiKey)).status).toBe(401);
      // A refusal of the gateway's admin API reads like one of the database's.
      expect(refused(await run(['list-apps', '--tenant', 'ten_nope', '--json'], env), 1, 'invalid_id')).toBe(
        '"ten_nope" is not a valid ten_ id.',
      );

      // The gateway still owns the folder and still reads and writes.
      expect(readFileSync(lockFile!, 'utf8').trim()).toBe(String(pid));
      expect((await hello(gateway.url, apps.erp.apiKey)).status).toBe(200);
      const created = await fetch(`${gateway.url}/api/v1/invoices`, {
        method: 'POST',
        headers: { authorization: `Bearer ${apps.erp.apiKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          customer: 'While the CLI worked',
          issuedDate: '2026-05-30',
          paymentTermsDays: 30,
          items: [{ description: 'x', quantity: 1, price: 1, taxRate: 0 }],
        }),
      });
      expect(created.status).toBe(201);
      expect((await created.json()).invoiceNumber).toBe('INV-2026-00001');
    });

  if (PG)
    test('with PostgreSQL the CLI works next to a running gateway, on the database or through --url, and the key cache follows at once', async () => {
      json(await run(['set-features', '--tenant', tenantId, '--features', 'accounting', '--json'], env));
      json(
        await run(
          [
            'set-features',
            '--tenant',
            tenantId,
            '--features',
            'accounting,communication',
            '--url',
            gateway.url,
            '--json',
          ],
          env,
        ),
      );
      const contacts = await fetch(`${gateway.url}/api/v1/contacts/contacts`, {
        headers: { authorization: `Bearer ${apps.erp.apiKey}` },
      });
      expect(contacts.status).toBe(200);
      expect(existsSync(path.join(scratch, 'unused')), 'DATA_DIR is not used with DATABASE_URL').toBe(false);
    });

  test('after the gateway stops, the data is intact and the folder is free', async () => {
    await stopGateway(gateway);
    expect(gateway.output(), 'no demo tenant on a database that has tenants').not.toContain('nilo_ak_');
    if (lockFile) expect(existsSync(lockFile), 'the gateway released the data folder').toBe(false);

    const tenants = json(await run(['list-tenants', '--json'], env));
    const features = PG ? ['accounting', 'communication'] : ['accounting'];
    expect(tenants.filter((t: any) => t.tenantId === tenantId)).toStrictEqual([
      { tenantId, name: tenantName, features },
    ]);
    expect(tenants.filter((t: any) => ['Telepaths', 'X'].includes(t.name))).toEqual([]);
    const list = json(await run(['list-apps', '--tenant', tenantId, '--json'], env));
    const erp = list.find((a: any) => a.applicationId === apps.erp.applicationId);
    expect(erp.keys).toMatchObject([{ fingerprint: apps.erp.fingerprint, status: 'active' }]);
    expect(erp.keys[0].lastUsedAt, 'the gateway recorded the use of the key').toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(list.flatMap((a: any) => a.keys)).toHaveLength(4);
  });
});

// Always embedded, whatever DATABASE_URL says. (That a database with tenants gets no demo tenant is
// checked above.) Started by the beforeAll at the top so their initdb overlaps the CLI flow.
describe('first start on an empty embedded data folder', { timeout: 180_000 }, () => {
  test('prints a demo key that works', async () => {
    const demo = await firstStarts.demo;
    expect(demo.key, demo.output).toMatch(/^nilo_ak_[A-Za-z0-9_-]{32,64}$/);
    expect(demo.output).toContain(`curl ${demo.url}/api/v1/hello -H "Authorization: Bearer ${demo.key}"`);
    expect(demo.hello?.status).toBe(200);
    expect(demo.hello?.body).toMatchObject({ status: 'ok', applicationName: 'Demo app' });
    expect(demo.hello?.body.applicationId).toMatch(new RegExp(`^app_${ULID}$`));
    expect(demo.output).toContain('npm run --silent admin -- demo-key');
    expect(demo.exitCode, demo.output).toBe(0);
    expect(json(demo.tenants)).toStrictEqual([
      { tenantId: expect.stringMatching(/^ten_/), name: 'Demo', features: ['accounting', 'communication'] },
    ]);
  });

  test('demo-key, while the gateway runs, replaces the lost key at once', async () => {
    const { replaced, hello: first } = await firstStarts.demo;
    const newKey = json(replaced!.run);
    expect(newKey).toMatchObject({
      applicationId: first!.body.applicationId,
      applicationName: 'Demo app',
      apiKey: expect.stringMatching(/^nilo_ak_/),
    });
    expect(replaced!.oldKey).toBe(401);
    expect(replaced!.newKey).toBe(200);
  });

  test('every later start says how to replace the demo key, and creates no other tenant', async () => {
    const { restartOutput, tenants } = await firstStarts.demo;
    expect(restartOutput).toContain(DEMO_KEY_HINT);
    expect(restartOutput).not.toContain('nilo_ak_');
    expect(json(tenants)).toHaveLength(1);
  });

  test('with NODE_ENV=production no demo tenant is created', async () => {
    const production = await firstStarts.production;
    expect(production.output).not.toContain('nilo_ak_');
    expect(production.output).not.toContain('demo');
    // Exit code 0 means SIGTERM found main.ts's handler, installed after the demo step: that step
    // had finished, so an empty tenant list is not a matter of stopping too early.
    expect(production.exitCode, production.output).toBe(0);
    expect(json(production.tenants)).toStrictEqual([]);
  });
});
