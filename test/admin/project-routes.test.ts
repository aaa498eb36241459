import type { ClientApplication, Patient, ProjectMembership } from '@medplum/fhirtypes';
import { setCredentials } from '../../src/accounts/credentials';
import { MEMBERSHIP_MFA_REQUIRED_URL } from '../../src/accounts/memberships';
import { readStored, updateResource } from '../../src/fhir/repository';
import { INVITE_STATUS_URL } from '../../src/invite/invite-status';
import { TestClock } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { create, createAccount, createMembership, createPractitioner, createProject, passwordHashOf, repoOf } from '../helpers/fixtures';
import { useTestApp } from '../helpers/suite';
import { createProjectAdmin, type ProjectAdmin } from '../helpers/fhir';

/**
 * GET /admin/projects/{id}: a project's members with what the Users tab shows, for that
 * project's administrators and the super administrator only, paginated, and never a credential.
 */
describe('GET /admin/projects/{id}', () => {
  const clock = new TestClock();
  const t = useTestApp({ clock });
  const MFA_SECRET = 'KRSXG5CTMVRXEZLUKN2XAZLSNFSWC3TF';
  let root: SignedIn;
  let owner: ProjectAdmin;
  let other: ProjectAdmin;
  let ids: Record<string, string>;

  const get = (session: SignedIn | undefined, url: string) => t.app.inject({ method: 'GET', url, headers: session?.headers ?? {} });

  beforeAll(async () => {
    root = await signIn(t.app);
    owner = await createProjectAdmin(t.app, 'Harbour', 'harbour-owner@example.com');
    other = await createProjectAdmin(t.app, 'Elsewhere', 'elsewhere-owner@example.com');
    const projectId = owner.projectId;

    // A project-scoped patient who must use MFA and has enrolled (a confirmed secret).
    const patientUser = await createAccount(t.app, { email: 'pat@example.com', password: 'patient-password-42', projectId, mfaRequired: true, firstName: 'Pat', lastName: 'Quill' });
    await setCredentials(t.app.ctx.database, patientUser.id, { passwordHash: await passwordHashOf('patient-password-42'), mfaSecret: MFA_SECRET });
    const patient = await create<Patient>(t.app, { resourceType: 'Patient', name: [{ given: ['Pat'], family: 'Quill' }] }, projectId);
    const patientMembership = await createMembership(t.app, { projectId, user: `User/${patientUser.id}`, profile: `Patient/${patient.id}` });

    // A server-scoped practitioner whose membership requires MFA, invited and still pending (link expired).
    const serverUser = await createAccount(t.app, { email: 'server.person@example.com', password: 'server-password-42', firstName: 'Sam', lastName: 'Server' });
    const serverPractitioner = await createPractitioner(t.app, projectId, { name: [{ given: ['Sam'], family: 'Server' }] });
    const expiredInvite = {
      url: INVITE_STATUS_URL,
      extension: [
        { url: 'status', valueCode: 'pending' },
        { url: 'expiresAt', valueDateTime: new Date(clock.now().getTime() - 60_000).toISOString() },
      ],
    };
    const serverMembership = await createMembership(t.app, {
      projectId,
      user: `User/${serverUser.id}`,
      profile: `Practitioner/${serverPractitioner.id}`,
      fields: { extension: [{ url: MEMBERSHIP_MFA_REQUIRED_URL, valueBoolean: true }, expiredInvite] },
    });

    // An accepted member whose profile points at ANOTHER project's practitioner: its name must not show.
    const foreign = await createPractitioner(t.app, other.projectId, { name: [{ given: ['Secret'], family: 'Foreigner' }] });
    const acceptedUser = await createAccount(t.app, { email: 'accepted@example.com', password: 'accepted-password-42' });
    const acceptedMembership = await createMembership(t.app, {
      projectId,
      user: `User/${acceptedUser.id}`,
      profile: `Practitioner/${foreign.id}`,
      fields: { profile: { reference: `Practitioner/${foreign.id}`, display: 'Shown Display' }, extension: [{ url: INVITE_STATUS_URL, extension: [{ url: 'status', valueCode: 'accepted' }] }] },
    });

    // A client application member with a secret in its credentials.
    const client = await create<ClientApplication>(t.app, { resourceType: 'ClientApplication', name: 'Harbour Bot' }, projectId);
    await setCredentials(t.app.ctx.database, client.id, { clientSecretHash: 'hash-of-client-secret' });
    const clientMembership = await createMembership(t.app, { projectId, user: `ClientApplication/${client.id}`, profile: `ClientApplication/${client.id}` });

    ids = {
      patientUser: patientUser.id,
      patientMembership: patientMembership.id,
      serverMembership: serverMembership.id,
      acceptedMembership: acceptedMembership.id,
      clientMembership: clientMembership.id,
    };
  });

  test('the project administrator sees every member with the Users tab fields', async () => {
    const res = await get(owner.session, `/admin/projects/${owner.projectId}`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json();
    expect(body).toMatchObject({ project: { id: owner.projectId, name: 'Harbour' }, total: 5, offset: 0, count: 5 });
    const byMembership = new Map<string, Record<string, unknown>>(body.members.map((m: { membershipId: string }) => [m.membershipId, m]));

    expect(byMembership.get(owner.membershipId)).toEqual({
      membershipId: owner.membershipId,
      profile: `Practitioner/${owner.practitionerId}`,
      profileType: 'Practitioner',
      user: `User/${owner.userId}`,
      userType: 'User',
      name: 'Harbour Admin',
      email: 'harbour-owner@example.com',
      role: 'owner',
      admin: true,
      active: true,
      accountScope: 'server',
      mfaRequired: false,
      mfaEnrolled: false,
      inviteActions: [],
    });
    expect(byMembership.get(ids.patientMembership)).toMatchObject({
      name: 'Pat Quill',
      email: 'pat@example.com',
      profileType: 'Patient',
      role: 'member',
      admin: false,
      accountScope: 'project',
      mfaRequired: true,
      mfaEnrolled: true,
      inviteActions: [],
    });
    // Pending with its link's time up reads as expired; resend and revoke apply.
    expect(byMembership.get(ids.serverMembership)).toMatchObject({
      name: 'Sam Server',
      email: 'server.person@example.com',
      accountScope: 'server',
      mfaRequired: true,
      mfaEnrolled: false,
      inviteStatus: 'expired',
      inviteActions: ['resend', 'revoke'],
    });
    expect(byMembership.get(ids.acceptedMembership)).toMatchObject({ name: 'Shown Display', inviteStatus: 'accepted', inviteActions: [] });
    expect(byMembership.get(ids.clientMembership)).toMatchObject({ name: 'Harbour Bot', userType: 'ClientApplication', profileType: 'ClientApplication', mfaEnrolled: false });
    expect(byMembership.get(ids.clientMembership)).not.toHaveProperty('accountScope');
    expect(byMembership.get(ids.clientMembership)).not.toHaveProperty('email');
  });

  test('no credential and nothing of another project is in the answer', async () => {
    const res = await get(owner.session, `/admin/projects/${owner.projectId}`);
    const text = res.body;
    expect(text).not.toContain(MFA_SECRET);
    expect(text).not.toContain('$argon2');
    expect(text).not.toContain('hash-of-client-secret');
    expect(text).not.toMatch(/passwordHash|mfaSecret|clientSecret|secret/i);
    expect(text).not.toContain('Foreigner');
  });

  test('the super administrator may list any project; an unknown one is 404', async () => {
    const res = await get(root, `/admin/projects/${owner.projectId}`);
    expect(res.statusCode).toBe(200);
    expect(res.json().total).toBe(5);
    const missing = await get(root, '/admin/projects/no-such-project');
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'not-found' }] });
  });

  test('without a token: 401', async () => {
    const res = await get(undefined, `/admin/projects/${owner.projectId}`);
    expect(res.statusCode).toBe(401);
    expect(res.json().resourceType).toBe('OperationOutcome');
  });

  test('another project\'s administrator: 403, the same for an existing and a missing project', async () => {
    const res = await get(other.session, `/admin/projects/${owner.projectId}`);
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('harbour-owner@example.com');
    const missing = await get(other.session, '/admin/projects/no-such-project');
    expect(missing.statusCode).toBe(403);
    expect(missing.json().issue[0].diagnostics).toBe(res.json().issue[0].diagnostics);
  });

  test('a member who is not an administrator: 403', async () => {
    const email = 'plain-member@example.com';
    const admin = await createProjectAdmin(t.app, 'Plain', 'plain-owner@example.com');
    const user = await createAccount(t.app, { email, password: 'plain-member-password-42' });
    const practitioner = await createPractitioner(t.app, admin.projectId);
    await createMembership(t.app, { projectId: admin.projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}` });
    const session = await signIn(t.app, email, 'plain-member-password-42', admin.projectId);
    const res = await get(session, `/admin/projects/${admin.projectId}`);
    expect(res.statusCode).toBe(403);
    expect(res.body).not.toContain('plain-owner@example.com');
  });

  test('an administrator demoted after signing in: 403 at once (the stored membership decides, not the token)', async () => {
    const email = 'demoted-admin@example.com';
    const project = await createProject(t.app, { name: 'Demotion' });
    const user = await createAccount(t.app, { email, password: 'demoted-password-42' });
    const practitioner = await createPractitioner(t.app, project.id);
    const membership = await createMembership(t.app, { projectId: project.id, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, admin: true });
    const session = await signIn(t.app, email, 'demoted-password-42', project.id);
    expect((await get(session, `/admin/projects/${project.id}`)).statusCode).toBe(200);
    const stored = await readStored<ProjectMembership>(repoOf(t.app), 'ProjectMembership', membership.id);
    await updateResource(repoOf(t.app), { ...(stored?.resource as ProjectMembership), admin: false });
    expect((await get(session, `/admin/projects/${project.id}`)).statusCode).toBe(403);
  });

  test('a malformed id or query is a 400 naming the parameter', async () => {
    const encoded = await get(owner.session, `/admin/projects/${owner.projectId}%2F..`);
    expect(encoded.statusCode).toBe(400);
    const tooMany = await get(owner.session, `/admin/projects/${owner.projectId}?_count=101`);
    expect(tooMany.statusCode).toBe(400);
    expect(tooMany.json().issue[0].expression).toEqual(['querystring._count']);
    const zero = await get(owner.session, `/admin/projects/${owner.projectId}?_count=0`);
    expect(zero.statusCode).toBe(400);
    const unknown = await get(owner.session, `/admin/projects/${owner.projectId}?name=x`);
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().issue[0].diagnostics).toContain('name');
  });

  describe('pagination past 50', () => {
    let projectId: string;
    let session: SignedIn;

    beforeAll(async () => {
      const admin = await createProjectAdmin(t.app, 'Crowded', 'crowded-owner@example.com');
      projectId = admin.projectId;
      session = admin.session;
      for (let i = 0; i < 59; i += 1) {
        const name = `Member ${String(i).padStart(2, '0')}`;
        const user = await createAccount(t.app, { email: `crowd-${i}@example.com`, password: 'crowd-password-42', projectId });
        const practitioner = await createPractitioner(t.app, projectId, { name: [{ text: name }] });
        await createMembership(t.app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, fields: { profile: { reference: `Practitioner/${practitioner.id}`, display: name } } });
      }
    });

    test('50 by default, then the rest; every member once, sorted by name', async () => {
      const first = (await get(session, `/admin/projects/${projectId}`)).json();
      expect(first).toMatchObject({ total: 60, offset: 0, count: 50 });
      const second = (await get(session, `/admin/projects/${projectId}?_offset=50`)).json();
      expect(second).toMatchObject({ total: 60, offset: 50, count: 10 });
      const all = [...first.members, ...second.members] as Array<{ membershipId: string; name: string }>;
      expect(new Set(all.map((m) => m.membershipId)).size).toBe(60);
      const named = all.map((m) => m.name).filter((n) => n.startsWith('Member '));
      expect(named).toEqual([...named].sort());
      expect(named).toHaveLength(59);
      const small = (await get(session, `/admin/projects/${projectId}?_count=7&_offset=56`)).json();
      expect(small).toMatchObject({ total: 60, offset: 56, count: 4 });
    });
  });
});
