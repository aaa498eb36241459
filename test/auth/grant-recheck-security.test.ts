import type { ProjectMembership } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { deleteResource, readStored, updateResource } from '../../src/fhir/repository';
import { snapshotDatabase, TestClock } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { repoOf } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { addMembership, createProject, createUser, exchangeCode, form, startLogin } from '../helpers/auth';

/**
 * Every grant is re-checked against the database: a token (access or refresh), an HTTP Basic
 * client, an authorization code and a pending sign-in stop working once their User,
 * ClientApplication, Project or ProjectMembership is deleted or deactivated. A change made behind
 * this instance (another instance, or straight in the database, as here) applies within the
 * cache window (5 s per instance), stepped over with the test clock.
 */
describe('deleted or deactivated principals lose their sessions', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });
  const CACHE_WINDOW_MS = 5_001;
  let counter = 0;

  const repo = () => repoOf(t.app);
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const get = (url: string, headers: Record<string, string>) => t.app.inject({ method: 'GET', url, headers });
  const refresh = (refreshToken: string) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: refreshToken }) });
  const createPatient = (headers: Record<string, string>) =>
    t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...headers, 'content-type': 'application/fhir+json' }, payload: { resourceType: 'Patient', name: [{ family: 'Probe' }] } });
  const expectInvalidGrant = (res: LightMyRequestResponse, pattern: RegExp) => {
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: 'invalid_grant', error_description: expect.stringMatching(pattern) });
  };
  const expect401 = (res: LightMyRequestResponse, pattern: RegExp) => {
    expect(res.statusCode).toBe(401);
    expect(res.json().issue[0].diagnostics).toMatch(pattern);
  };

  /** A user (project-scoped when asked) with one membership in a new project, signed in. */
  async function member(options: { scoped?: boolean; admin?: boolean } = {}) {
    counter += 1;
    const project = await createProject(t.app, `Grants ${counter}`);
    const email = `grant-${counter}@example.com`;
    const password = `grant-password-${counter}-horse`;
    const user = await createUser(t.app, email, password, options.scoped ? project.id : undefined);
    const { membership } = await addMembership(t.app, project.id, `User/${user.id}`, 'Practitioner', options.admin ? { admin: true } : {});
    const session = await signIn(t.app, email, password, project.id);
    return { project, user, membership, session, email, password };
  }

  /** The token and refresh token work now (this also fills every cache on the way). */
  async function expectWorking(session: SignedIn): Promise<string> {
    expect((await get('/fhir/R4/Patient', session.headers)).statusCode).toBe(200);
    expect((await get('/auth/me', session.headers)).statusCode).toBe(200);
    const rotated = await refresh(session.refreshToken as string);
    expect(rotated.statusCode).toBe(200);
    return rotated.json().refresh_token as string;
  }

  async function setMembership(id: string, fields: Partial<ProjectMembership>): Promise<void> {
    const stored = await readStored<ProjectMembership>(repo(), 'ProjectMembership', id);
    await updateResource<ProjectMembership>(repo(), { ...(stored?.resource as ProjectMembership), ...fields });
  }

  test('a deleted project-scoped user: access token 401, refresh token refused', async () => {
    const { user, session } = await member({ scoped: true });
    const refreshToken = await expectWorking(session);
    await deleteResource(repo(), 'User', user.id);
    clock.advance(CACHE_WINDOW_MS);
    expect401(await get('/fhir/R4/Patient', session.headers), /account of this sign-in no longer exists/);
    expect401(await get('/auth/me', session.headers), /account/);
    expectInvalidGrant(await refresh(refreshToken), /account of this sign-in no longer exists/);
  });

  test('a deleted server-scoped user: the same', async () => {
    const { user, session } = await member();
    const refreshToken = await expectWorking(session);
    await deleteResource(repo(), 'User', user.id);
    clock.advance(CACHE_WINDOW_MS);
    expect401(await get('/fhir/R4/Patient', session.headers), /account/);
    expectInvalidGrant(await refresh(refreshToken), /account/);
  });

  test('a deleted project: its administrator can neither search nor create in it, nor refresh', async () => {
    const { project, session } = await member({ admin: true });
    const refreshToken = await expectWorking(session);
    expect((await createPatient(session.headers)).statusCode).toBe(201);
    await deleteResource(repo(), 'Project', project.id);
    clock.advance(CACHE_WINDOW_MS);
    expect401(await get('/fhir/R4/Patient', session.headers), /project of this sign-in no longer exists/);
    const before = await snapshotDatabase(t.app);
    expect401(await createPatient(session.headers), /project/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    expect401(await get('/auth/me', session.headers), /project/);
    expectInvalidGrant(await refresh(refreshToken), /project of this sign-in no longer exists/);
  });

  test('an inactive membership: /auth/me, FHIR and refresh are refused', async () => {
    const { membership, session } = await member();
    const refreshToken = await expectWorking(session);
    await setMembership(membership.id, { active: false });
    clock.advance(CACHE_WINDOW_MS);
    expect401(await get('/auth/me', session.headers), /not active/);
    expect401(await get('/fhir/R4/Patient', session.headers), /not active/);
    expect401(await get('/auth/mfa/status', session.headers), /not active/);
    expectInvalidGrant(await refresh(refreshToken), /not active/);
  });

  test('a deleted membership: every authenticated route and refresh are refused', async () => {
    const { membership, session } = await member();
    const refreshToken = await expectWorking(session);
    expect((await get('/auth/mfa/status', session.headers)).statusCode).toBe(200);
    await deleteResource(repo(), 'ProjectMembership', membership.id);
    clock.advance(CACHE_WINDOW_MS);
    expect401(await get('/auth/mfa/status', session.headers), /membership of this sign-in no longer exists/);
    expect401(await get('/auth/me', session.headers), /membership/);
    expectInvalidGrant(await refresh(refreshToken), /membership of this sign-in no longer exists/);
  });

  test('a deleted ClientApplication: its client-credentials token and HTTP Basic are refused', async () => {
    const admin = await member({ admin: true });
    const created = await t.app.inject({ method: 'POST', url: `/admin/projects/${admin.project.id}/client`, headers: admin.session.headers, payload: { name: 'Doomed client' } });
    expect(created.statusCode).toBe(201);
    const { id, secret } = created.json() as { id: string; secret: string };
    const token = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: id, client_secret: secret }) });
    expect(token.statusCode).toBe(200);
    const accessToken = token.json().access_token as string;
    const basic = { authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` };
    expect((await get('/fhir/R4/Patient', bearer(accessToken))).statusCode).toBe(200);
    expect((await get('/fhir/R4/Patient', basic)).statusCode).toBe(200);

    await deleteResource(repo(), 'ClientApplication', id);
    clock.advance(CACHE_WINDOW_MS);
    expect401(await get('/fhir/R4/Patient', bearer(accessToken)), /client application no longer exists/);
    expect401(await get('/auth/me', bearer(accessToken)), /client application/);
    expect((await get('/fhir/R4/Patient', basic)).statusCode).toBe(401);
    const before = await snapshotDatabase(t.app);
    expect401(await createPatient(bearer(accessToken)), /client application/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a client turned off (status other than active) is refused the same way', async () => {
    const admin = await member({ admin: true });
    const { id, secret } = (await t.app.inject({ method: 'POST', url: `/admin/projects/${admin.project.id}/client`, headers: admin.session.headers, payload: { name: 'Paused' } })).json();
    const accessToken = (await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: id, client_secret: secret }) })).json().access_token;
    expect((await get('/fhir/R4/Patient', bearer(accessToken))).statusCode).toBe(200);
    const stored = await readStored(repo(), 'ClientApplication', id);
    await updateResource(repo(), { ...(stored?.resource as object), status: 'off' } as never);
    clock.advance(CACHE_WINDOW_MS);
    expect401(await get('/fhir/R4/Patient', bearer(accessToken)), /turned off/);
  });

  test('an authorization code is refused once its membership is deactivated', async () => {
    const { membership, email, password, project } = await member();
    const login = await startLogin(t.app, { email, password, projectId: project.id });
    expect(login.body.code).toEqual(expect.any(String));
    await setMembership(membership.id, { active: false });
    const before = await snapshotDatabase(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'authorization_code', code: login.body.code as string, code_verifier: login.verifier }) });
    expectInvalidGrant(res, /not active/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('/auth/profile refuses a membership whose user was deleted after the password step', async () => {
    const a = await createProject(t.app, 'Profile A');
    const b = await createProject(t.app, 'Profile B');
    const user = await createUser(t.app, 'profile-choice@example.com', 'profile-choice-password-1');
    const inA = await addMembership(t.app, a.id, `User/${user.id}`);
    await addMembership(t.app, b.id, `User/${user.id}`);
    const { body } = await startLogin(t.app, { email: 'profile-choice@example.com', password: 'profile-choice-password-1' });
    expect(body.memberships).toHaveLength(2);
    await deleteResource(repo(), 'User', user.id);
    const before = await snapshotDatabase(t.app);
    const chosen = await t.app.inject({ method: 'POST', url: '/auth/profile', payload: { login: body.login, profile: inA.membership.id } });
    expect(chosen.statusCode).toBe(400);
    expect(chosen.json().issue[0]).toMatchObject({ expression: ['login'], diagnostics: expect.stringMatching(/account of this sign-in no longer exists/) });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a demoted administrator gets a token without the admin flag at the code exchange', async () => {
    const { membership, email, password, project } = await member({ admin: true });
    const login = await startLogin(t.app, { email, password, projectId: project.id });
    await setMembership(membership.id, { admin: false });
    const tokens = await exchangeCode(t.app, login.body.code as string, login.verifier);
    const claims = JSON.parse(Buffer.from(tokens.access_token.split('.')[1], 'base64url').toString());
    expect(claims.project_admin).toBe(false);
  });
});
