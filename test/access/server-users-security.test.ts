import type { Bundle, User } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { createAccount, createMembership, createPractitioner } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { createProjectAdmin, FHIR_JSON, type ProjectAdmin } from '../helpers/fhir';

/**
 * Server-scoped users belong to the server: a project administrator never gets one as a `User`
 * resource (read, vread, search, history, _include, _revinclude, update, delete), not even for a
 * member of the project; the membership (its `user.display`) and the profile are how the
 * administrator sees that person. Users scoped to the project are the administrator's to see.
 */
describe('project administrators and server-scoped User resources', () => {
  const t = useTestApp();
  let admin: ProjectAdmin;
  let root: SignedIn;
  let member: User & { id: string };
  let membershipId: string;
  let scoped: User & { id: string };

  const as = (session: SignedIn, method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url: `/fhir/R4/${url}`, headers: { ...session.headers, ...(payload ? FHIR_JSON : {}) }, payload: payload ? JSON.stringify(payload) : undefined });

  beforeAll(async () => {
    admin = await createProjectAdmin(t.app, 'Clinic', 'clinic-admin@example.com');
    member = await createAccount(t.app, { email: 'server-member@example.com', password: 'server-member-password-1', firstName: 'Server', lastName: 'Member' });
    const practitioner = await createPractitioner(t.app, admin.projectId);
    membershipId = (
      await createMembership(t.app, {
        projectId: admin.projectId,
        user: `User/${member.id}`,
        profile: `Practitioner/${practitioner.id}`,
        fields: { user: { reference: `User/${member.id}`, display: 'server-member@example.com' } },
      })
    ).id;
    scoped = await createAccount(t.app, { email: 'scoped-member@example.com', password: 'scoped-member-password-1', projectId: admin.projectId });
    await createMembership(t.app, { projectId: admin.projectId, user: `User/${scoped.id}`, profile: `Practitioner/${practitioner.id}` });
    root = await signIn(t.app);
  });

  test('search by email (the probe that used to work), plain search and _summary=count show no server-scoped user', async () => {
    const byEmail = await as(admin.session, 'GET', 'User?email=server-member@example.com');
    expect(byEmail.statusCode).toBe(200);
    expect((byEmail.json() as Bundle).entry ?? []).toEqual([]);
    const all = await as(admin.session, 'GET', 'User?_count=100');
    expect(((all.json() as Bundle).entry ?? []).map((e) => e.resource?.id)).toEqual([scoped.id]);
    expect(all.body).not.toContain(member.id);
    expect((await as(admin.session, 'GET', 'User?_summary=count')).json().total).toBe(1);
  });

  test('read, vread and instance history answer 404, type history leaves it out', async () => {
    expect((await as(admin.session, 'GET', `User/${member.id}`)).statusCode).toBe(404);
    expect((await as(admin.session, 'GET', `User/${member.id}/_history/1`)).statusCode).toBe(404);
    expect((await as(admin.session, 'GET', `User/${member.id}/_history`)).statusCode).toBe(404);
    const history = await as(admin.session, 'GET', 'User/_history');
    expect(history.statusCode).toBe(200);
    expect(history.body).not.toContain(member.id);
    expect(history.body).toContain(scoped.id);
  });

  test('_include and _revinclude do not bring it in', async () => {
    const included = await as(admin.session, 'GET', `ProjectMembership?_id=${membershipId}&_include=ProjectMembership:user`);
    expect(included.statusCode).toBe(200);
    const resources = ((included.json() as Bundle).entry ?? []).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
    expect(resources).toEqual([`ProjectMembership/${membershipId}`]);
    // The person is still visible to the administrator through the membership.
    expect(included.json().entry[0].resource.user).toEqual({ reference: `User/${member.id}`, display: 'server-member@example.com' });
    const rev = await as(admin.session, 'GET', `User?_revinclude=ProjectMembership:user`);
    expect(rev.body).not.toMatch(new RegExp(`"resourceType":"User","id":"${member.id}"`));
    expect(rev.body).not.toContain('"firstName":"Server"');
  });

  test('update and delete answer 404 and change nothing', async () => {
    const before = await snapshotDatabase(t.app);
    expect((await as(admin.session, 'PUT', `User/${member.id}`, { ...member, firstName: 'Hijacked' })).statusCode).toBe(404);
    expect((await as(admin.session, 'DELETE', `User/${member.id}`)).statusCode).toBe(404);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('the users scoped to the project stay visible to its administrator', async () => {
    expect((await as(admin.session, 'GET', `User/${scoped.id}`)).statusCode).toBe(200);
  });

  test('the super administrator sees every user', async () => {
    expect((await as(root, 'GET', `User/${member.id}`)).statusCode).toBe(200);
    const byEmail = await as(root, 'GET', 'User?email=server-member@example.com');
    expect(((byEmail.json() as Bundle).entry ?? []).map((e) => e.resource?.id)).toEqual([member.id]);
  });
});
