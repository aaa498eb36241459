import type { ClientApplication, Project, ProjectMembership } from '@medplum/fhirtypes';
import type { LightMyRequestResponse } from 'fastify';
import { setCredentials } from '../../src/accounts/credentials';
import { sha256Hex } from '../../src/accounts/passwords';
import { createResource, readStored, updateResource, type RepoContext } from '../../src/fhir/repository';
import { signIn } from '../helpers/auth';
import { useTestApp } from '../helpers/suite';
import { addMembership, createProject, createUser, form } from '../helpers/auth';

/**
 * Only an ADMINISTRATOR of a `superAdmin` project is the super administrator. A plain member of
 * that project (a user signing in, a refreshed session, a system client) is an ordinary member.
 */
describe('super administrator needs an admin membership of the super-admin project', () => {
  const t = useTestApp();
  let repo: RepoContext;
  let superProjectId: string;
  let outsiderId: string;

  beforeAll(async () => {
    repo = { database: t.app.ctx.database, clock: t.app.ctx.clock };
    const stored = await t.app.ctx.database.db.collection<{ _id: string; resource: Project }>('Project').findOne({ 'resource.superAdmin': true });
    superProjectId = stored?._id as string;
    expect(superProjectId).toBeDefined();
    // Someone in another project, whom only the super administrator may see.
    const other = await createProject(t.app, 'Elsewhere');
    outsiderId = (await createUser(t.app, 'outsider@example.com', 'outsider-password-1', other.id)).id;
  });

  const claimsOf = (accessToken: string): Record<string, unknown> => JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8'));
  const createProjectAs = (headers: Record<string, string>, name: string): Promise<LightMyRequestResponse> =>
    t.app.inject({ method: 'POST', url: '/fhir/R4/Project', headers: { ...headers, 'content-type': 'application/fhir+json' }, payload: JSON.stringify({ resourceType: 'Project', name }) });

  /** A User search must not show the user of the other project (403 or a search without it). */
  async function expectOutsiderHidden(headers: Record<string, string>): Promise<void> {
    const res = await t.app.inject({ method: 'GET', url: '/fhir/R4/User', headers });
    expect([200, 403]).toContain(res.statusCode);
    expect(res.body).not.toContain(outsiderId);
    expect(res.body).not.toContain('outsider@example.com');
  }

  test('the bootstrap administrator (admin of that project) still is one', async () => {
    const admin = await signIn(t.app);
    expect(claimsOf(admin.accessToken).super_admin).toBe(true);
    const users = await t.app.inject({ method: 'GET', url: '/fhir/R4/User', headers: admin.headers });
    expect(users.statusCode).toBe(200);
    expect(users.body).toContain(outsiderId);
    expect((await createProjectAs(admin.headers, 'Made by the super admin')).statusCode).toBe(201);
  });

  test('a non-admin member of the super-admin project gets no super-admin token', async () => {
    const plain = await createUser(t.app, 'plain-member@example.com', 'plain-member-password-1');
    await addMembership(t.app, superProjectId, `User/${plain.id}`, 'Practitioner', { admin: false });
    const session = await signIn(t.app, 'plain-member@example.com', 'plain-member-password-1', superProjectId);
    expect(claimsOf(session.accessToken)).toMatchObject({ project_id: superProjectId, super_admin: false, project_admin: false });

    await expectOutsiderHidden(session.headers);
    expect((await createProjectAs(session.headers, 'Not allowed')).statusCode).toBe(403);
    const me = (await t.app.inject({ method: 'GET', url: '/auth/me', headers: session.headers })).json();
    expect(JSON.stringify(me.config)).not.toContain('Super Admin');
  });

  test('a refreshed session re-checks the membership: a demoted administrator loses super admin', async () => {
    const second = await createUser(t.app, 'second-admin@example.com', 'second-admin-password-1');
    const { membership } = await addMembership(t.app, superProjectId, `User/${second.id}`, 'Practitioner', { admin: true });
    const session = await signIn(t.app, 'second-admin@example.com', 'second-admin-password-1', superProjectId);
    expect(claimsOf(session.accessToken).super_admin).toBe(true);

    const stored = await readStored<ProjectMembership>(repo, 'ProjectMembership', membership.id);
    await updateResource<ProjectMembership>(repo, { ...(stored?.resource as ProjectMembership), admin: false });
    const refreshed = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'refresh_token', refresh_token: session.refreshToken as string }) });
    expect(refreshed.statusCode).toBe(200);
    const accessToken = refreshed.json().access_token as string;
    expect(claimsOf(accessToken)).toMatchObject({ super_admin: false, project_admin: false });
    const headers = { authorization: `Bearer ${accessToken}` };
    await expectOutsiderHidden(headers);
    expect((await createProjectAs(headers, 'Not allowed either')).statusCode).toBe(403);
  });

  test('a system client with a non-admin membership of the super-admin project is no super administrator', async () => {
    const secret = 'a-client-secret-of-the-super-project';
    const client = await createResource<ClientApplication>(repo, { resourceType: 'ClientApplication', name: 'Plain client' }, { project: superProjectId });
    await setCredentials(t.app.ctx.database, client.id as string, { clientSecretHash: sha256Hex(secret) });
    await createResource<ProjectMembership>(
      repo,
      {
        resourceType: 'ProjectMembership',
        project: { reference: `Project/${superProjectId}` },
        user: { reference: `ClientApplication/${client.id}` },
        profile: { reference: `ClientApplication/${client.id}` },
      },
      { project: superProjectId },
    );

    // HTTP Basic on every request.
    const basic = { authorization: `Basic ${Buffer.from(`${client.id}:${secret}`).toString('base64')}` };
    await expectOutsiderHidden(basic);
    expect((await createProjectAs(basic, 'Not by Basic')).statusCode).toBe(403);

    // client_credentials.
    const token = await t.app.inject({ method: 'POST', url: '/oauth2/token', ...form({ grant_type: 'client_credentials', client_id: client.id as string, client_secret: secret }) });
    expect(token.statusCode).toBe(200);
    const accessToken = token.json().access_token as string;
    expect(claimsOf(accessToken).super_admin).toBe(false);
    const bearer = { authorization: `Bearer ${accessToken}` };
    await expectOutsiderHidden(bearer);
    expect((await createProjectAs(bearer, 'Not by client credentials')).statusCode).toBe(403);
  });
});
