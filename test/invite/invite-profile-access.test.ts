import type { ProjectMembership } from '@medplum/fhirtypes';
import { updateResource } from '../../src/fhir/repository';
import { snapshotDatabase } from '../helpers/app';
import { useSignIn, useTestApp } from '../helpers/suite';
import { countCurrent, createPatient, createPolicy, createPractitioner, createProject, createRelatedPerson, repo, uniqueEmail } from '../helpers/invite';
import { firstIssue, outputs, postInvite } from '../helpers/invite';

const person = { firstName: 'Alan', lastName: 'Turing', sendEmail: false };

describe('invite: profiles, access policies and memberships', () => {
  const t = useTestApp();
  const admin = useSignIn(t);

  /** Posts and expects a refusal that changed nothing. */
  async function refused(projectId: string, body: Record<string, unknown>, status: number): Promise<ReturnType<typeof firstIssue>> {
    const before = await snapshotDatabase(t.app);
    const res = await postInvite(t.app, admin.headers, projectId, body);
    expect(res.statusCode).toBe(status);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    return firstIssue(res);
  }

  describe('profile', () => {
    test('an existing profile of that type with that email in the project is reused', async () => {
      const project = await createProject(t.app);
      const email = uniqueEmail();
      const existing = await createPractitioner(t.app, project.id, email.toUpperCase());
      const elsewhere = await createProject(t.app);
      await createPractitioner(t.app, elsewhere.id, email);
      const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email });
      expect(res.statusCode).toBe(201);
      expect(outputs(res).profile.id).toBe(existing.id);
      expect(await countCurrent(t.app, 'Practitioner', { project: project.id })).toBe(1);
    });

    test('membership.profile is used when given', async () => {
      const project = await createProject(t.app);
      const practitioner = await createPractitioner(t.app, project.id);
      const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), membership: { profile: { reference: `Practitioner/${practitioner.id}` } } });
      expect(res.statusCode).toBe(201);
      expect(outputs(res).membership.profile?.reference).toBe(`Practitioner/${practitioner.id}`);
    });

    test.each(['another project', 'nowhere', 'another type'])('membership.profile from %s → 400 naming it, nothing written', async (where) => {
      const project = await createProject(t.app);
      const other = await createProject(t.app);
      const id =
        where === 'another project' ? (await createPractitioner(t.app, other.id)).id : where === 'another type' ? (await createPatient(t.app, project.id)).id : '00000000-0000-4000-8000-000000000000';
      const issue = await refused(project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), membership: { profile: { reference: `Practitioner/${id}` } } }, 400);
      expect(issue.expression).toEqual(['membership.profile']);
      expect(issue.text).toMatch(/not a Practitioner of this project/);
    });
  });

  describe('RelatedPerson', () => {
    test('is created linked to the patient', async () => {
      const project = await createProject(t.app);
      const patient = await createPatient(t.app, project.id);
      const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'RelatedPerson', email: uniqueEmail(), patient: { reference: `Patient/${patient.id}` } });
      expect(res.statusCode).toBe(201);
      expect(outputs(res).profile).toMatchObject({ resourceType: 'RelatedPerson', patient: { reference: `Patient/${patient.id}` } });
    });

    test('without a patient and without a match → 400 naming patient', async () => {
      const project = await createProject(t.app);
      const issue = await refused(project.id, { ...person, resourceType: 'RelatedPerson', email: uniqueEmail() }, 400);
      expect(issue.expression).toEqual(['patient']);
      expect(issue.text).toMatch(/patient is required/);
    });

    test.each(['another project', 'nowhere'])('with a patient from %s → 400 naming patient', async (where) => {
      const project = await createProject(t.app);
      const id = where === 'nowhere' ? '00000000-0000-4000-8000-000000000000' : (await createPatient(t.app, (await createProject(t.app)).id)).id;
      const issue = await refused(project.id, { ...person, resourceType: 'RelatedPerson', email: uniqueEmail(), patient: { reference: `Patient/${id}` } }, 400);
      expect(issue).toMatchObject({ expression: ['patient'], text: `Patient Patient/${id} does not exist in this project` });
    });

    test('one RelatedPerson with that email is reused without a patient', async () => {
      const project = await createProject(t.app);
      const patient = await createPatient(t.app, project.id);
      const email = uniqueEmail();
      const related = await createRelatedPerson(t.app, project.id, patient.id, email);
      const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'RelatedPerson', email });
      expect(res.statusCode).toBe(201);
      expect(outputs(res).profile.id).toBe(related.id);
    });

    test('two RelatedPersons with that email → 412 multiple-matches, nothing written', async () => {
      const project = await createProject(t.app);
      const patient = await createPatient(t.app, project.id);
      const email = uniqueEmail();
      await createRelatedPerson(t.app, project.id, patient.id, email);
      await createRelatedPerson(t.app, project.id, patient.id, email);
      const issue = await refused(project.id, { ...person, resourceType: 'RelatedPerson', email }, 412);
      expect(issue.code).toBe('multiple-matches');
      expect(issue.expression).toEqual(['membership.profile']);
    });
  });

  describe('access', () => {
    test('an AccessPolicy of the project is set on the membership; admin is set', async () => {
      const project = await createProject(t.app);
      const policy = await createPolicy(t.app, project.id);
      const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), accessPolicy: { reference: `AccessPolicy/${policy.id}` }, admin: true });
      expect(res.statusCode).toBe(201);
      expect(outputs(res).membership).toMatchObject({ accessPolicy: { reference: `AccessPolicy/${policy.id}` }, admin: true });
    });

    test('parameterized access entries are kept', async () => {
      const project = await createProject(t.app);
      const policy = await createPolicy(t.app, project.id);
      const access = [{ policy: { reference: `AccessPolicy/${policy.id}` }, parameter: [{ name: 'org', valueString: 'north' }] }];
      const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), membership: { access } });
      expect(res.statusCode).toBe(201);
      expect(outputs(res).membership.access).toEqual(access);
    });

    test.each([
      ['missing', 'accessPolicy', (id: string) => ({ accessPolicy: { reference: `AccessPolicy/${id}` } })],
      ['foreign', 'accessPolicy', (id: string) => ({ accessPolicy: { reference: `AccessPolicy/${id}` } })],
      ['missing', 'membership.accessPolicy', (id: string) => ({ membership: { accessPolicy: { reference: `AccessPolicy/${id}` } } })],
      ['foreign', 'membership.access[1].policy', (id: string, ok: string) => ({ membership: { access: [{ policy: { reference: `AccessPolicy/${ok}` } }, { policy: { reference: `AccessPolicy/${id}` } }] } })],
    ])('a %s policy in %s → 400 naming it, nothing written', async (kind, expression, fields) => {
      const project = await createProject(t.app);
      const ok = (await createPolicy(t.app, project.id)).id;
      const id = kind === 'missing' ? '00000000-0000-4000-8000-000000000000' : (await createPolicy(t.app, (await createProject(t.app)).id)).id;
      const issue = await refused(project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), ...fields(id, ok) }, 400);
      expect(issue.expression).toEqual([expression]);
      expect(issue.text).toBe(`Access policy AccessPolicy/${id} does not exist in this project`);
    });

    test("the project's default patient policy goes to Patients without one, never to others; an explicit one wins", async () => {
      const project = await createProject(t.app);
      const fallback = await createPolicy(t.app, project.id, 'Default');
      const explicit = await createPolicy(t.app, project.id, 'Explicit');
      await updateResource(repo(t.app), { ...project, defaultPatientAccessPolicy: { reference: `AccessPolicy/${fallback.id}` } });

      const patient = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Patient', email: uniqueEmail() });
      expect(outputs(patient).membership.accessPolicy).toEqual({ reference: `AccessPolicy/${fallback.id}` });
      const chosen = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Patient', email: uniqueEmail(), accessPolicy: { reference: `AccessPolicy/${explicit.id}` } });
      expect(outputs(chosen).membership.accessPolicy).toEqual({ reference: `AccessPolicy/${explicit.id}` });
      const practitioner = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail() });
      expect(outputs(practitioner).membership.accessPolicy).toBeUndefined();
      const patientRef = { reference: `Patient/${(await createPatient(t.app, project.id)).id}` };
      const related = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'RelatedPerson', email: uniqueEmail(), patient: patientRef });
      expect(outputs(related).membership.accessPolicy).toBeUndefined();
    });
  });

  describe('membership', () => {
    test('a second invite → 409 unless upsert (200, same id, fields updated) or forceNewMembership (201, another one)', async () => {
      const project = await createProject(t.app);
      const policy = await createPolicy(t.app, project.id);
      const email = uniqueEmail();
      const body = { ...person, resourceType: 'Practitioner', email };
      const first = await postInvite(t.app, admin.headers, project.id, body);
      expect(first.statusCode).toBe(201);
      const original = outputs(first).membership;

      const again = await refused(project.id, body, 409);
      expect(again.text).toMatch(/already a member of this project/);

      const upserted = await postInvite(t.app, admin.headers, project.id, { ...body, upsert: true, admin: true, accessPolicy: { reference: `AccessPolicy/${policy.id}` } });
      expect(upserted.statusCode).toBe(200);
      const updated = outputs(upserted).membership;
      expect(updated).toMatchObject({ id: original.id, admin: true, accessPolicy: { reference: `AccessPolicy/${policy.id}` }, invitedBy: original.invitedBy, profile: original.profile });
      expect(updated.meta?.versionId).toBe('2');

      const extra = await postInvite(t.app, admin.headers, project.id, { ...body, forceNewMembership: true });
      expect(extra.statusCode).toBe(201);
      expect(outputs(extra).membership.id).not.toBe(original.id);
      expect(await countCurrent(t.app, 'ProjectMembership', { project: project.id, 'resource.user.reference': outputs(first).user.reference })).toBe(2);
    });

    test('upsert with another profile → 409; the earlier writes of that request (mfaRequired) are rolled back', async () => {
      const project = await createProject(t.app);
      const email = uniqueEmail();
      expect((await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email })).statusCode).toBe(201);
      const other = await createPractitioner(t.app, project.id);
      const issue = await refused(project.id, { ...person, resourceType: 'Practitioner', email, upsert: true, mfaRequired: true, membership: { profile: { reference: `Practitioner/${other.id}` } } }, 409);
      expect(issue.text).toBe('User is already a member of this project with a different profile');
      const user = await t.app.ctx.database.db.collection('User').findOne({ 'resource.email': email });
      expect(user?.resource.mfaRequired).toBeUndefined();
    });

    test('an externalId another member already has → 409', async () => {
      const project = await createProject(t.app);
      expect((await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), externalId: 'ext-7' })).statusCode).toBe(201);
      const issue = await refused(project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail(), externalId: 'ext-7' }, 409);
      expect(issue.expression).toEqual(['externalId']);
    });

    test('the membership answered by the admin endpoint is the stored one', async () => {
      const project = await createProject(t.app);
      const res = await postInvite(t.app, admin.headers, project.id, { ...person, resourceType: 'Practitioner', email: uniqueEmail() }, { form: 'admin' });
      expect(res.statusCode).toBe(201);
      const membership = res.json() as ProjectMembership;
      const stored = await t.app.ctx.database.db.collection('ProjectMembership').findOne({ _id: membership.id as never });
      expect(stored?.resource).toEqual(membership);
    });
  });
});
