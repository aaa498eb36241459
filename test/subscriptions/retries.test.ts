import type { Patient, Subscription } from '@medplum/fhirtypes';
import { TestClock } from '../helpers/app';
import { createProjectAdmin, FHIR_JSON, post, type ProjectAdmin } from '../helpers/fhir';
import { uniqueEmail } from '../helpers/fixtures';
import { signIn } from '../helpers/auth';
import { useTestApp } from '../helpers/suite';
import { expectedSignature, startTestWebhook, type ReceivedHook, type TestWebhook } from '../helpers/webhook';
import { DEFAULT_SUBSCRIPTION_POLICY } from '../../src/subscriptions/dispatcher';
import { SUBSCRIPTION_SECRET_URL } from '../../src/subscriptions/subscription-rules';
import { backoffDelayMs } from '../../src/polling-loop';

/**
 * Failures: backoff, per-resource order, status error after repeated failures and resuming from
 * where it stopped once set back to active. Time is the app's clock; the dispatcher runs on demand.
 */

const SECRET = 'retry-secret-0123456789abcdef';
const policy = DEFAULT_SUBSCRIPTION_POLICY;

describe('rest-hook subscriptions: retries, order, error and resume', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock, env: { SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', SUBSCRIPTION_POLL_MS: '0', ACCESS_TOKEN_TTL_SECONDS: '86400' } });
  let webhook: TestWebhook;
  let admin: ProjectAdmin;
  let headers: Record<string, string>;
  const email = uniqueEmail('retries-admin');

  beforeAll(async () => {
    webhook = await startTestWebhook();
    admin = await createProjectAdmin(t.app, 'Retries', email);
    headers = { ...admin.session.headers, ...FHIR_JSON };
  });
  /** The clock moves by days here: sign in again. */
  const signInAgain = async (): Promise<void> => {
    admin.session = await signIn(t.app, email, 'second-admin-password-42');
    headers = { ...admin.session.headers, ...FHIR_JSON };
  };
  afterAll(async () => webhook.close());

  const dispatch = () => t.app.ctx.subscriptions.dispatcher.runOnce();
  const versionOf = (hook: ReceivedHook): string => (JSON.parse(hook.body) as Patient).meta?.versionId as string;
  const subscribe = (criteria: string) =>
    post<Subscription>(t.app, headers, {
      resourceType: 'Subscription',
      status: 'active',
      reason: 'retries',
      criteria,
      channel: { type: 'rest-hook', endpoint: webhook.url, payload: 'application/fhir+json' },
      extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: SECRET }],
    });
  const update = async (patient: Patient & { id: string }, fields: Partial<Patient>): Promise<Patient & { id: string }> => {
    const res = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Patient/${patient.id}`, headers, payload: { ...patient, ...fields } });
    expect(res.statusCode).toBe(200);
    return res.json();
  };

  test('a failed delivery waits for its backoff, and a later version never overtakes an earlier one', async () => {
    webhook.received.length = 0;
    const sub = await subscribe('Patient?family=Order');
    const p = await post<Patient>(t.app, headers, { resourceType: 'Patient', name: [{ family: 'Order' }] });
    const v2 = await update(p, { gender: 'female' });
    await update(v2, { gender: 'male' });
    // Version 2 is refused once (the receiver is busy); 1 was accepted.
    let refusedOnce = false;
    webhook.answer((hook) => {
      if (!refusedOnce && (JSON.parse(hook.body) as Patient).meta?.versionId === '2') {
        refusedOnce = true;
        return 503;
      }
      return 200;
    });
    expect(await dispatch()).toBe(1);
    expect(webhook.received.map(versionOf)).toEqual(['1', '2']);
    // Before the backoff has passed nothing is tried, version 3 included.
    clock.advance(backoffDelayMs(1, policy.baseDelayMs, policy.maxDelayMs) - 1);
    expect(await dispatch()).toBe(0);
    expect(webhook.received).toHaveLength(2);
    clock.advance(1);
    expect(await dispatch()).toBe(2);
    expect(webhook.received.map(versionOf)).toEqual(['1', '2', '2', '3']);
    expect(webhook.received.map((h) => h.status)).toEqual([200, 503, 200, 200]);
    // The retry carries the same event id and the same signed body.
    expect(webhook.received[2].headers['x-event-id']).toBe(webhook.received[1].headers['x-event-id']);
    expect(webhook.received[2].body).toBe(webhook.received[1].body);
    await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Subscription/${sub.id}`, headers: admin.session.headers });
  });

  test('after repeated failures the Subscription goes to status error and stops; set back to active it resumes where it stopped', async () => {
    webhook.received.length = 0;
    webhook.answer(500);
    const sub = await subscribe('Patient?family=Outage');
    const first = await post<Patient>(t.app, headers, { resourceType: 'Patient', name: [{ family: 'Outage', given: ['First'] }] });
    for (let failure = 1; failure <= policy.maxFailures; failure++) {
      expect(await dispatch()).toBe(0);
      expect(webhook.received).toHaveLength(failure);
      clock.advance(backoffDelayMs(failure, policy.baseDelayMs, policy.maxDelayMs));
    }
    const stopped = (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/${sub.id}`, headers })).json() as Subscription;
    expect(stopped.status).toBe('error');
    expect(stopped.error).toMatch(/HTTP 500/);
    expect(stopped.error).toMatch(new RegExp(`${policy.maxFailures} failures in a row`));

    // Stopped: nothing is tried, however long it waits, but changes are still queued.
    webhook.answer(204);
    const second = await post<Patient>(t.app, headers, { resourceType: 'Patient', name: [{ family: 'Outage', given: ['Second'] }] });
    clock.advance(24 * 3600_000);
    expect(await dispatch()).toBe(0);
    await signInAgain();
    expect(webhook.received).toHaveLength(policy.maxFailures);

    // An administrator sets it back to active (a read-modify-write: the secret, never read, is kept).
    const resumed = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Subscription/${sub.id}`, headers, payload: { ...stopped, status: 'active', error: undefined } });
    expect(resumed.statusCode).toBe(200);
    expect(await dispatch()).toBe(2);
    const delivered = webhook.received.slice(policy.maxFailures);
    expect(delivered.map((h) => (JSON.parse(h.body) as Patient).id)).toEqual([first.id, second.id]);
    for (const hook of delivered) {
      expect(hook.headers['x-signature']).toBe(expectedSignature(SECRET, hook.body));
    }
    // The first one had been tried before: same event id as its failed attempts.
    expect(delivered[0].headers['x-event-id']).toBe(webhook.received[0].headers['x-event-id']);
    expect(await dispatch()).toBe(0);
  });

  test('a Subscription switched off or deleted drops what it had queued', async () => {
    webhook.received.length = 0;
    webhook.answer(204);
    const sub = await subscribe('Patient?family=Dropped');
    await post<Patient>(t.app, headers, { resourceType: 'Patient', name: [{ family: 'Dropped' }] });
    const current = (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/${sub.id}`, headers })).json() as Subscription;
    expect((await t.app.inject({ method: 'PUT', url: `/fhir/R4/Subscription/${sub.id}`, headers, payload: { ...current, status: 'off' } })).statusCode).toBe(200);
    expect(await dispatch()).toBe(0);
    // Switched off: a change is not even queued.
    await post<Patient>(t.app, headers, { resourceType: 'Patient', name: [{ family: 'Dropped' }] });
    const later = (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/${sub.id}`, headers })).json() as Subscription;
    expect((await t.app.inject({ method: 'PUT', url: `/fhir/R4/Subscription/${sub.id}`, headers, payload: { ...later, status: 'active' } })).statusCode).toBe(200);
    expect(await dispatch()).toBe(0);
    expect(webhook.received).toHaveLength(0);
    expect(await t.app.ctx.database.db.collection('subscription_notifications').countDocuments({ subscription: sub.id })).toBe(0);

    // Deleted with a change queued: dropped too.
    await post<Patient>(t.app, headers, { resourceType: 'Patient', name: [{ family: 'Dropped' }] });
    expect(await t.app.ctx.database.db.collection('subscription_notifications').countDocuments({ subscription: sub.id })).toBe(1);
    expect((await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Subscription/${sub.id}`, headers: admin.session.headers })).statusCode).toBe(200);
    expect(await dispatch()).toBe(0);
    expect(webhook.received).toHaveLength(0);
    expect(await t.app.ctx.database.db.collection('subscription_notifications').countDocuments({ subscription: sub.id })).toBe(0);
  });
});
