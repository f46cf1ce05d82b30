import { networkInterfaces } from 'node:os';
import { describe, expect, test } from 'vitest';
import { http, useGateway } from './support/gateway.js';
import { expectProblem } from './support/problem.js';

// The operator's API under /admin/v1 on a running gateway: the CLI's operations over HTTP, and who
// may call it. One gateway without ADMIN_TOKEN (loopback clients only, listening on every address so
// a non-loopback address of this machine can be tried) and one with a token and a small
// failed-authentication budget (counted in memory, so other files' failures cannot spend it).

const TOKEN = 'operator-token-for-the-admin-api-test';
const open = useGateway({ HOST: '0.0.0.0' }, { ownDatabase: true });
const guarded = useGateway({ HOST: '0.0.0.0', ADMIN_TOKEN: TOKEN, REDIS_URL: '', AUTH_FAILURES_PER_MINUTE: '3' });

/** An address of this machine that is not loopback, if it has one: requests to it come from it. */
const outsideAddress = Object.values(networkInterfaces())
  .flat()
  .find((address) => address && address.family === 'IPv4' && !address.internal)?.address;
const onAddress = (url: string, address: string) => url.replace('127.0.0.1', address);

const admin = (url: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  http(url, method, `/admin/v1${path}`, { body, headers });
const hello = async (url: string, key: string) => (await http(url, 'GET', '/api/v1/hello', { key })).status;

describe('without ADMIN_TOKEN, from loopback', () => {
  test('tenants, features, applications, keys and runners, through the same services as the CLI', async () => {
    const { url } = open;
    const created = await admin(url, 'POST', '/tenants', {
      name: 'Admin API',
      features: ['communication', 'accounting', 'communication'],
    });
    expect(created.status, created.text).toBe(201);
    expect(created.body).toStrictEqual({
      tenantId: expect.stringMatching(/^ten_/),
      name: 'Admin API',
      features: ['accounting', 'communication'],
    });
    const { tenantId } = created.body;
    expect((await admin(url, 'GET', '/tenants')).body).toContainEqual(created.body);

    const features = await admin(url, 'PUT', `/tenants/${tenantId}/features`, { features: ['accounting'] });
    expect(features.status).toBe(200);
    expect(features.body).toStrictEqual({ tenantId, name: 'Admin API', features: ['accounting'] });

    const app = await admin(url, 'POST', `/tenants/${tenantId}/applications`, { name: 'ERP' });
    expect(app.status).toBe(201);
    expect(app.body).toMatchObject({
      applicationId: expect.stringMatching(/^app_/),
      applicationName: 'ERP',
      tenantId,
      apiKey: expect.stringMatching(/^nilo_ak_/),
    });
    expect(await hello(url, app.body.apiKey)).toBe(200);

    // Rotation: the running gateway refuses the old key at once (its key cache is told).
    const rotated = await admin(url, 'POST', `/applications/${app.body.applicationId}/keys`);
    expect(rotated.status).toBe(201);
    expect(rotated.body.apiKey).not.toBe(app.body.apiKey);
    expect(await hello(url, app.body.apiKey)).toBe(401);
    expect(await hello(url, rotated.body.apiKey)).toBe(200);

    const revoked = await admin(url, 'DELETE', `/applications/${app.body.applicationId}/keys`);
    expect(revoked.body).toStrictEqual({ applicationId: app.body.applicationId, revokedKeys: 1 });
    expect(await hello(url, rotated.body.apiKey)).toBe(401);

    const apps = await admin(url, 'GET', `/tenants/${tenantId}/applications`);
    expect(apps.text).not.toContain('nilo_ak_');
    expect(apps.body).toMatchObject([
      { applicationId: app.body.applicationId, keys: [{ status: 'revoked' }, { status: 'revoked' }] },
    ]);

    const runner = await admin(url, 'POST', `/tenants/${tenantId}/runners`, { name: 'Scanner' });
    expect(runner.status).toBe(201);
    expect(runner.body).toMatchObject({
      runnerId: expect.stringMatching(/^run_/),
      runnerName: 'Scanner',
      tenantId,
      runnerKey: expect.stringMatching(/^nilo_rk_/),
    });
    const runners = await admin(url, 'GET', `/tenants/${tenantId}/runners`);
    expect(runners.text).not.toContain('nilo_rk_');
    expect(runners.body).toMatchObject([{ runnerId: runner.body.runnerId, status: 'active' }]);
    expect((await admin(url, 'DELETE', `/runners/${runner.body.runnerId}`)).body).toStrictEqual({
      runnerId: runner.body.runnerId,
      status: 'revoked',
    });
    expect((await admin(url, 'GET', `/tenants/${tenantId}/runners`)).body).toMatchObject([{ status: 'revoked' }]);
  });

  test('bad input is a problem and changes nothing', async () => {
    const { url } = open;
    const before = (await admin(url, 'GET', '/tenants')).body;
    const unknownFeature = await admin(url, 'POST', '/tenants', { name: 'Telepaths', features: ['telepathy'] });
    expectProblem(unknownFeature, 400, 'validation_failed');
    expect(unknownFeature.body.detail).toContain('features[0]');
    expectProblem(await admin(url, 'POST', '/tenants', { name: '  ' }), 400, 'validation_failed');
    expectProblem(await admin(url, 'POST', '/tenants', { features: [] }), 400, 'validation_failed');
    expectProblem(await admin(url, 'POST', '/tenants', { name: 'Extra', owner: 'me' }), 400, 'validation_failed');
    expectProblem(
      await admin(url, 'POST', '/tenants', 'name=x', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported_media_type',
    );
    expectProblem(await admin(url, 'POST', '/tenants/ten_nope/applications', { name: 'X' }), 400, 'invalid_id');
    expectProblem(
      await admin(url, 'POST', '/tenants/ten_01JZZZZZZZZZZZZZZZZZZZZZZZ/applications', { name: 'X' }),
      404,
      'not_found',
    );
    expectProblem(
      await admin(url, 'PUT', '/tenants/ten_01JZZZZZZZZZZZZZZZZZZZZZZZ/features', { features: 'accounting' }),
      400,
      'validation_failed',
    );
    expectProblem(await admin(url, 'POST', '/applications/app_01JZZZZZZZZZZZZZZZZZZZZZZZ/keys'), 404, 'not_found');
    expectProblem(await admin(url, 'DELETE', '/runners/run_nope'), 400, 'invalid_id');
    expect((await admin(url, 'GET', '/tenants')).body).toStrictEqual(before);
  });

  test("demo-key replaces the demo application's key, and says when there is none", async () => {
    const { url, app } = open;
    expectProblem(await admin(url, 'POST', '/demo-key'), 404, 'not_found');
    const demo = await app.services.admin.createDemo();
    const replaced = await admin(url, 'POST', '/demo-key');
    expect(replaced.status).toBe(201);
    expect(replaced.body).toMatchObject({
      applicationId: demo.applicationId,
      applicationName: 'Demo app',
      tenantId: demo.tenantId,
    });
    expect(await hello(url, demo.apiKey)).toBe(401);
    expect(await hello(url, replaced.body.apiKey)).toBe(200);
  });

  if (outsideAddress)
    test('a client on another address is refused (403), token or not, and /api/v1 is not affected', async () => {
      const url = onAddress(open.url, outsideAddress);
      expectProblem(await admin(url, 'GET', '/tenants'), 403, 'forbidden');
      expectProblem(
        await admin(url, 'POST', '/tenants', { name: 'From outside' }, { authorization: `Bearer ${TOKEN}` }),
        403,
        'forbidden',
      );
      expect((await admin(open.url, 'GET', '/tenants')).body.map((t: { name: string }) => t.name)).not.toContain(
        'From outside',
      );
      expect((await http(url, 'GET', '/health')).status).toBe(200);
    });
});

describe('with ADMIN_TOKEN', () => {
  test("the token is required from every address; failed attempts spend the address's budget", async () => {
    const { url } = guarded;
    expect((await admin(url, 'GET', '/tenants', undefined, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    if (outsideAddress) {
      expect(
        (
          await admin(onAddress(url, outsideAddress), 'GET', '/tenants', undefined, {
            authorization: `Bearer ${TOKEN}`,
          })
        ).status,
      ).toBe(200);
    }

    const missing = await admin(url, 'POST', '/tenants', { name: 'No token' });
    expectProblem(missing, 401, 'unauthorized');
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expectProblem(
      await admin(url, 'POST', '/tenants', { name: 'Wrong token' }, { authorization: `Bearer ${TOKEN}x` }),
      401,
      'unauthorized',
    );
    expectProblem(await admin(url, 'GET', '/tenants', undefined, { 'x-api-key': TOKEN }), 401, 'unauthorized');

    // AUTH_FAILURES_PER_MINUTE=3 used up: this address is refused even with the right token.
    const refused = await admin(url, 'GET', '/tenants', undefined, { authorization: `Bearer ${TOKEN}` });
    expectProblem(refused, 429, 'rate_limited');
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    const names = (await guarded.app.services.admin.listTenants()).map((t) => t.name);
    expect(names).not.toContain('No token');
    expect(names).not.toContain('Wrong token');
  });
});
