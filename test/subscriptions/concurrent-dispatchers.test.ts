import type { Patient } from '@medplum/fhirtypes';
import { createSubscriptionDispatcher } from '../../src/subscriptions/dispatcher';
import { createProjectAdmin, FHIR_JSON, post } from '../helpers/fhir';
import { uniqueEmail } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { startTestWebhook, type TestWebhook } from '../helpers/webhook';

/**
 * Several instances deliver from one database: each Subscription's lane is held by one
 * dispatcher at a time, so dispatchers racing each other send every notification once, and the
 * versions of a resource in order.
 */
describe('rest-hook subscriptions: dispatchers of several instances', () => {
  const t = useTestApp({ env: { SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', SUBSCRIPTION_POLL_MS: '0' } });
  let webhook: TestWebhook;

  beforeAll(async () => {
    webhook = await startTestWebhook();
  });
  afterAll(async () => webhook.close());

  test('two dispatchers racing over the same outbox deliver each change once, in order per resource', async () => {
    const admin = await createProjectAdmin(t.app, 'Racing', uniqueEmail('racing'));
    const headers = { ...admin.session.headers, ...FHIR_JSON };
    for (const family of ['One', 'Two']) {
      await post(t.app, headers, {
        resourceType: 'Subscription',
        status: 'active',
        reason: family,
        criteria: 'Patient',
        channel: { type: 'rest-hook', endpoint: `${webhook.url}?lane=${family}`, payload: 'application/fhir+json' },
      });
    }
    const patients: (Patient & { id: string })[] = [];
    for (let i = 0; i < 4; i++) {
      patients.push(await post<Patient>(t.app, headers, { resourceType: 'Patient', name: [{ family: `Racer${i}` }] }));
    }
    for (const patient of patients) {
      for (const gender of ['female', 'male'] as const) {
        const res = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Patient/${patient.id}`, headers, payload: { ...patient, gender } });
        expect(res.statusCode).toBe(200);
        Object.assign(patient, res.json());
      }
    }
    const ctx = t.app.ctx;
    const make = (ownerId: string) =>
      createSubscriptionDispatcher({ database: ctx.database, clock: ctx.clock, log: ctx.log, access: ctx.access, listeners: ctx.listeners, endpoints: { allowedHosts: ['127.0.0.1'] }, pollMs: 0, ownerId, policy: { baseDelayMs: 5000, maxDelayMs: 600_000, maxFailures: 12, leaseMs: 60_000, batchSize: 3, concurrency: 2 } });
    const first = make('instance-1');
    const second = make('instance-2');
    let total = 0;
    for (let round = 0; round < 10; round++) {
      const [a, b] = await Promise.all([first.runOnce(), second.runOnce()]);
      total += a + b;
    }
    // 2 Subscriptions × 4 patients × 3 versions.
    expect(total).toBe(24);
    expect(webhook.received).toHaveLength(24);
    const events = webhook.received.map((h) => h.headers['x-event-id']);
    expect(new Set(events).size).toBe(24);
    for (const lane of ['One', 'Two']) {
      for (const patient of patients) {
        const versions = webhook.received
          .filter((h) => h.path.endsWith(`lane=${lane}`))
          .map((h) => JSON.parse(h.body) as Patient)
          .filter((p) => p.id === patient.id)
          .map((p) => p.meta?.versionId);
        expect(versions).toEqual(['1', '2', '3']);
      }
    }
  });
});
