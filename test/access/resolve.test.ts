import type { Patient, RelatedPerson } from '@medplum/fhirtypes';
import { ALL_INTERACTIONS, READ_INTERACTIONS } from '../../src/access/access-scope';
import { canSee, requireInteraction } from '../../src/access/enforce';
import { resolveAccessScope } from '../../src/access/resolve';
import type { AuthContext } from '../../src/accounts/auth-context';
import { deleteResource } from '../../src/fhir/repository';
import { ADMIN_TYPES, CLINICAL_TYPES } from '../../src/fhir/resource-types';
import { useTestApp } from '../helpers/suite';
import { make, makeMember, makePolicy, makeProject, rejection, repoOf, rootAuth, thrown } from '../helpers/access';

describe('resolveAccessScope', () => {
  const t = useTestApp();
  let p1: string;
  let p2: string;
  let alice: Patient & { id: string };
  let bob: Patient & { id: string };
  let doctor: string;

  beforeAll(async () => {
    p1 = await makeProject(t.app, 'One');
    p2 = await makeProject(t.app, 'Two');
    doctor = (await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'House' }] }, p1)).id;
    alice = await make<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Alice' }], generalPractitioner: [{ reference: `Practitioner/${doctor}` }] }, p1);
    bob = await make<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Bob' }] }, p1);
  });

  const resolve = (auth: AuthContext) => resolveAccessScope(t.app.ctx, auth);

  test('the super administrator has every type and every project', async () => {
    const scope = await resolve(await rootAuth(t.app));
    expect(scope.projects).toBeUndefined();
    for (const type of [...ADMIN_TYPES, ...CLINICAL_TYPES]) {
      expect([...(scope.forType(type)?.interactions ?? [])].sort()).toEqual([...ALL_INTERACTIONS].sort());
    }
  });

  test('a member without a policy has the clinical types of the project only', async () => {
    const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}` });
    const scope = await resolve(auth);
    expect(scope.projects).toEqual([p1]);
    for (const type of CLINICAL_TYPES) {
      expect(scope.forType(type)?.interactions.size).toBe(ALL_INTERACTIONS.length);
      expect(scope.forType(type)?.criteria).toBeUndefined();
    }
    for (const type of ADMIN_TYPES) {
      expect(scope.forType(type)).toBeUndefined();
    }
    const other = await make<Patient>(t.app, { resourceType: 'Patient' }, p2);
    expect(canSee(scope, alice)).toBe(true);
    expect(canSee(scope, other)).toBe(false);
  });

  test('a project administrator also has the administrative types, with limits', async () => {
    const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, admin: true });
    const scope = await resolve(auth);
    for (const type of ADMIN_TYPES) {
      expect(scope.forType(type)).toBeDefined();
    }
    expect(scope.projectAdmin).toBe(true);
    const project = scope.forType('Project');
    expect(project?.interactions.has('update')).toBe(true);
    expect(project?.interactions.has('create')).toBe(false);
    expect(project?.interactions.has('delete')).toBe(false);
    expect(scope.forType('ProjectMembership')?.readonlyFields).toEqual(expect.arrayContaining(['project', 'user']));
    expect(scope.forType('User')?.hiddenFields).toEqual(expect.arrayContaining(['passwordHash', 'mfaSecret']));
  });

  test('the admin flag is read from the stored membership, not trusted from the token', async () => {
    const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}` });
    const scope = await resolve({ ...auth, projectAdmin: true });
    expect(scope.forType('ProjectMembership')).toBeUndefined();
  });

  test('"*" grants the clinical types but never the administrative ones, even when listed', async () => {
    const policy = await makePolicy(t.app, p1, 'star', [{ resourceType: '*' }, { resourceType: 'ProjectMembership' }, { resourceType: 'User' }, { resourceType: 'AccessPolicy' }]);
    const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const scope = await resolve(auth);
    for (const type of CLINICAL_TYPES) {
      expect(scope.forType(type)).toBeDefined();
    }
    for (const type of ADMIN_TYPES) {
      expect(scope.forType(type)).toBeUndefined();
      expect(thrown(() => requireInteraction(scope, type, 'read'))?.statusCode).toBe(403);
    }
  });

  test('a read-only policy grants the read interactions on its types and nothing else', async () => {
    const policy = await makePolicy(t.app, p1, 'read-only', [{ resourceType: 'Patient', readonly: true }]);
    const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const scope = await resolve(auth);
    expect([...(scope.forType('Patient')?.interactions ?? [])].sort()).toEqual([...READ_INTERACTIONS].sort());
    expect(scope.forType('Practitioner')).toBeUndefined();
    const err = thrown(() => requireInteraction(scope, 'Patient', 'update'));
    expect(err?.statusCode).toBe(403);
    expect(err?.message).toBe('You may not update Patient resources');
  });

  test('interaction lists win over readonly', async () => {
    const policy = await makePolicy(t.app, p1, 'create-only', [{ resourceType: 'Patient', readonly: true, interaction: ['create', 'read'] }]);
    const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const scope = await resolve(auth);
    expect([...(scope.forType('Patient')?.interactions ?? [])].sort()).toEqual(['create', 'read']);
  });

  test('named parameters are substituted per access entry; a missing one grants nothing', async () => {
    const policy = await makePolicy(t.app, p1, 'by-doctor', [{ resourceType: 'Patient', criteria: 'Patient?general-practitioner=%doctor' }]);
    const { auth } = await makeMember(t.app, p1, {
      profile: `Practitioner/${doctor}`,
      access: [{ policy: { reference: `AccessPolicy/${policy}` }, parameter: [{ name: 'doctor', valueReference: { reference: `Practitioner/${doctor}` } }] }],
    });
    const scope = await resolve(auth);
    expect(scope.forType('Patient')?.criteria).toHaveLength(1);
    expect(canSee(scope, alice)).toBe(true);
    expect(canSee(scope, bob)).toBe(false);

    const missing = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, access: [{ policy: { reference: `AccessPolicy/${policy}` } }] });
    const none = await resolve(missing.auth);
    expect(none.forType('Patient')).toBeUndefined();
  });

  test('a parameter value cannot add search parameters of its own', async () => {
    const policy = await makePolicy(t.app, p1, 'by-id', [{ resourceType: 'Patient', criteria: 'Patient?_id=%who' }]);
    const { auth } = await makeMember(t.app, p1, {
      profile: `Practitioner/${doctor}`,
      access: [{ policy: { reference: `AccessPolicy/${policy}` }, parameter: [{ name: 'who', valueString: `${alice.id}&_id:not=zzz` }] }],
    });
    const scope = await resolve(auth);
    expect(scope.forType('Patient')?.criteria?.[0].filters).toEqual([{ code: '_id', operator: 'eq', value: `${alice.id}&_id:not=zzz` }]);
    expect(canSee(scope, alice)).toBe(false);
    expect(canSee(scope, bob)).toBe(false);
  });

  test('%patient of a RelatedPerson is the patient it relates to', async () => {
    const policy = await makePolicy(t.app, p1, 'own-patient', [{ resourceType: 'Patient', criteria: 'Patient?_id=%patient.id' }]);
    const related = await make<RelatedPerson>(t.app, { resourceType: 'RelatedPerson', patient: { reference: `Patient/${alice.id}` } }, p1);
    const { auth } = await makeMember(t.app, p1, { profile: `RelatedPerson/${related.id}`, accessPolicy: policy });
    const scope = await resolve(auth);
    expect(canSee(scope, alice)).toBe(true);
    expect(canSee(scope, bob)).toBe(false);
    const practitioner = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, accessPolicy: policy });
    expect((await resolve(practitioner.auth)).forType('Patient')).toBeUndefined();
  });

  test('several policies add up (accessPolicy plus access[])', async () => {
    const readPatients = await makePolicy(t.app, p1, 'patients', [{ resourceType: 'Patient', readonly: true }]);
    const ownRecord = await makePolicy(t.app, p1, 'own', [{ resourceType: 'Patient', criteria: 'Patient?_id=%patient.id' }]);
    const practitioners = await makePolicy(t.app, p1, 'practitioners', [{ resourceType: 'Practitioner', interaction: ['search'] }]);
    const { auth } = await makeMember(t.app, p1, {
      profile: `Patient/${alice.id}`,
      accessPolicy: readPatients,
      access: [{ policy: { reference: `AccessPolicy/${ownRecord}` } }, { policy: { reference: `AccessPolicy/${practitioners}` } }],
    });
    const scope = await resolve(auth);
    expect(scope.forType('Patient')?.interactions.has('update')).toBe(true);
    expect(scope.forType('Patient')?.criteria).toBeUndefined();
    expect(canSee(scope, bob, 'read')).toBe(true);
    expect(canSee(scope, bob, 'update')).toBe(false);
    expect(canSee(scope, alice, 'update')).toBe(true);
    expect([...(scope.forType('Practitioner')?.interactions ?? [])]).toEqual(['search']);
  });

  test('a missing, deleted or foreign policy refuses access (fail closed)', async () => {
    const foreign = await makePolicy(t.app, p2, 'foreign', [{ resourceType: 'Patient' }]);
    const deleted = await makePolicy(t.app, p1, 'deleted', [{ resourceType: 'Patient' }]);
    await deleteResource(repoOf(t.app), 'AccessPolicy', deleted);
    for (const policy of [foreign, deleted, 'does-not-exist']) {
      const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, accessPolicy: policy });
      const err = await rejection(resolve(auth));
      expect(err?.statusCode).toBe(403);
      expect(err?.message).toMatch(/access policy could not be loaded/);
    }
  });

  test('a deleted, inactive or mismatched membership is refused with 401', async () => {
    const gone = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}` });
    await deleteResource(repoOf(t.app), 'ProjectMembership', gone.membership.id);
    expect((await rejection(resolve(gone.auth)))?.statusCode).toBe(401);
    const inactive = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, active: false });
    expect((await rejection(resolve(inactive.auth)))?.statusCode).toBe(401);
    const member = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}` });
    expect((await rejection(resolve({ ...member.auth, projectId: p2 })))?.statusCode).toBe(401);
  });
});
