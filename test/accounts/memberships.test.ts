import { snapshotDatabase } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { addMembership, createProject, createUser, exchangeCode, startLogin } from '../helpers/auth';

describe('memberships at sign-in', () => {
  const t = useTestApp();

  test('a user with several memberships chooses one with /auth/profile', async () => {
    const a = await createProject(t.app, 'Alpha Clinic');
    const b = await createProject(t.app, 'Beta Clinic');
    const user = await createUser(t.app, 'multi@example.com', 'multi-password-1');
    const inA = await addMembership(t.app, a.id, `User/${user.id}`);
    const inB = await addMembership(t.app, b.id, `User/${user.id}`, 'Practitioner', { admin: true });

    const { status, body, verifier } = await startLogin(t.app, { email: 'multi@example.com', password: 'multi-password-1' });
    expect(status).toBe(200);
    expect(body.code).toBeUndefined();
    const memberships = body.memberships as { id: string; project: { reference: string; display?: string }; profile: { reference: string } }[];
    expect(memberships.map((m) => m.id).sort()).toEqual([inA.membership.id, inB.membership.id].sort());
    expect(memberships.find((m) => m.id === inB.membership.id)).toMatchObject({ project: { reference: `Project/${b.id}`, display: 'Beta Clinic' }, profile: inB.profile });
    expect(JSON.stringify(body)).not.toMatch(/admin|passwordHash/);

    const unknown = await t.app.inject({ method: 'POST', url: '/auth/profile', payload: { login: body.login, profile: 'not-a-membership' } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().issue[0].expression).toEqual(['profile']);

    const chosen = await t.app.inject({ method: 'POST', url: '/auth/profile', payload: { login: body.login, profile: inB.membership.id } });
    expect(chosen.statusCode).toBe(200);
    expect(chosen.json()).toEqual({ login: body.login, code: expect.any(String) });
    const tokens = await exchangeCode(t.app, chosen.json().code, verifier);
    expect(tokens.project).toEqual({ reference: `Project/${b.id}` });
    expect(tokens.profile).toEqual(inB.profile);

    const me = await t.app.inject({ method: 'GET', url: '/auth/me', headers: { authorization: `Bearer ${tokens.access_token}` } });
    expect(me.json()).toMatchObject({ project: { id: b.id, name: 'Beta Clinic' }, membership: { id: inB.membership.id, admin: true } });

    const again = await t.app.inject({ method: 'POST', url: '/auth/profile', payload: { login: body.login, profile: inA.membership.id } });
    expect(again.statusCode).toBe(400);
  });

  test('projectId narrows the choice to one membership, which gives a code at once', async () => {
    const c = await createProject(t.app, 'Gamma');
    const d = await createProject(t.app, 'Delta');
    const user = await createUser(t.app, 'two@example.com', 'two-password-22');
    await addMembership(t.app, c.id, `User/${user.id}`);
    const inD = await addMembership(t.app, d.id, `User/${user.id}`);
    const { body, verifier } = await startLogin(t.app, { email: 'two@example.com', password: 'two-password-22', projectId: d.id });
    expect(body.code).toEqual(expect.any(String));
    expect((await exchangeCode(t.app, body.code as string, verifier)).profile).toEqual(inD.profile);
  });

  test('a project-scoped patient signs in with projectId, and not without it', async () => {
    const project = await createProject(t.app, 'Patients R Us');
    const patient = await createUser(t.app, 'pat@example.com', 'patient-pass-1', project.id);
    const { profile } = await addMembership(t.app, project.id, `User/${patient.id}`, 'Patient');

    const without = await startLogin(t.app, { email: 'pat@example.com', password: 'patient-pass-1' });
    expect(without.status).toBe(400);
    expect(without.body).toMatchObject({ issue: [{ details: { text: 'Email or password is invalid' } }] });

    const other = await createProject(t.app, 'Elsewhere');
    const wrongProject = await startLogin(t.app, { email: 'pat@example.com', password: 'patient-pass-1', projectId: other.id });
    expect(wrongProject.status).toBe(400);
    expect(wrongProject.body).toEqual(without.body);

    const withProject = await startLogin(t.app, { email: 'pat@example.com', password: 'patient-pass-1', projectId: project.id });
    expect(withProject.status).toBe(200);
    const tokens = await exchangeCode(t.app, withProject.body.code as string, withProject.verifier);
    expect(tokens.profile).toEqual(profile);
    expect(tokens.patient).toBe(profile.reference?.split('/')[1]);
  });

  test('the same email can be a server user and a project-scoped user; projectId picks the scoped one', async () => {
    const project = await createProject(t.app, 'Scoped');
    const server = await createUser(t.app, 'both@example.com', 'server-password-1');
    const scoped = await createUser(t.app, 'both@example.com', 'scoped-password-1', project.id);
    await addMembership(t.app, project.id, `User/${server.id}`);
    const scopedMember = await addMembership(t.app, project.id, `User/${scoped.id}`, 'Patient');
    const asScoped = await startLogin(t.app, { email: 'both@example.com', password: 'scoped-password-1', projectId: project.id });
    expect((await exchangeCode(t.app, asScoped.body.code as string, asScoped.verifier)).profile).toEqual(scopedMember.profile);
    const asServer = await startLogin(t.app, { email: 'both@example.com', password: 'server-password-1' });
    expect(asServer.status).toBe(200);
  });

  test('resourceType keeps only memberships with that profile type', async () => {
    const e = await createProject(t.app, 'Epsilon');
    const user = await createUser(t.app, 'typed@example.com', 'typed-password-1');
    await addMembership(t.app, e.id, `User/${user.id}`, 'Practitioner');
    const f = await createProject(t.app, 'Phi');
    const asPatient = await addMembership(t.app, f.id, `User/${user.id}`, 'Patient');
    const { body, verifier } = await startLogin(t.app, { email: 'typed@example.com', password: 'typed-password-1', resourceType: 'Patient' });
    expect((await exchangeCode(t.app, body.code as string, verifier)).profile).toEqual(asPatient.profile);
  });

  test('a correct password without any membership is refused and writes nothing', async () => {
    await createUser(t.app, 'lonely@example.com', 'lonely-password-1');
    const before = await snapshotDatabase(t.app);
    const res = await startLogin(t.app, { email: 'lonely@example.com', password: 'lonely-password-1' });
    expect(res.status).toBe(400);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('/auth/profile refuses unknown logins', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/auth/profile', payload: { login: 'nope', profile: 'x' } });
    expect(res.statusCode).toBe(400);
    expect(res.json().issue[0].expression).toEqual(['login']);
  });
});
