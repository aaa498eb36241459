import type { Patient, Project, ProjectMembership } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { updateResource, type StoredResource } from '../../src/fhir/repository';
import { TestClock } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { create, createAccount, createMembership, createPractitioner, createProject, repoOf, uniqueEmail } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';

/**
 * A super-admin access token is only as good as the membership behind it: once that membership
 * is deleted, deactivated or demoted, the token stops being a super administrator's, through the
 * FHIR API at once and behind this instance's back within the scope cache's lifetime (5 s).
 */
describe('a super-admin token follows its stored membership', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });
  const root = useSignIn(t);
  let superProjectId: string;
  let outsider: Patient & { id: string };

  beforeAll(async () => {
    const stored = await t.app.ctx.database.db.collection<StoredResource<Project>>('Project').findOne({ 'resource.superAdmin': true });
    superProjectId = stored?._id as string;
    const elsewhere = await createProject(t.app, { name: 'Elsewhere' });
    outsider = await create<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Outsider' }] }, elsewhere.id);
  });

  const claimsOf = (session: SignedIn): Record<string, unknown> => JSON.parse(Buffer.from(session.accessToken.split('.')[1], 'base64url').toString('utf8'));
  const call = (session: SignedIn, method: 'GET' | 'PUT' | 'DELETE' | 'POST', url: string, payload?: object): Promise<LightMyRequestResponse> =>
    t.app.inject({
      method,
      url: `/fhir/R4/${url}`,
      headers: { ...session.headers, ...(payload ? { 'content-type': 'application/fhir+json' } : {}) },
      payload: payload ? JSON.stringify(payload) : undefined,
    });

  /** A second super administrator: an admin membership of the super-admin project, signed in. */
  async function secondSuperAdmin(): Promise<{ session: SignedIn; membership: ProjectMembership & { id: string } }> {
    const email = uniqueEmail('second-root');
    const password = 'second-root-Correct-Horse-9';
    const user = await createAccount(t.app, { email, password });
    const practitioner = await createPractitioner(t.app, superProjectId);
    const membership = await createMembership(t.app, { projectId: superProjectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, admin: true });
    const session = await signIn(t.app, email, password, superProjectId);
    expect(claimsOf(session)).toMatchObject({ super_admin: true, membership_id: membership.id });
    // A super administrator now: sees another project's patient and every user.
    expect((await call(session, 'GET', `Patient/${outsider.id}`)).statusCode).toBe(200);
    expect((await call(session, 'GET', 'User')).statusCode).toBe(200);
    return { session, membership };
  }

  /** No longer a super administrator: no users, nothing of another project, no new project. */
  async function expectConfined(session: SignedIn): Promise<void> {
    // The bootstrap administrator's own (super) scope is fresh in the cache: it must not be shared.
    expect((await call(root, 'GET', 'User')).statusCode).toBe(200);
    const users = await call(session, 'GET', 'User');
    expect(users.statusCode).toBe(403);
    expect((await call(session, 'GET', `Patient/${outsider.id}`)).statusCode).toBe(404);
    expect((await call(session, 'POST', 'Project', { resourceType: 'Project', name: 'Not allowed' })).statusCode).toBe(403);
  }

  test('a membership deleted through the API ends the token (401), now and after the cache lifetime', async () => {
    const { session, membership } = await secondSuperAdmin();
    expect((await call(root, 'DELETE', `ProjectMembership/${membership.id}`)).statusCode).toBe(200);
    expect((await call(root, 'GET', 'User')).statusCode).toBe(200);
    expect((await call(session, 'GET', 'User')).statusCode).toBe(401);
    clock.advance(5_001);
    expect((await call(session, 'GET', 'User')).statusCode).toBe(401);
    expect((await call(session, 'GET', `Patient/${outsider.id}`)).statusCode).toBe(401);
  });

  test('a membership demoted through the API confines the token to a plain member of the project', async () => {
    const { session, membership } = await secondSuperAdmin();
    const demoted = await call(root, 'PUT', `ProjectMembership/${membership.id}`, { ...membership, admin: false });
    expect(demoted.statusCode).toBe(200);
    await expectConfined(session);
    clock.advance(5_001);
    await expectConfined(session);
  });

  test('a membership deactivated through the API ends the token (401)', async () => {
    const { session, membership } = await secondSuperAdmin();
    expect((await call(root, 'PUT', `ProjectMembership/${membership.id}`, { ...membership, active: false })).statusCode).toBe(200);
    expect((await call(session, 'GET', 'User')).statusCode).toBe(401);
  });

  test('a membership demoted behind the server (straight into the database) confines the token within the cache lifetime', async () => {
    const { session, membership } = await secondSuperAdmin();
    await updateResource<ProjectMembership>(repoOf(t.app), { ...membership, admin: false });
    clock.advance(5_001);
    await expectConfined(session);
  });
});
