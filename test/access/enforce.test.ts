import type { Patient, ProjectMembership, RelatedPerson, User } from '@medplum/fhirtypes';
import type { AccessScope } from '../../src/access/access-scope';
import { canSee, checkWrite, redact, requireInteraction, restoreHiddenFields } from '../../src/access/enforce';
import { resolveAccessScope } from '../../src/access/resolve';
import type { AuthContext } from '../../src/accounts/auth-context';
import { useTestApp } from '../helpers/suite';
import { make, makeMember, makePolicy, makeProject, rootAuth, thrown } from '../helpers/access';

describe('enforcement of access policies', () => {
  const t = useTestApp();
  let p1: string;
  let p2: string;
  let alice: Patient & { id: string };
  let bob: Patient & { id: string };
  let doctor: string;

  const scopeFor = async (spec: Parameters<typeof makeMember>[2]): Promise<AccessScope> => {
    const { auth } = await makeMember(t.app, p1, spec);
    return resolveAccessScope(t.app.ctx, auth);
  };
  const inP1 = <T extends object>(resource: T): T => ({ ...resource, meta: { project: p1 } });

  beforeAll(async () => {
    p1 = await makeProject(t.app, 'One');
    p2 = await makeProject(t.app, 'Two');
    doctor = (await make(t.app, { resourceType: 'Practitioner' }, p1)).id;
    alice = await make<Patient>(t.app, { resourceType: 'Patient', gender: 'female', birthDate: '1990-02-03', name: [{ family: 'Alice', given: ['A'] }] }, p1);
    bob = await make<Patient>(t.app, { resourceType: 'Patient', gender: 'male', birthDate: '1980-01-01', name: [{ family: 'Bob', given: ['B'] }] }, p1);
  });

  test('read-only: reads pass, every write is refused with 403', async () => {
    const policy = await makePolicy(t.app, p1, 'ro', [{ resourceType: 'Patient', readonly: true }]);
    const scope = await scopeFor({ profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const access = requireInteraction(scope, 'Patient', 'read');
    expect(canSee(scope, alice)).toBe(true);
    for (const interaction of ['create', 'update', 'delete'] as const) {
      expect(thrown(() => requireInteraction(scope, 'Patient', interaction))?.statusCode).toBe(403);
    }
    const err = thrown(() => checkWrite(scope, access, { ...alice, gender: 'other' }, alice));
    expect(err?.statusCode).toBe(403);
    expect(err?.message).toBe('You may not update Patient resources');
  });

  test('%patient criteria: a patient sees and changes only their own record', async () => {
    const policy = await makePolicy(t.app, p1, 'own', [
      { resourceType: 'Patient', criteria: 'Patient?_id=%patient.id' },
      { resourceType: 'RelatedPerson', criteria: 'RelatedPerson?patient=%patient', readonly: true },
    ]);
    const scope = await scopeFor({ profile: `Patient/${alice.id}`, accessPolicy: policy });
    const access = requireInteraction(scope, 'Patient', 'search');
    expect(access.criteria).toEqual([{ resourceType: 'Patient', filters: [{ code: '_id', operator: 'eq', value: alice.id }] }]);
    expect(canSee(scope, alice)).toBe(true);
    expect(canSee(scope, bob)).toBe(false);
    expect(thrown(() => checkWrite(scope, access, { ...alice, gender: 'other' }, alice))).toBeUndefined();
    const other = thrown(() => checkWrite(scope, access, { ...bob, gender: 'other' }, bob));
    expect(other?.statusCode).toBe(403);
    expect(other?.message).toContain(`Patient/${bob.id}`);
    expect(thrown(() => checkWrite(scope, access, inP1({ resourceType: 'Patient' as const })))?.statusCode).toBe(403);
    expect(thrown(() => checkWrite(scope, access, bob, bob, 'delete'))?.statusCode).toBe(403);
    expect(thrown(() => checkWrite(scope, access, alice, alice, 'delete'))).toBeUndefined();

    const mine = await make<RelatedPerson>(t.app, { resourceType: 'RelatedPerson', patient: { reference: `Patient/${alice.id}` } }, p1);
    const theirs = await make<RelatedPerson>(t.app, { resourceType: 'RelatedPerson', patient: { reference: `Patient/${bob.id}` } }, p1);
    expect(canSee(scope, mine)).toBe(true);
    expect(canSee(scope, theirs)).toBe(false);
    expect(scope.forType('Practitioner')).toBeUndefined();
  });

  test('a write may not move a resource out of the criteria', async () => {
    const policy = await makePolicy(t.app, p1, 'women', [{ resourceType: 'Patient', criteria: 'Patient?gender=female' }]);
    const scope = await scopeFor({ profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const access = requireInteraction(scope, 'Patient', 'update');
    expect(thrown(() => checkWrite(scope, access, { ...alice, birthDate: '1990-02-04' }, alice))).toBeUndefined();
    const err = thrown(() => checkWrite(scope, access, { ...alice, gender: 'male' }, alice));
    expect(err?.statusCode).toBe(403);
    expect(err?.message).toMatch(/outside what your access policy allows/);
  });

  test('project confinement applies to every write', async () => {
    const scope = await scopeFor({ profile: `Practitioner/${doctor}` });
    const access = requireInteraction(scope, 'Patient', 'create');
    expect(thrown(() => checkWrite(scope, access, { resourceType: 'Patient', meta: { project: p2 } }))?.statusCode).toBe(403);
    expect(thrown(() => checkWrite(scope, access, { ...alice, meta: { project: p2 } }, alice))?.statusCode).toBe(403);
    expect(thrown(() => checkWrite(scope, access, inP1({ resourceType: 'Patient' as const })))).toBeUndefined();
  });

  test('hidden fields are removed (nested too) without changing the input', async () => {
    const policy = await makePolicy(t.app, p1, 'hidden', [{ resourceType: 'Patient', hiddenFields: ['birthDate', 'name.family'] }]);
    const scope = await scopeFor({ profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const access = requireInteraction(scope, 'Patient', 'read');
    const before = JSON.stringify(alice);
    const shown = redact(access, alice);
    expect(shown).not.toHaveProperty('birthDate');
    expect(shown.name).toEqual([{ given: ['A'] }]);
    expect(shown.gender).toBe('female');
    expect(JSON.stringify(alice)).toBe(before);
  });

  test('a PUT of what the caller saw keeps the hidden fields; a changed element drops only its hidden part', async () => {
    const policy = await makePolicy(t.app, p1, 'hidden-write', [{ resourceType: 'Patient', hiddenFields: ['birthDate', 'name.family'] }]);
    const scope = await scopeFor({ profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const access = requireInteraction(scope, 'Patient', 'update');
    const seen = redact(access, alice);
    const restored = restoreHiddenFields(access, { ...seen, gender: 'other', birthDate: '2000-01-01' }, alice);
    expect(restored.birthDate).toBe(alice.birthDate);
    expect(restored.name).toEqual(alice.name);
    expect(restored.gender).toBe('other');
    const renamed = restoreHiddenFields(access, { ...seen, name: [{ given: ['Anna'], family: 'Sneaky' }] }, alice);
    expect(renamed.name).toEqual([{ given: ['Anna'] }]);
    const created = restoreHiddenFields(access, { resourceType: 'Patient', birthDate: '2000-01-01' } as Patient);
    expect(created).not.toHaveProperty('birthDate');
  });

  test('read-only fields cannot change (403 naming the field) but the rest can', async () => {
    const policy = await makePolicy(t.app, p1, 'ro-fields', [{ resourceType: 'Patient', readonlyFields: ['gender', 'name.family'] }]);
    const scope = await scopeFor({ profile: `Practitioner/${doctor}`, accessPolicy: policy });
    const access = requireInteraction(scope, 'Patient', 'update');
    expect(thrown(() => checkWrite(scope, access, { ...alice, birthDate: '1991-01-01' }, alice))).toBeUndefined();
    const gender = thrown(() => checkWrite(scope, access, { ...alice, gender: 'male' }, alice));
    expect(gender?.statusCode).toBe(403);
    expect(gender?.message).toContain('Patient.gender');
    expect(gender?.issues?.[0].expression).toEqual(['Patient.gender']);
    const family = thrown(() => checkWrite(scope, access, { ...alice, name: [{ family: 'Other', given: ['A'] }] }, alice));
    expect(family?.issues?.[0].expression).toEqual(['Patient.name.family']);
    const onCreate = thrown(() => checkWrite(scope, access, inP1({ resourceType: 'Patient' as const, gender: 'male' as const })));
    expect(onCreate?.statusCode).toBe(403);
    expect(onCreate?.message).toMatch(/cannot be set/);
    expect(thrown(() => checkWrite(scope, access, inP1({ resourceType: 'Patient' as const, birthDate: '2000-01-01' })))).toBeUndefined();
  });

  test('union: one policy hides a field for everyone, another shows the own record in full', async () => {
    const all = await makePolicy(t.app, p1, 'all-hidden', [{ resourceType: 'Patient', readonly: true, hiddenFields: ['birthDate'] }]);
    const own = await makePolicy(t.app, p1, 'own-full', [{ resourceType: 'Patient', criteria: 'Patient?_id=%patient.id' }]);
    const scope = await scopeFor({ profile: `Patient/${alice.id}`, accessPolicy: all, access: [{ policy: { reference: `AccessPolicy/${own}` } }] });
    const access = requireInteraction(scope, 'Patient', 'read');
    expect(redact(access, alice).birthDate).toBe(alice.birthDate);
    expect(redact(access, bob)).not.toHaveProperty('birthDate');
    expect(thrown(() => checkWrite(scope, access, { ...bob, gender: 'other' }, bob))?.statusCode).toBe(403);
    expect(thrown(() => checkWrite(scope, access, { ...alice, gender: 'other' }, alice))).toBeUndefined();
  });

  test('non-administrators cannot touch memberships; administrators cannot move them', async () => {
    const member = await scopeFor({ profile: `Practitioner/${doctor}` });
    for (const interaction of ['read', 'search', 'create', 'update', 'delete'] as const) {
      expect(thrown(() => requireInteraction(member, 'ProjectMembership', interaction))?.statusCode).toBe(403);
    }
    const { membership, auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, admin: true });
    const admin = await resolveAccessScope(t.app.ctx, auth as AuthContext);
    const access = requireInteraction(admin, 'ProjectMembership', 'update');
    expect(thrown(() => checkWrite(admin, access, { ...membership, admin: false }, membership))).toBeUndefined();
    const moved: ProjectMembership = { ...membership, user: { reference: 'User/someone-else' } };
    expect(thrown(() => checkWrite(admin, access, moved, membership))?.issues?.[0].expression).toEqual(['ProjectMembership.user']);
    const foreign = await make<ProjectMembership>(t.app, { resourceType: 'ProjectMembership', project: { reference: `Project/${p2}` }, user: { reference: 'User/x' }, profile: { reference: 'Practitioner/y' } }, p2);
    expect(canSee(admin, foreign)).toBe(false);
    expect(thrown(() => checkWrite(admin, access, { ...foreign, admin: true }, foreign))?.statusCode).toBe(403);
  });

  test('a project administrator may update but not raise their own project', async () => {
    const { auth } = await makeMember(t.app, p1, { profile: `Practitioner/${doctor}`, admin: true });
    const admin = await resolveAccessScope(t.app.ctx, auth);
    const access = requireInteraction(admin, 'Project', 'update');
    const project = { resourceType: 'Project' as const, id: p1, name: 'One', meta: { project: p1 } };
    expect(thrown(() => checkWrite(admin, access, { ...project, name: 'Renamed' }, project))).toBeUndefined();
    expect(thrown(() => checkWrite(admin, access, { ...project, superAdmin: true }, project))?.issues?.[0].expression).toEqual(['Project.superAdmin']);
    const other = { resourceType: 'Project' as const, id: p2, name: 'Two', meta: { project: p2 } };
    expect(canSee(admin, other)).toBe(false);
    expect(thrown(() => checkWrite(admin, access, { ...other, name: 'Mine' }, other))?.statusCode).toBe(403);
  });

  test('secret fields never leave through redact and are never written, even by the super administrator', async () => {
    const scope = await resolveAccessScope(t.app.ctx, await rootAuth(t.app));
    const access = requireInteraction(scope, 'User', 'read');
    const user = { resourceType: 'User', id: 'u1', email: 'a@example.com', passwordHash: 'argon2-hash', mfaSecret: 'TOTPSECRET' } as User & { id: string };
    const shown = redact(access, user);
    expect(JSON.stringify(shown)).not.toMatch(/argon2-hash|TOTPSECRET/);
    expect(shown.email).toBe('a@example.com');
    const clean = { resourceType: 'User', id: 'u1', email: 'a@example.com' } as User;
    const err = thrown(() => checkWrite(scope, access, { ...clean, passwordHash: 'x' } as User, clean));
    expect(err?.statusCode).toBe(400);
    expect(err?.issues?.[0].expression).toEqual(['User.passwordHash']);
    expect(thrown(() => checkWrite(scope, access, { ...clean, firstName: 'A' } as User, clean))).toBeUndefined();
    const app = { resourceType: 'ClientApplication' as const, id: 'c1', name: 'x', secret: 'client-secret' };
    expect(redact(requireInteraction(scope, 'ClientApplication', 'read'), app)).not.toHaveProperty('secret');
  });
});
