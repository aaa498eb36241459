import type { AccessPolicy, User } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { createAccount, createMembership, createPractitioner } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { createPolicyMember, createProjectAdmin, FHIR_JSON, type ProjectAdmin } from '../helpers/fhir';

/**
 * The same class of hole elsewhere: references that go stale or point outside the project. A
 * deleted AccessPolicy fails closed for its members at once; a project administrator cannot set
 * the User.admin flag of a project-scoped user, nor point a membership at another project's
 * client or policy.
 */
describe('stale and foreign references grant nothing', () => {
  const t = useTestApp();
  let admin: ProjectAdmin;
  let other: ProjectAdmin;
  let root: SignedIn;

  beforeAll(async () => {
    admin = await createProjectAdmin(t.app, 'Home', 'stale-admin@example.com');
    other = await createProjectAdmin(t.app, 'Away', 'stale-other@example.com');
    root = await signIn(t.app);
  });

  const call = (session: SignedIn, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url: `/fhir/R4/${url}`, headers: { ...session.headers, ...(payload ? FHIR_JSON : {}) }, payload: payload ? JSON.stringify(payload) : undefined });

  test('a deleted AccessPolicy fails closed for its members, at once (403, never the default access)', async () => {
    const policy: AccessPolicy = { resourceType: 'AccessPolicy', name: 'Readers', resource: [{ resourceType: 'Practitioner', readonly: true }] };
    const member = await createPolicyMember(t.app, admin.projectId, 'stale-member@example.com', policy);
    expect((await call(member, 'GET', 'Practitioner')).statusCode).toBe(200);
    const policies = (await call(admin.session, 'GET', 'AccessPolicy?name=Readers')).json();
    const id = policies.entry[0].resource.id as string;
    expect((await call(admin.session, 'DELETE', `AccessPolicy/${id}`)).statusCode).toBe(200);
    const res = await call(member, 'GET', 'Practitioner');
    expect(res.statusCode).toBe(403);
    expect(res.json().issue[0].diagnostics).toMatch(/access policy could not be loaded/);
    expect((await call(member, 'GET', 'Patient')).statusCode).toBe(403);
  });

  test('a project administrator cannot set User.admin on a project-scoped user', async () => {
    const scoped = await createAccount(t.app, { email: 'stale-scoped@example.com', password: 'stale-scoped-password-1', projectId: admin.projectId });
    const practitioner = await createPractitioner(t.app, admin.projectId);
    await createMembership(t.app, { projectId: admin.projectId, user: `User/${scoped.id}`, profile: `Practitioner/${practitioner.id}` });
    const current = (await call(admin.session, 'GET', `User/${scoped.id}`)).json() as User;
    const before = await snapshotDatabase(t.app);
    const res = await call(admin.session, 'PUT', `User/${scoped.id}`, { ...current, admin: true });
    expect(res.statusCode).toBe(403);
    expect(res.json().issue[0].expression).toEqual(['User.admin']);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test("a membership cannot name another project's client or policy", async () => {
    const client = (await t.app.inject({ method: 'POST', url: `/admin/projects/${other.projectId}/client`, headers: other.session.headers, payload: { name: 'Foreign' } })).json();
    const foreignPolicy = (await call(other.session, 'POST', 'AccessPolicy', { resourceType: 'AccessPolicy', name: 'Foreign', resource: [{ resourceType: 'Patient' }] })).json();
    const before = await snapshotDatabase(t.app);
    // The consistency rule holds for everyone, the super administrator included.
    const asClient = await call(root, 'POST', 'ProjectMembership', {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${admin.projectId}` },
      user: { reference: `ClientApplication/${client.id}` },
      profile: { reference: `ClientApplication/${client.id}` },
      admin: true,
    });
    expect(asClient.statusCode).toBe(400);
    expect(asClient.json().issue[0].expression).toEqual(['ProjectMembership.profile']);
    const withPolicy = await call(root, 'POST', 'ProjectMembership', {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${admin.projectId}` },
      user: { reference: `User/${admin.userId}` },
      profile: { reference: `Practitioner/${admin.practitionerId}` },
      accessPolicy: { reference: `AccessPolicy/${foreignPolicy.id}` },
    });
    expect(withPolicy.statusCode).toBe(400);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });
});
