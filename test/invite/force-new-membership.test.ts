import type { ProjectMembership } from '@medplum/fhirtypes';
import { createResource } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { countCurrent, createProject, repo, uniqueEmail } from '../helpers/invite';
import { firstIssue, outputs, postInvite } from '../helpers/invite';

/**
 * `forceNewMembership: true` adds a membership for a person who is already a member of the
 * project (as Medplum does), e.g. the same email as a Practitioner and as a Patient. Without it,
 * a person has at most one membership per project (a unique key, so also under concurrency).
 */
describe('invite: forceNewMembership', () => {
  const t = useTestApp();
  const admin = useSignIn(t);
  let projectId: string;

  beforeAll(async () => {
    projectId = (await createProject(t.app)).id;
  });

  const invite = (body: Record<string, unknown>) => postInvite(t.app, admin.headers, projectId, { sendEmail: false, lastName: 'Jones', ...body });
  const membershipsOf = (userRef: string) => countCurrent(t.app, 'ProjectMembership', { project: projectId, 'resource.user.reference': userRef });

  test('a server-scoped Practitioner invited again as a Patient: a second membership, Patient profile, same account', async () => {
    const email = uniqueEmail('jack');
    const first = await invite({ resourceType: 'Practitioner', firstName: 'Jack', email });
    expect(first.statusCode).toBe(201);
    const second = await invite({ resourceType: 'Patient', firstName: 'Jack 2', email, forceNewMembership: true });
    expect(second.statusCode).toBe(201);
    const [a, b] = [outputs(first), outputs(second)];
    expect(b.membership.id).not.toBe(a.membership.id);
    expect(b.membership.profile.reference).toMatch(/^Patient\//);
    expect(b.profile.resourceType).toBe('Patient');
    // The person keeps one account (the server-scoped one) with two memberships to choose from.
    expect(b.user.reference).toBe(a.user.reference);
    expect(await countCurrent(t.app, 'User', { 'resource.email': email })).toBe(1);
    expect(await membershipsOf(a.user.reference)).toBe(2);
  });

  test('the same through the admin endpoint (the shape MedplumClient.invite sends)', async () => {
    const email = uniqueEmail('jack');
    const first = await postInvite(t.app, admin.headers, projectId, { resourceType: 'Practitioner', firstName: 'Jack', lastName: 'Jones', email, sendEmail: false }, { form: 'admin' });
    const second = await postInvite(t.app, admin.headers, projectId, { resourceType: 'Patient', firstName: 'Jack', lastName: 'Jones', email, sendEmail: false, forceNewMembership: true }, { form: 'admin' });
    expect([first.statusCode, second.statusCode]).toEqual([201, 201]);
    const [a, b] = [first.json() as ProjectMembership, second.json() as ProjectMembership];
    expect(b.id).not.toBe(a.id);
    expect(b.user.reference).toBe(a.user.reference);
    expect(b.profile.reference).toMatch(/^Patient\//);
  });

  test('without forceNewMembership, or with a scope that names the other account type, it stays 409 and writes nothing', async () => {
    const email = uniqueEmail('jack');
    expect((await invite({ resourceType: 'Practitioner', firstName: 'Jack', email })).statusCode).toBe(201);
    const before = await snapshotDatabase(t.app);
    const plain = await invite({ resourceType: 'Patient', firstName: 'Jack', email });
    expect(plain.statusCode).toBe(409);
    expect(firstIssue(plain).text).toMatch(/already a member of this project/);
    const explicit = await invite({ resourceType: 'Patient', firstName: 'Jack', email, scope: 'project', forceNewMembership: true });
    expect(explicit.statusCode).toBe(409);
    expect(firstIssue(explicit).expression).toEqual(['scope']);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test.each([
    ['a Patient twice', { resourceType: 'Patient' }, { resourceType: 'Patient' }],
    ['a project-scoped Practitioner twice', { resourceType: 'Practitioner', scope: 'project' }, { resourceType: 'Practitioner', scope: 'project' }],
    ['a Patient, then a project-scoped Practitioner', { resourceType: 'Patient' }, { resourceType: 'Practitioner', scope: 'project' }],
    ['a Practitioner twice', { resourceType: 'Practitioner' }, { resourceType: 'Practitioner' }],
  ])('%s: the forced invite adds a membership of the same account', async (_label, first, second) => {
    const email = uniqueEmail();
    const a = await invite({ ...first, firstName: 'Bob', email });
    const b = await invite({ ...second, firstName: 'Bob 2', email, forceNewMembership: true });
    expect([a.statusCode, b.statusCode]).toEqual([201, 201]);
    expect(outputs(b).membership.id).not.toBe(outputs(a).membership.id);
    expect(outputs(b).user.reference).toBe(outputs(a).user.reference);
    expect(await membershipsOf(outputs(a).user.reference)).toBe(2);
  });

  test('one default membership per project and user still holds: a second one is refused by the unique key', async () => {
    const email = uniqueEmail();
    const a = outputs(await invite({ resourceType: 'Practitioner', firstName: 'Uma', email }));
    expect((await invite({ resourceType: 'Patient', firstName: 'Uma', email, forceNewMembership: true })).statusCode).toBe(201);
    const duplicate: ProjectMembership = {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${projectId}` },
      user: { reference: a.user.reference },
      profile: a.membership.profile,
    };
    await expect(createResource(repo(t.app), duplicate, { project: projectId })).rejects.toMatchObject({ statusCode: 409 });
    expect(await membershipsOf(a.user.reference)).toBe(2);
  });

  test('concurrent forced invites each add one membership; the default one stays single', async () => {
    const email = uniqueEmail();
    const a = outputs(await invite({ resourceType: 'Practitioner', firstName: 'Cy', email }));
    const responses = await Promise.all(Array.from({ length: 4 }, () => invite({ resourceType: 'Patient', firstName: 'Cy', email, forceNewMembership: true })));
    expect(responses.map((r) => r.statusCode)).toEqual([201, 201, 201, 201]);
    expect(new Set(responses.map((r) => outputs(r).membership.id)).size).toBe(4);
    expect(await membershipsOf(a.user.reference)).toBe(5);
    const keys = (await t.app.ctx.database.db.collection('ProjectMembership').find({ project: projectId, 'resource.user.reference': a.user.reference }).toArray()).map((d) => d.uk as string);
    expect(keys.filter((k) => k === `ProjectMembership|Project/${projectId}|${a.user.reference}`)).toHaveLength(1);
  });
});
