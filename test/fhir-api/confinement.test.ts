import type { Bundle, Patient, User } from '@medplum/fhirtypes';
import { useSignIn, useTestApp } from '../helpers/suite';
import type { SignedIn } from '../helpers/auth';
import { createPolicyMember, createProjectAdmin, entryIds, FHIR_JSON, post, type ProjectAdmin } from '../helpers/fhir';

describe('project confinement', () => {
  const t = useTestApp();
  const root = useSignIn(t);
  let second: ProjectAdmin;
  let rootProject: string;
  let mine: Patient & { id: string };
  let theirs: Patient & { id: string };

  beforeAll(async () => {
    rootProject = root.project?.reference?.split('/')[1] as string;
    second = await createProjectAdmin(t.app, 'Second', 'second-admin@example.com');
    theirs = await post<Patient>(t.app, root.headers, { resourceType: 'Patient', name: [{ family: 'Rootpatient' }] });
    mine = await post<Patient>(t.app, second.session.headers, { resourceType: 'Patient', name: [{ family: 'Secondpatient' }] });
  });

  const as = (who: SignedIn, method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, payload?: unknown) =>
    t.app.inject({ method, url, headers: { ...who.headers, ...(payload ? FHIR_JSON : {}) }, payload: payload as string });

  test("the second project's admin writes into its own project", () => {
    expect(mine.meta?.project).toBe(second.projectId);
  });

  test("another project's resources are invisible: read, vread, history, update and delete all answer 404", async () => {
    for (const [method, url, body] of [
      ['GET', `/fhir/R4/Patient/${theirs.id}`],
      ['GET', `/fhir/R4/Patient/${theirs.id}/_history/1`],
      ['GET', `/fhir/R4/Patient/${theirs.id}/_history`],
      ['PUT', `/fhir/R4/Patient/${theirs.id}`, { ...theirs, name: [{ family: 'Hijacked' }] }],
      ['DELETE', `/fhir/R4/Patient/${theirs.id}`],
      ['GET', `/fhir/R4/Project/${rootProject}`],
    ] as const) {
      const res = await as(second.session, method, url, body);
      expect({ method, url, status: res.statusCode }).toEqual({ method, url, status: 404 });
    }
    const still = await as(root, 'GET', `/fhir/R4/Patient/${theirs.id}`);
    expect((still.json() as Patient).name?.[0].family).toBe('Rootpatient');
  });

  test('searches and type history only hold the caller project; the super administrator sees all', async () => {
    expect(entryIds(await as(second.session, 'GET', '/fhir/R4/Patient'))).toEqual([`Patient/${mine.id}`]);
    expect(entryIds(await as(second.session, 'GET', '/fhir/R4/Patient?name=rootpatient'))).toEqual([]);
    expect(entryIds(await as(second.session, 'GET', `/fhir/R4/Patient?_id=${theirs.id}`))).toEqual([]);
    expect(entryIds(await as(second.session, 'GET', `/fhir/R4/Patient?_project=${rootProject}`))).toEqual([]);
    expect(entryIds(await as(second.session, 'GET', '/fhir/R4/Project'))).toEqual([`Project/${second.projectId}`]);
    const memberships = entryIds(await as(second.session, 'GET', '/fhir/R4/ProjectMembership'));
    expect(memberships).toEqual([`ProjectMembership/${second.membershipId}`]);
    const history = (await as(second.session, 'GET', '/fhir/R4/Patient/_history')).json() as Bundle;
    expect(history.entry?.map((e) => e.resource?.id)).toEqual([mine.id]);

    const all = entryIds(await as(root, 'GET', '/fhir/R4/Patient'));
    expect(all.sort()).toEqual([`Patient/${mine.id}`, `Patient/${theirs.id}`].sort());
  });

  test('includes never reach into another project', async () => {
    const res = await as(second.session, 'GET', `/fhir/R4/Practitioner?_revinclude=ProjectMembership:profile`);
    expect(entryIds(res)).toEqual([`Practitioner/${second.practitionerId}`]);
    expect(entryIds(res, 'include')).toEqual([`ProjectMembership/${second.membershipId}`]);
  });

  test('a project admin cannot place a resource in another project', async () => {
    const created = await post<Patient>(t.app, second.session.headers, { resourceType: 'Patient', meta: { project: rootProject } });
    expect(created.meta?.project).toBe(second.projectId);
    const membership = await as(second.session, 'POST', '/fhir/R4/ProjectMembership', {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${rootProject}` },
      user: { reference: `User/${second.userId}` },
      profile: { reference: `Practitioner/${second.practitionerId}` },
    });
    expect(membership.statusCode).toBe(403);
    const project = await as(second.session, 'POST', '/fhir/R4/Project', { resourceType: 'Project', name: 'Escape' });
    expect(project.statusCode).toBe(403);
  });

  test('the super administrator may create in another project through meta.project', async () => {
    const created = await post<Patient>(t.app, root.headers, { resourceType: 'Patient', meta: { project: second.projectId } });
    expect(created.meta?.project).toBe(second.projectId);
    expect((await as(second.session, 'GET', `/fhir/R4/Patient/${created.id}`)).statusCode).toBe(200);
  });

  test('users: server-scoped users (its own included) are not User resources a project admin sees; no secret ever appears', async () => {
    const own = await as(second.session, 'GET', `/fhir/R4/User/${second.userId}`);
    expect(own.statusCode).toBe(404);
    const rootUserId = (await t.app.ctx.database.db.collection<{ _id: string }>('User').findOne({ 'resource.email': 'admin@example.com' }))?._id as string;
    expect((await as(second.session, 'GET', `/fhir/R4/User/${rootUserId}`)).statusCode).toBe(404);
    const users = await as(root, 'GET', '/fhir/R4/User?_count=100');
    const body = users.body + own.body + (await as(root, 'GET', `/fhir/R4/User/_history`)).body;
    expect(body).not.toMatch(/passwordHash|argon2/);
    expect(entryIds(users)).toEqual(expect.arrayContaining([`User/${rootUserId}`, `User/${second.userId}`]));
    expect((users.json() as Bundle<User>).entry?.every((e) => e.resource?.resourceType === 'User')).toBe(true);
  });

  test("an access policy's criteria filter searches, history and reads; criteria the server cannot search fail closed", async () => {
    const female = await post<Patient>(t.app, second.session.headers, { resourceType: 'Patient', gender: 'female', name: [{ family: 'Criteria' }] });
    const male = await post<Patient>(t.app, second.session.headers, { resourceType: 'Patient', gender: 'male', name: [{ family: 'Criteria' }] });
    const member = await createPolicyMember(t.app, second.projectId, 'member@example.com', {
      resourceType: 'AccessPolicy',
      name: 'Women only',
      resource: [{ resourceType: 'Patient', criteria: 'Patient?gender=female' }],
    });
    expect(entryIds(await as(member, 'GET', '/fhir/R4/Patient?name=criteria'))).toEqual([`Patient/${female.id}`]);
    expect((await as(member, 'GET', `/fhir/R4/Patient/${male.id}`)).statusCode).toBe(404);
    expect((await as(member, 'GET', `/fhir/R4/Patient/${female.id}`)).statusCode).toBe(200);
    const history = (await as(member, 'GET', '/fhir/R4/Patient/_history')).json() as Bundle;
    expect(history.entry?.map((e) => e.resource?.id)).toEqual([female.id]);

    const odd = await createPolicyMember(t.app, second.projectId, 'odd@example.com', {
      resourceType: 'AccessPolicy',
      name: 'Unsearchable',
      resource: [{ resourceType: 'Patient', criteria: 'Patient?language=fr' }],
    });
    const res = await as(odd, 'GET', '/fhir/R4/Patient');
    expect(res.statusCode).toBe(403);
  });
});
