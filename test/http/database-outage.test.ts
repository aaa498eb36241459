import { createTestApp, type TestApp } from '../helpers/app';
import { signIn } from '../helpers/auth';

describe('database outage', () => {
  let t: TestApp;
  afterAll(async () => {
    await t.close().catch(() => undefined);
  });

  test('requests answer 503 with Retry-After and the healthcheck says unreachable', async () => {
    t = await createTestApp();
    const admin = await signIn(t.app);
    const before = await t.app.inject({ method: 'GET', url: '/fhir/R4/Patient', headers: admin.headers });
    expect(before.statusCode).toBe(200);

    await t.app.ctx.database.client.close(true);

    const create = await t.app.inject({
      method: 'POST',
      url: '/fhir/R4/Patient',
      headers: { ...admin.headers, 'content-type': 'application/fhir+json' },
      payload: { resourceType: 'Patient', name: [{ family: 'Down' }] },
    });
    expect(create.statusCode).toBe(503);
    expect(create.headers['retry-after']).toBe('5');
    expect(create.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'transient' }] });

    const health = await t.app.inject({ method: 'GET', url: '/healthcheck' });
    expect(health.statusCode).toBe(503);
    expect(health.json()).toMatchObject({ ok: false, database: 'unreachable' });
  });
});
