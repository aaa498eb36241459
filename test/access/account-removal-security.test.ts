import type { ProjectMembership } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { ACTIVATIONS } from '../../src/accounts/activation';
import { CREDENTIALS } from '../../src/accounts/credentials';
import { LOGINS, type LoginDoc } from '../../src/accounts/sessions';
import { newId } from '../../src/clock';
import { createResource } from '../../src/fhir/repository';
import { defaultUniqueKey } from '../../src/fhir/unique-keys';
import { snapshotDatabase } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { createAccount, createMembership, createPractitioner, repoOf, uniqueEmail } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { form } from '../helpers/auth';
import { createProjectAdmin, FHIR_JSON, type ProjectAdmin } from '../helpers/fhir';

/**
 * A project-scoped user lives and dies with its project membership: deleting its (last)
 * membership deletes the User, its credentials, its activation requests and ends its sessions,
 * in the transaction of the delete. Deleting or deactivating other things ends their sessions at
 * once on this instance (no cache window): a membership, a User, a ClientApplication, a Project.
 */
describe('deleting a membership, user, client or project takes its account data and sessions with it', () => {
  const t = useTestApp();
  let admin: ProjectAdmin;
  let root: SignedIn;
  const PASSWORD = 'removal-password-horse-1';

  beforeAll(async () => {
    admin = await createProjectAdmin(t.app, 'Removals', 'removal-admin@example.com');
    root = await signIn(t.app);
  });

  const db = () => t.app.ctx.database.db;
  const call = (session: SignedIn, method: 'GET' | 'PUT' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url: `/fhir/R4/${url}`, headers: { ...session.headers, ...(payload ? FHIR_JSON : {}) }, payload: payload ? JSON.stringify(payload) : undefined });
  const refresh = (token: string) => t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: token }) });
  const openLogins = (userId: string) => db().collection<LoginDoc>(LOGINS).countDocuments({ userId, revoked: false });
  const expectSessionEnded = async (session: SignedIn) => {
    expect((await call(session, 'GET', 'Practitioner')).statusCode).toBe(401);
    expect((await refresh(session.refreshToken as string)).json().error).toBe('invalid_grant');
  };

  /** A user of the admin's project (project-scoped unless told), with a password, an activation request and a session. */
  async function person(options: { scoped?: boolean; admin?: boolean; extraMembership?: boolean } = {}) {
    const email = uniqueEmail('removal');
    const user = await createAccount(t.app, { email, password: PASSWORD, projectId: options.scoped === false ? undefined : admin.projectId });
    const practitioner = await createPractitioner(t.app, admin.projectId);
    const membership = await createMembership(t.app, { projectId: admin.projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, ...(options.admin ? { admin: true } : {}) });
    // A second membership in the same project (as an invite with forceNewMembership makes one).
    const extraId = newId();
    const extraMembership: ProjectMembership = {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${admin.projectId}` },
      user: { reference: `User/${user.id}` },
      profile: { reference: `Practitioner/${(await createPractitioner(t.app, admin.projectId)).id}` },
    };
    const extra = options.extraMembership
      ? await createResource(repoOf(t.app), extraMembership, { project: admin.projectId, uniqueKey: `${defaultUniqueKey(extraMembership)}|${extraId}` }, extraId)
      : undefined;
    await db().collection(ACTIVATIONS).insertOne({ _id: `act-${user.id}`, userId: user.id, kind: 'reset', secretHash: 'x', createdAt: new Date(), expiresAt: new Date(Date.now() + 3600_000) } as never);
    const session = extra ? undefined : await signIn(t.app, email, PASSWORD, admin.projectId);
    return { user, membership, extra, session, email };
  }

  const accountData = async (userId: string) => ({
    credentials: await db().collection(CREDENTIALS).countDocuments({ _id: userId } as never),
    activations: await db().collection(ACTIVATIONS).countDocuments({ userId }),
    openLogins: await openLogins(userId),
  });

  test('deleting the membership of a project-scoped user deletes the user, its secrets, activations and sessions', async () => {
    const { user, membership, session } = await person();
    expect(await accountData(user.id)).toEqual({ credentials: 1, activations: 1, openLogins: 1 });
    expect((await call(admin.session, 'DELETE', `ProjectMembership/${membership.id}`)).statusCode).toBe(200);
    expect((await call(root, 'GET', `User/${user.id}`)).statusCode).toBe(410);
    expect(await accountData(user.id)).toEqual({ credentials: 0, activations: 0, openLogins: 0 });
    // At once on this instance: no cache window to wait for.
    await expectSessionEnded(session as SignedIn);
    const login = await t.app.inject({ method: 'POST', url: '/auth/login', payload: { email: user.email, password: PASSWORD, projectId: admin.projectId } });
    expect(login.statusCode).toBe(400);
  });

  test('a project-scoped user with two memberships stays until the last one is deleted', async () => {
    const { user, membership, extra } = await person({ extraMembership: true });
    expect((await call(admin.session, 'DELETE', `ProjectMembership/${membership.id}`)).statusCode).toBe(200);
    expect((await call(root, 'GET', `User/${user.id}`)).statusCode).toBe(200);
    expect((await accountData(user.id)).credentials).toBe(1);
    expect((await call(admin.session, 'DELETE', `ProjectMembership/${extra?.id}`)).statusCode).toBe(200);
    expect((await call(root, 'GET', `User/${user.id}`)).statusCode).toBe(410);
    expect(await accountData(user.id)).toEqual({ credentials: 0, activations: 0, openLogins: 0 });
  });

  test('a server-scoped user keeps its account when one membership goes; the sessions through it end', async () => {
    const { user, membership, session } = await person({ scoped: false });
    expect((await call(admin.session, 'DELETE', `ProjectMembership/${membership.id}`)).statusCode).toBe(200);
    expect((await call(root, 'GET', `User/${user.id}`)).statusCode).toBe(200);
    expect(await accountData(user.id)).toEqual({ credentials: 1, activations: 1, openLogins: 0 });
    await expectSessionEnded(session as SignedIn);
  });

  test('a refused membership delete (the owner’s) changes nothing', async () => {
    const { membership: own } = await person({ admin: true });
    // With another administrator present, removing the owner's membership is still refused: nothing changes.
    const before = await snapshotDatabase(t.app);
    const res = await call(root, 'DELETE', `ProjectMembership/${admin.membershipId}`);
    expect(res.statusCode).toBe(409);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    expect((await call(admin.session, 'DELETE', `ProjectMembership/${own.id}`)).statusCode).toBe(200);
  });

  test('deactivating a membership ends its sessions for good: reactivating does not bring old tokens back', async () => {
    const { membership, session } = await person();
    const put = async (fields: Partial<ProjectMembership>) =>
      call(admin.session, 'PUT', `ProjectMembership/${membership.id}`, { ...(await call(admin.session, 'GET', `ProjectMembership/${membership.id}`)).json(), ...fields });
    expect((await put({ active: false })).statusCode).toBe(200);
    expect((await call(session as SignedIn, 'GET', 'Practitioner')).statusCode).toBe(401);
    expect((await put({ active: true })).statusCode).toBe(200);
    await expectSessionEnded(session as SignedIn);
  });

  test('deleting a project-scoped User deletes its memberships and account data', async () => {
    const { user, membership, session } = await person();
    expect((await call(admin.session, 'DELETE', `User/${user.id}`)).statusCode).toBe(200);
    expect((await call(admin.session, 'GET', `ProjectMembership/${membership.id}`)).statusCode).toBe(410);
    expect(await accountData(user.id)).toEqual({ credentials: 0, activations: 0, openLogins: 0 });
    await expectSessionEnded(session as SignedIn);
  });

  test('deleting the project-scoped User of the last administrator is refused (409), nothing written', async () => {
    const lone = await createProjectAdmin(t.app, 'Lone', uniqueEmail('lone'));
    const scoped = await createAccount(t.app, { email: uniqueEmail('lone-scoped'), password: PASSWORD, projectId: lone.projectId });
    const practitioner = await createPractitioner(t.app, lone.projectId);
    await createMembership(t.app, { projectId: lone.projectId, user: `User/${scoped.id}`, profile: `Practitioner/${practitioner.id}`, admin: true });
    // The owner's membership is removable only by making the scoped user the last admin first.
    const project = (await call(root, 'GET', `Project/${lone.projectId}`)).json();
    expect((await call(root, 'PUT', `Project/${lone.projectId}`, { ...project, owner: { reference: `User/${scoped.id}` } })).statusCode).toBe(200);
    expect((await call(root, 'DELETE', `ProjectMembership/${lone.membershipId}`)).statusCode).toBe(200);
    const before = await snapshotDatabase(t.app);
    const res: LightMyRequestResponse = await call(root, 'DELETE', `User/${scoped.id}`);
    expect(res.statusCode).toBe(409);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('deleting a ClientApplication removes its secret, its membership and its sessions at once', async () => {
    const created = (await t.app.inject({ method: 'POST', url: `/admin/projects/${admin.projectId}/client`, headers: admin.session.headers, payload: { name: 'Gone soon' } })).json();
    const token = (await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: created.id, client_secret: created.secret }) })).json();
    const headers = { authorization: `Bearer ${token.access_token}` };
    expect((await t.app.inject({ method: 'GET', url: '/fhir/R4/Practitioner', headers })).statusCode).toBe(200);
    expect((await call(admin.session, 'DELETE', `ClientApplication/${created.id}`)).statusCode).toBe(200);
    expect((await t.app.inject({ method: 'GET', url: '/fhir/R4/Practitioner', headers })).statusCode).toBe(401);
    expect(await db().collection(CREDENTIALS).countDocuments({ _id: created.id } as never)).toBe(0);
    expect(await openLogins(created.id)).toBe(0);
    const memberships = await call(admin.session, 'GET', `ProjectMembership?user=ClientApplication/${created.id}`);
    expect(memberships.json().entry ?? []).toEqual([]);
  });

  test('deleting a project ends every session into it at once; its resources stay for the super administrator', async () => {
    const doomed = await createProjectAdmin(t.app, 'Doomed', uniqueEmail('doomed'));
    expect((await call(doomed.session, 'GET', 'Practitioner')).statusCode).toBe(200);
    expect((await call(root, 'DELETE', `Project/${doomed.projectId}`)).statusCode).toBe(200);
    expect(await db().collection<LoginDoc>(LOGINS).countDocuments({ projectId: doomed.projectId, revoked: false })).toBe(0);
    await expectSessionEnded(doomed.session);
    expect((await call(root, 'GET', `ProjectMembership/${doomed.membershipId}`)).statusCode).toBe(200);
    expect((await call(root, 'GET', `Practitioner/${doomed.practitionerId}`)).statusCode).toBe(200);
  });
});
