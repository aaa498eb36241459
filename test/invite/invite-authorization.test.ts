import type { ProjectMembership } from '@medplum/fhirtypes';
import { updateResource } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { signIn } from '../helpers/auth';
import { createMember, createProject, repo, uniqueEmail } from '../helpers/invite';
import { firstIssue, postInvite, type InviteForm } from '../helpers/invite';

const invitee = (): Record<string, unknown> => ({ resourceType: 'Practitioner', firstName: 'Iva', lastName: 'Tee', email: uniqueEmail(), sendEmail: false });

describe('invite: who may call', () => {
  const t = useTestApp();
  let projectId: string;
  let otherProjectId: string;

  beforeAll(async () => {
    projectId = (await createProject(t.app)).id;
    otherProjectId = (await createProject(t.app)).id;
  });

  describe.each(['json', 'admin'] as InviteForm[])('through the %s form', (form) => {
    test('no token → 401', async () => {
      const res = await postInvite(t.app, {}, projectId, invitee(), { form });
      expect(res.statusCode).toBe(401);
      expect(firstIssue(res).code).toBe('login');
    });

    test('a project administrator may invite into that project', async () => {
      const admin = await createMember(t.app, projectId, { admin: true });
      const { headers } = await signIn(t.app, admin.email, admin.password, projectId);
      const res = await postInvite(t.app, headers, projectId, invitee(), { form });
      expect(res.statusCode).toBe(201);
    });

    test('a member who is not an administrator → 403, nothing written', async () => {
      const member = await createMember(t.app, projectId);
      const { headers } = await signIn(t.app, member.email, member.password, projectId);
      const before = await snapshotDatabase(t.app);
      const res = await postInvite(t.app, headers, projectId, invitee(), { form });
      expect(res.statusCode).toBe(403);
      expect(firstIssue(res).code).toBe('forbidden');
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });

    test('an administrator of another project → 403 (never silently their own project), nothing written', async () => {
      const admin = await createMember(t.app, otherProjectId, { admin: true });
      const { headers } = await signIn(t.app, admin.email, admin.password, otherProjectId);
      const before = await snapshotDatabase(t.app);
      const res = await postInvite(t.app, headers, projectId, invitee(), { form });
      expect(res.statusCode).toBe(403);
      expect(await snapshotDatabase(t.app)).toEqual(before);
    });

    test('the super administrator may invite into any project; an unknown project → 404', async () => {
      const { headers } = await signIn(t.app);
      expect((await postInvite(t.app, headers, otherProjectId, invitee(), { form })).statusCode).toBe(201);
      const missing = await postInvite(t.app, headers, '00000000-0000-4000-8000-000000000000', invitee(), { form });
      expect(missing.statusCode).toBe(404);
    });
  });

  test('an administrator whose membership lost admin since signing in → 403', async () => {
    const admin = await createMember(t.app, projectId, { admin: true });
    const { headers } = await signIn(t.app, admin.email, admin.password, projectId);
    await updateResource<ProjectMembership>(repo(t.app), { ...admin.membership, admin: false });
    const res = await postInvite(t.app, headers, projectId, invitee());
    expect(res.statusCode).toBe(403);
  });

  test('a forbidden caller learns nothing about the body: 403 comes before validation of the invite', async () => {
    const member = await createMember(t.app, projectId);
    const { headers } = await signIn(t.app, member.email, member.password, projectId);
    const res = await postInvite(t.app, headers, otherProjectId, { ...invitee(), accessPolicy: { reference: 'AccessPolicy/unknown' } });
    expect(res.statusCode).toBe(403);
  });
});
