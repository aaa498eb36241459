import type { ProjectMembership, User } from '@medplum/fhirtypes';
import { membershipRequiresMfa } from '../../src/accounts/memberships';
import { verifyPassword } from '../../src/accounts/passwords';
import { createLink } from '../helpers/activation';
import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { countCurrent, createPatient, createProject, uniqueEmail } from '../helpers/invite';
import { firstIssue, outputs, postInvite } from '../helpers/invite';

const person = { firstName: 'Grace', lastName: 'Hopper', sendEmail: false };

describe('invite: users, roles and scopes', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  async function userOf(res: { json(): unknown }): Promise<User & { id: string }> {
    const ref = outputs(res as never).user.reference;
    const doc = await t.app.ctx.database.db.collection('User').findOne({ _id: ref.slice('User/'.length) as never });
    return doc?.resource as User & { id: string };
  }

  test.each([
    ['Practitioner', 'server'],
    ['Patient', 'project'],
    ['RelatedPerson', 'server'],
  ])('a %s gets a profile of that type and by default a %s-scoped User', async (resourceType, scope) => {
    const project = await createProject(t.app);
    const extra = resourceType === 'RelatedPerson' ? { patient: { reference: `Patient/${(await createPatient(t.app, project.id)).id}` } } : {};
    const email = uniqueEmail(resourceType.toLowerCase());
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType, email, ...extra });
    expect(res.statusCode).toBe(201);
    const out = outputs(res);
    expect(out.profile).toMatchObject({ resourceType, meta: { project: project.id }, name: [{ given: ['Grace'], family: 'Hopper' }], telecom: [{ system: 'email', value: email }] });
    expect(out.membership).toMatchObject({
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${project.id}` },
      user: { reference: out.user.reference },
      profile: { reference: `${resourceType}/${out.profile.id}` },
      meta: { project: project.id },
    });
    const user = await userOf(res);
    expect(user.email).toBe(email);
    if (scope === 'project') {
      expect(user.project?.reference).toBe(`Project/${project.id}`);
      expect(user.meta?.project).toBe(project.id);
    } else {
      expect(user.project).toBeUndefined();
      expect(user.meta?.project).toBeUndefined();
    }
  });

  test.each([
    ['Practitioner', 'project'],
    ['Patient', 'server'],
  ])('scope overrides the default: a %s with scope %s', async (resourceType, scope) => {
    const project = await createProject(t.app);
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType, email: uniqueEmail(), scope });
    expect(res.statusCode).toBe(201);
    const user = await userOf(res);
    expect(user.project?.reference).toBe(scope === 'project' ? `Project/${project.id}` : undefined);
  });

  test('an externalId-only invite makes a project-scoped User and a membership carrying the externalId', async () => {
    const project = await createProject(t.app);
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', externalId: 'idp|1234' });
    expect(res.statusCode).toBe(201);
    const user = await userOf(res);
    expect(user).toMatchObject({ project: { reference: `Project/${project.id}` }, externalId: 'idp|1234' });
    expect(user.email).toBeUndefined();
    expect(outputs(res).membership.externalId).toBe('idp|1234');
    expect(outputs(res).emailStatus).toBe('skipped');

    const again = await postInvite(t.app, admin.headers, project.id, { ...person, firstName: 'Other', resourceType: 'Practitioner', externalId: 'idp|1234' });
    expect(again.statusCode).toBe(409);
    expect(await countCurrent(t.app, 'User', { 'resource.externalId': 'idp|1234' })).toBe(1);
  });

  test('an existing, verified server-scoped User invited into a second project is reused: names and password untouched', async () => {
    const first = await createProject(t.app);
    const second = await createProject(t.app);
    const email = uniqueEmail();
    const a = await postInvite(t.app, admin.headers, first.id, { ...person, resourceType: 'Practitioner', email });
    expect(a.statusCode).toBe(201);
    const userA = await userOf(a);
    // The owner proves the address with a link mailed to it (what the invitation or a reset mail carries).
    const link = await createLink(t.app, userA.id, 'reset', 'mail');
    const set = await t.app.inject({ method: 'POST', url: '/auth/setpassword', payload: { id: link.id, secret: link.secret, password: 'first password of grace' } });
    expect(set.statusCode).toBe(200);
    expect((await userOf(a)).emailVerified).toBe(true);
    const credentialsBefore = await t.app.ctx.database.db.collection('credentials').findOne({ _id: userA.id as never });

    const b = await postInvite(t.app, admin.headers, second.id, { resourceType: 'Practitioner', firstName: 'New', lastName: 'Name', email, sendEmail: false });
    expect(b.statusCode).toBe(201);
    const userB = await userOf(b);
    expect(userB.id).toBe(userA.id);
    expect(userB).toMatchObject({ firstName: 'Grace', lastName: 'Hopper' });
    expect(outputs(b).activationUrl).toBeUndefined();
    expect(outputs(b).emailStatus).toBe('skipped');
    const credentialsAfter = await t.app.ctx.database.db.collection('credentials').findOne({ _id: userA.id as never });
    expect(credentialsAfter).toEqual(credentialsBefore);
    expect(await verifyPassword(credentialsAfter?.passwordHash as string, 'first password of grace')).toBe(true);
    expect(await countCurrent(t.app, 'User', { 'resource.email': email })).toBe(1);
    expect(await countCurrent(t.app, 'ProjectMembership', { 'resource.user.reference': `User/${userA.id}` })).toBe(2);
  });

  test('a project-scoped User invited into two projects is two Users', async () => {
    const first = await createProject(t.app);
    const second = await createProject(t.app);
    const email = uniqueEmail('patient');
    const a = await postInvite(t.app, admin.headers, first.id, { ...person, resourceType: 'Patient', email });
    const b = await postInvite(t.app, admin.headers, second.id, { ...person, resourceType: 'Patient', email });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    const [userA, userB] = [await userOf(a), await userOf(b)];
    expect(userA.id).not.toBe(userB.id);
    expect(userA.project?.reference).toBe(`Project/${first.id}`);
    expect(userB.project?.reference).toBe(`Project/${second.id}`);
  });

  test.each([
    ['server', 'project'],
    ['project', 'server'],
  ])('an email already a member as a %s-scoped User is refused under scope %s (409, nothing written)', async (firstScope, secondScope) => {
    const project = await createProject(t.app);
    const email = uniqueEmail();
    expect((await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email, scope: firstScope })).statusCode).toBe(201);
    const before = await snapshotDatabase(t.app);
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email, scope: secondScope });
    expect(res.statusCode).toBe(409);
    expect(firstIssue(res).text).toMatch(/already a member of this project/);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('the other scope is fine when that User is not a member of this project', async () => {
    const elsewhere = await createProject(t.app);
    const project = await createProject(t.app);
    const email = uniqueEmail();
    expect((await postInvite(t.app, admin.headers, elsewhere.id, { ...person, resourceType: 'Practitioner', email })).statusCode).toBe(201);
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email, scope: 'project' });
    expect(res.statusCode).toBe(201);
    expect((await userOf(res)).project?.reference).toBe(`Project/${project.id}`);
  });

  test('mfaRequired marks a new User; an existing server-scoped User only on its membership; a project-scoped User of the project on the account', async () => {
    const project = await createProject(t.app);
    const other = await createProject(t.app);
    const fresh = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), mfaRequired: true });
    expect((await userOf(fresh)).mfaRequired).toBe(true);
    expect(membershipRequiresMfa(outputs(fresh).membership)).toBe(true);

    const email = uniqueEmail();
    const plain = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email });
    expect((await userOf(plain)).mfaRequired).toBeUndefined();
    expect(membershipRequiresMfa(outputs(plain).membership)).toBe(false);
    const again = await postInvite(t.app, admin.headers, other.id, { ...person, resourceType: 'Practitioner', email, mfaRequired: true });
    expect(again.statusCode).toBe(201);
    const user = await userOf(again);
    expect(user.id).toBe((await userOf(plain)).id);
    expect(user.mfaRequired).toBeUndefined();
    expect(user.meta?.versionId).toBe('1');
    expect(membershipRequiresMfa(outputs(again).membership)).toBe(true);

    const patientEmail = uniqueEmail('patient');
    const patient = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Patient', email: patientEmail });
    const upserted = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Patient', email: patientEmail, upsert: true, mfaRequired: true });
    expect(upserted.statusCode).toBe(200);
    expect(await userOf(upserted)).toMatchObject({ id: (await userOf(patient)).id, mfaRequired: true, meta: { versionId: '2' } });
    expect(membershipRequiresMfa(outputs(upserted).membership)).toBe(true);
  });

  test('a password is hashed into credentials only when given; without one no credentials exist until activation', async () => {
    const project = await createProject(t.app);
    const withPassword = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), scope: 'project', password: 'correct horse battery' });
    const withoutPassword = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail() });
    const credentials = t.app.ctx.database.db.collection('credentials');
    const hashed = await credentials.findOne({ _id: (await userOf(withPassword)).id as never });
    expect(await verifyPassword(hashed?.passwordHash as string, 'correct horse battery')).toBe(true);
    expect(await credentials.findOne({ _id: (await userOf(withoutPassword)).id as never })).toBeNull();
    // Neither the User resource nor the answer carries a secret.
    for (const res of [withPassword, withoutPassword]) {
      expect(res.body).not.toMatch(/passwordHash|argon2/);
      expect(JSON.stringify(await userOf(res))).not.toMatch(/passwordHash|argon2/);
    }
  });

  test('the membership records who invited', async () => {
    const project = await createProject(t.app);
    const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail() });
    const inviter = (await t.app.ctx.database.db.collection('User').findOne({ 'resource.email': 'admin@example.com' })) as { _id: string } | null;
    expect((outputs(res).membership as ProjectMembership).invitedBy).toEqual({ reference: `User/${inviter?._id}` });
  });
});
