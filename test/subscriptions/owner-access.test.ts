import type { Patient, ProjectMembership, Subscription } from '@medplum/fhirtypes';
import { TestClock } from '../helpers/app';
import { make, makeProject, signedInMember, type Member } from '../helpers/access';
import { signIn, type SignedIn } from '../helpers/auth';
import { FHIR_JSON, post } from '../helpers/fhir';
import { useTestApp } from '../helpers/suite';
import { startTestWebhook, type TestWebhook } from '../helpers/webhook';

/**
 * A notification never carries what its owner (the member who last wrote the Subscription)
 * could not read: resources outside the owner's policy criteria are never sent, fields the
 * policy hides are removed, another project's changes never match, and an owner who loses their
 * membership stops the Subscription.
 */
describe('rest-hook subscriptions: the owner’s access applies', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock, env: { SUBSCRIPTION_ALLOWED_HOSTS: '127.0.0.1', SUBSCRIPTION_POLL_MS: '0' } });
  let webhook: TestWebhook;
  let project: string;
  let other: string;
  let owner: Member;
  let root: SignedIn;

  beforeAll(async () => {
    webhook = await startTestWebhook();
    project = await makeProject(t.app, 'Owner access');
    other = await makeProject(t.app, 'Elsewhere');
    const doctor = await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'Owner' }] }, project);
    // An administrator whose policy shows only female patients, without their birth date.
    owner = await signedInMember(t.app, project, {
      key: 'hook-owner',
      profile: `Practitioner/${doctor.id}`,
      admin: true,
      policy: [{ resourceType: 'Patient', criteria: 'Patient?gender=female', hiddenFields: ['birthDate'] }],
    });
    // A second administrator: the owner's membership is not the project's last one.
    await signedInMember(t.app, project, { key: 'hook-second-admin', profile: `Practitioner/${doctor.id}`, admin: true });
    root = await signIn(t.app);
  });
  afterAll(async () => webhook.close());

  /** The access fixtures store absent fields as null, which a FHIR PUT refuses. */
  const withoutNulls = <T extends object>(value: T): T => Object.fromEntries(Object.entries(value).filter(([, v]) => v !== null)) as T;
  const dispatch = () => t.app.ctx.subscriptions.dispatcher.runOnce();
  const asRoot = (resource: Patient, projectId: string) => post<Patient>(t.app, root.headers, { ...resource, meta: { project: projectId } });

  test('only what the owner may read is sent, without the fields the owner’s policy hides', async () => {
    const sub = await post<Subscription>(t.app, { ...owner.session.headers, ...FHIR_JSON }, {
      resourceType: 'Subscription',
      status: 'active',
      reason: 'all patients',
      criteria: 'Patient',
      channel: { type: 'rest-hook', endpoint: webhook.url, payload: 'application/fhir+json' },
    });
    const female = await asRoot({ resourceType: 'Patient', gender: 'female', birthDate: '1990-01-01', name: [{ family: 'Shown' }] }, project);
    await asRoot({ resourceType: 'Patient', gender: 'male', birthDate: '1980-01-01', name: [{ family: 'Outside' }] }, project);
    await asRoot({ resourceType: 'Patient', gender: 'female', birthDate: '1970-01-01', name: [{ family: 'OtherProject' }] }, other);
    expect(await dispatch()).toBe(1);
    expect(webhook.received).toHaveLength(1);
    const sent = JSON.parse(webhook.received[0].body) as Patient;
    expect(sent.id).toBe(female.id);
    expect(sent.name?.[0].family).toBe('Shown');
    expect(sent.birthDate).toBeUndefined();
    expect(webhook.received[0].body).not.toContain('1990-01-01');
    expect(sub.id).toBeDefined();
  });

  test('an owner whose membership is deactivated stops the Subscription with the reason; nothing more is sent', async () => {
    webhook.received.length = 0;
    await asRoot({ resourceType: 'Patient', gender: 'female', name: [{ family: 'AfterDeactivation' }] }, project);
    const membership = (await t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership/${owner.membershipId}`, headers: root.headers })).json() as ProjectMembership;
    const res = await t.app.inject({ method: 'PUT', url: `/fhir/R4/ProjectMembership/${owner.membershipId}`, headers: { ...root.headers, ...FHIR_JSON }, payload: { ...withoutNulls(membership), active: false } });
    expect(res.statusCode).toBe(200);
    expect(await dispatch()).toBe(0);
    expect(webhook.received).toHaveLength(0);
    const subs = await t.app.ctx.database.db.collection('Subscription').find({ project, deleted: false }).toArray();
    expect(subs).toHaveLength(1);
    const stopped = subs[0].resource as Subscription;
    expect(stopped.status).toBe('error');
    expect(stopped.error).toMatch(/owner/);
  });

  test('an owner who may no longer read the criteria’s type (demoted from administrator) stops the Subscription', async () => {
    const doctor = await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'Demoted' }] }, project);
    const demoted = await signedInMember(t.app, project, { key: 'hook-demoted', profile: `Practitioner/${doctor.id}`, admin: true });
    const sub = await post<Subscription>(t.app, { ...demoted.session.headers, ...FHIR_JSON }, {
      resourceType: 'Subscription',
      status: 'active',
      reason: 'members',
      criteria: 'ProjectMembership',
      channel: { type: 'rest-hook', endpoint: webhook.url, payload: 'application/fhir+json' },
    });
    webhook.received.length = 0;
    const membership = (await t.app.inject({ method: 'GET', url: `/fhir/R4/ProjectMembership/${demoted.membershipId}`, headers: root.headers })).json() as ProjectMembership;
    const res = await t.app.inject({ method: 'PUT', url: `/fhir/R4/ProjectMembership/${demoted.membershipId}`, headers: { ...root.headers, ...FHIR_JSON }, payload: { ...withoutNulls(membership), admin: false } });
    expect(res.statusCode).toBe(200);
    expect(await dispatch()).toBe(0);
    expect(webhook.received).toHaveLength(0);
    const stopped = (await t.app.inject({ method: 'GET', url: `/fhir/R4/Subscription/${sub.id}`, headers: root.headers })).json() as Subscription;
    expect(stopped.status).toBe('error');
    expect(stopped.error).toMatch(/may no longer read ProjectMembership/);
  });

  test('a Subscription only ever sees its own project: naming another one in meta.project or the criteria changes nothing', async () => {
    const doctor = await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'Curious' }] }, project);
    const curious = await signedInMember(t.app, project, { key: 'hook-curious', profile: `Practitioner/${doctor.id}`, admin: true });
    const created = await post<Subscription>(t.app, { ...curious.session.headers, ...FHIR_JSON }, {
      resourceType: 'Subscription',
      meta: { project: other },
      status: 'active',
      reason: 'elsewhere',
      criteria: `Patient?_project=${other}`,
      channel: { type: 'rest-hook', endpoint: webhook.url, payload: 'application/fhir+json' },
    });
    expect(created.meta?.project).toBe(project);
    webhook.received.length = 0;
    await asRoot({ resourceType: 'Patient', gender: 'female', name: [{ family: 'Private' }] }, other);
    expect(await dispatch()).toBe(0);
    expect(webhook.received).toHaveLength(0);
  });
});
