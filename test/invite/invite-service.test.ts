import { FhirError } from '../../src/errors';
import { snapshotDatabase } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { createMember, createProject, superAdminAuth, uniqueEmail } from '../helpers/invite';
import { inviteDeps, inviteDirect } from '../helpers/invite';

/** The service called directly (as a benchmark or another domain would), without HTTP. */
describe('invite service', () => {
  const t = useTestApp();

  test('a failure at the very end of the transaction (the outbox refuses the mail) leaves the database exactly as before', async () => {
    const project = await createProject(t.app);
    const before = await snapshotDatabase(t.app);
    // The HTTP schema would refuse this address; called directly, the outbox is the last guard.
    const attempt = inviteDirect(inviteDeps(t.app), await superAdminAuth(t.app), project.id, {
      resourceType: 'Practitioner',
      firstName: 'Late',
      lastName: 'Failure',
      email: 'two words@example.com',
      scope: 'project',
      password: 'a long enough password',
    });
    await expect(attempt).rejects.toBeInstanceOf(FhirError);
    // Refused by the outbox (400), not by the authorization (403) before anything was written.
    await expect(attempt).rejects.toMatchObject({ statusCode: 400 });
    // User, Practitioner, membership, credentials and activation were written before the mail: all gone.
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a plain member is refused before anything is read or written', async () => {
    const project = await createProject(t.app);
    const member = await createMember(t.app, project.id);
    const before = await snapshotDatabase(t.app);
    const attempt = inviteDirect(inviteDeps(t.app), member.auth, project.id, { resourceType: 'Patient', firstName: 'A', lastName: 'B', email: uniqueEmail(), sendEmail: false });
    await expect(attempt).rejects.toMatchObject({ statusCode: 403 });
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a project administrator (by membership) invites; the result carries user, profile and membership', async () => {
    const project = await createProject(t.app);
    const admin = await createMember(t.app, project.id, { admin: true });
    const result = await inviteDirect(inviteDeps(t.app), admin.auth, project.id, { resourceType: 'Patient', firstName: 'A', lastName: 'B', email: uniqueEmail(), sendEmail: false });
    expect(result).toMatchObject({ membershipCreated: true, userCreated: true, emailStatus: 'skipped' });
    expect(result.membership.invitedBy).toEqual({ reference: `User/${admin.user.id}` });
    expect(result.activationUrl).toMatch(/\/setpassword\//);
  });
});
