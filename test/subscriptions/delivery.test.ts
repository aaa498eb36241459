import type { Bundle, Patient, Subscription } from '@medplum/fhirtypes';
import { TestClock } from '../helpers/app';
import { createProjectAdmin, FHIR_JSON, post, type ProjectAdmin } from '../helpers/fhir';
import { uniqueEmail } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { expectedSignature, startTestWebhook, type TestWebhook } from '../helpers/webhook';
import { SUBSCRIPTION_SECRET_URL } from '../../src/subscriptions/subscription-rules';
import { NOTIFICATIONS } from '../../src/subscriptions/outbox';

/**
 * Rest-hook delivery end to end over HTTP: a project administrator creates a Subscription through
 * the FHIR API, changes are queued in their transaction, the dispatcher POSTs them to a real
 * HTTP server (listed in SUBSCRIPTION_ALLOWED_HOSTS), signed, with Medplum's headers and an event id.
 */

const SECRET = 'a-shared-secret-of-some-length';

describe('rest-hook subscriptions: delivery', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock, env: { SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', SUBSCRIPTION_POLL_MS: '0' } });
  let webhook: TestWebhook;
  let admin: ProjectAdmin;
  let headers: Record<string, string>;

  beforeAll(async () => {
    webhook = await startTestWebhook();
    admin = await createProjectAdmin(t.app, 'Hooks', uniqueEmail('hooks-admin'));
    headers = { ...admin.session.headers, ...FHIR_JSON };
  });
  afterAll(async () => webhook.close());
  beforeEach(() => {
    webhook.received.length = 0;
    webhook.answer(204);
  });

  const dispatch = () => t.app.ctx.subscriptions.dispatcher.runOnce();
  const subscription = (fields: Partial<Subscription> = {}): Subscription => ({
    resourceType: 'Subscription',
    status: 'active',
    reason: 'mirror',
    criteria: 'Patient?gender=female',
    channel: { type: 'rest-hook', endpoint: webhook.url, payload: 'application/fhir+json', header: ['Authorization: Bearer peer-token'] },
    extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: SECRET }],
    ...fields,
  });

  test('a matching create, update and delete each arrive once, signed, with the event id and Medplum headers; others do not', async () => {
    const sub = await post(t.app, headers, subscription());
    const ada = await post<Patient>(t.app, headers, { resourceType: 'Patient', gender: 'female', name: [{ family: 'Lovelace' }] });
    await post<Patient>(t.app, headers, { resourceType: 'Patient', gender: 'male', name: [{ family: 'Babbage' }] });
    expect(await dispatch()).toBe(1);
    const updated = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Patient/${ada.id}`, headers, payload: { ...ada, birthDate: '1815-12-10' } });
    expect(updated.statusCode).toBe(200);
    const deleted = await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Patient/${ada.id}`, headers: admin.session.headers });
    expect(deleted.statusCode).toBe(200);
    expect(await dispatch()).toBe(2);
    expect(await dispatch()).toBe(0);

    const hooks = webhook.received;
    expect(hooks.map((h) => h.headers['x-medplum-interaction'])).toEqual(['create', 'update', 'delete']);
    for (const hook of hooks) {
      expect(hook.method).toBe('POST');
      expect(hook.path).toBe('/hook');
      expect(hook.headers['x-medplum-subscription']).toBe(sub.id);
      expect(hook.headers['x-event-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(hook.headers.authorization).toBe('Bearer peer-token');
      expect(hook.headers['x-signature']).toBe(expectedSignature(SECRET, hook.body));
      expect(hook.headers['content-type']).toBe('application/fhir+json');
    }
    expect(new Set(hooks.map((h) => h.headers['x-event-id'])).size).toBe(3);
    const [created, changed, removed] = hooks.map((h) => h.body);
    expect(JSON.parse(created)).toMatchObject({ resourceType: 'Patient', id: ada.id, meta: { versionId: '1' } });
    expect(JSON.parse(changed)).toMatchObject({ id: ada.id, birthDate: '1815-12-10', meta: { versionId: '2' } });
    expect(removed).toBe('{}');
    expect(hooks[2].headers['x-medplum-deleted-resource']).toBe(`Patient/${ada.id}`);
    // Delivered notifications leave the outbox.
    expect(await t.app.ctx.database.db.collection(NOTIFICATIONS).countDocuments({ subscription: sub.id })).toBe(0);
    await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Subscription/${sub.id}`, headers: admin.session.headers });
  });

  test('without a payload the notification is an empty ping, still signed', async () => {
    const sub = await post(t.app, headers, subscription({ channel: { type: 'rest-hook', endpoint: webhook.url } }));
    await post<Patient>(t.app, headers, { resourceType: 'Patient', gender: 'female' });
    expect(await dispatch()).toBe(1);
    const [hook] = webhook.received;
    expect(hook.body).toBe('');
    expect(hook.headers['content-type']).toBeUndefined();
    expect(hook.headers['x-signature']).toBe(expectedSignature(SECRET, ''));
    await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Subscription/${sub.id}`, headers: admin.session.headers });
  });

  test('the secret is stored but never answered: create, read, search, history, vread; an update without it keeps it', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/fhir/R4/Subscription', headers, payload: subscription({ status: 'off' }) });
    expect(created.statusCode).toBe(201);
    const sub = created.json() as Subscription & { id: string };
    const answers = [
      created.body,
      (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/${sub.id}`, headers })).body,
      (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription?_id=${sub.id}`, headers })).body,
      (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/${sub.id}/_history`, headers })).body,
      (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/${sub.id}/_history/1`, headers })).body,
      (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/_history`, headers })).body,
    ];
    const put = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Subscription/${sub.id}`, headers, payload: { ...sub, reason: 'renamed' } });
    expect(put.statusCode).toBe(200);
    answers.push(put.body);
    for (const body of answers) {
      expect(body).not.toContain(SECRET);
      expect(body).not.toContain(SUBSCRIPTION_SECRET_URL);
    }
    expect((JSON.parse(answers[2]) as Bundle).total).toBe(1);
    const stored = await t.app.ctx.database.db.collection<{ _id: string; resource: Subscription }>('Subscription').findOne({ _id: sub.id });
    expect(stored?.resource.extension).toEqual([{ url: SUBSCRIPTION_SECRET_URL, valueString: SECRET }]);
    expect(stored?.resource.reason).toBe('renamed');
    // A new value replaces it.
    const rotated = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Subscription/${sub.id}`, headers, payload: { ...sub, extension: [{ url: SUBSCRIPTION_SECRET_URL, valueString: 'another-secret-0123456789' }] } });
    expect(rotated.statusCode).toBe(200);
    const after = await t.app.ctx.database.db.collection<{ _id: string; resource: Subscription }>('Subscription').findOne({ _id: sub.id });
    expect(after?.resource.extension).toEqual([{ url: SUBSCRIPTION_SECRET_URL, valueString: 'another-secret-0123456789' }]);
  });

  test('the secret stays out of _elements and out of notifications about the Subscription itself', async () => {
    const watcher = await post(t.app, headers, subscription({ criteria: 'Subscription', extension: undefined }));
    const secretive = await post(t.app, headers, subscription({ status: 'off' }));
    const elements = await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription?_id=${secretive.id}&_elements=extension,channel`, headers });
    expect(elements.statusCode).toBe(200);
    expect(elements.body).not.toContain(SECRET);
    expect(await dispatch()).toBeGreaterThanOrEqual(1);
    const about = webhook.received.map((h) => JSON.parse(h.body) as Subscription).find((r) => r.id === secretive.id);
    expect(about).toMatchObject({ resourceType: 'Subscription', status: 'off' });
    expect(webhook.received.map((h) => h.body).join('')).not.toContain(SECRET);
    await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Subscription/${watcher.id}`, headers: admin.session.headers });
  });
});
