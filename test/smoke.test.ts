import { describe, expect, test } from 'vitest';
import { createTenant, http, useGateway } from './support/gateway.js';

const gw = useGateway();

describe('hello', () => {
  test('resolves the key to its application', async () => {
    const tenant = await createTenant(gw.app);
    const res = await http(gw.url, 'GET', '/api/v1/hello', { key: tenant.apiKey });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', applicationId: tenant.applicationId, applicationName: 'Test app' });
  });
});
