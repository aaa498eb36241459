import type { Project, ProjectMembership } from '@medplum/fhirtypes';
import type { StoredResource } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import { signIn, type SignedIn } from '../helpers/auth';
import { createAccount, createMembership, createPractitioner } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { createProject, PASSWORD, uniqueEmail } from '../helpers/invite';
import { firstIssue, postInvite } from '../helpers/invite';

const invitee = (): Record<string, unknown> => ({ resourceType: 'Practitioner', firstName: 'Iva', lastName: 'Tee', email: uniqueEmail(), sendEmail: false });

/**
 * Inviting into any project takes a super administrator as the database holds it now, not the
 * `super_admin` claim of a token issued before the membership was demoted or deleted.
 */
describe('invite: a super-admin token is checked against its stored membership', () => {
  const t = useTestApp();
  const root = useSignIn(t);
  let superProjectId: string;
  let otherProjectId: string;

  beforeAll(async () => {
    const stored = await t.app.ctx.database.db.collection<StoredResource<Project>>('Project').findOne({ 'resource.superAdmin': true });
    superProjectId = stored?._id as string;
    otherProjectId = (await createProject(t.app)).id;
  });

  async function secondSuperAdmin(): Promise<{ session: SignedIn; membership: ProjectMembership & { id: string } }> {
    const email = uniqueEmail('second-root');
    const user = await createAccount(t.app, { email, password: PASSWORD });
    const practitioner = await createPractitioner(t.app, superProjectId);
    const membership = await createMembership(t.app, { projectId: superProjectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, admin: true });
    const session = await signIn(t.app, email, PASSWORD, superProjectId);
    const claims = JSON.parse(Buffer.from(session.accessToken.split('.')[1], 'base64url').toString('utf8'));
    expect(claims.super_admin).toBe(true);
    return { session, membership };
  }

  const change = (membership: ProjectMembership & { id: string }, fields: Partial<ProjectMembership>) =>
    t.app.inject({
      method: 'PUT',
      url: `/fhir/R4/ProjectMembership/${membership.id}`,
      headers: { ...root.headers, 'content-type': 'application/fhir+json' },
      payload: JSON.stringify({ ...membership, ...fields }),
    });

  test('a second super administrator may invite into another project', async () => {
    const { session } = await secondSuperAdmin();
    expect((await postInvite(t.app, session.headers, otherProjectId, invitee())).statusCode).toBe(201);
  });

  test.each(['json', 'admin'] as const)('once demoted, the same token cannot invite into another project (%s form): 403, nothing written', async (form) => {
    const { session, membership } = await secondSuperAdmin();
    expect((await change(membership, { admin: false })).statusCode).toBe(200);
    const before = await snapshotDatabase(t.app);
    const res = await postInvite(t.app, session.headers, otherProjectId, invitee(), { form });
    expect(res.statusCode).toBe(403);
    expect(firstIssue(res)).toMatchObject({ code: 'forbidden', text: 'Only an administrator of this project may invite people into it' });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('once its membership is deleted, the same token cannot invite anywhere: nothing written', async () => {
    const { session, membership } = await secondSuperAdmin();
    const deleted = await t.app.inject({ method: 'DELETE', url: `/fhir/R4/ProjectMembership/${membership.id}`, headers: root.headers });
    expect(deleted.statusCode).toBe(200);
    const before = await snapshotDatabase(t.app);
    const res = await postInvite(t.app, session.headers, otherProjectId, invitee());
    expect([401, 403]).toContain(res.statusCode);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });
});
