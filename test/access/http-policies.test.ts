import type { Patient, User } from '@medplum/fhirtypes';
import { snapshotDatabase } from '../helpers/app';
import { useTestApp } from '../helpers/suite';
import { signIn, type SignedIn } from '../helpers/auth';
import { make, makeProject } from '../helpers/access';
import { idsIn, Recorder, signedInMember, type Member } from '../helpers/access';

describe('access policies through the FHIR REST API', () => {
  const t = useTestApp();
  let rec: Recorder;
  let p1: string;
  let p2: string;
  let doctor: string;
  let alice: Patient & { id: string };
  let bob: Patient & { id: string };
  let carol: Patient & { id: string };
  let root: { session: SignedIn };
  const members: Record<string, Member & { passwordHash: string }> = {};

  beforeAll(async () => {
    rec = new Recorder(t.app);
    p1 = await makeProject(t.app, 'One');
    p2 = await makeProject(t.app, 'Two');
    doctor = (await make(t.app, { resourceType: 'Practitioner', name: [{ family: 'House' }] }, p1)).id;
    alice = await make<Patient>(t.app, { resourceType: 'Patient', birthDate: '1990-02-03', gender: 'female', name: [{ family: 'Liddell', given: ['Alice'] }] }, p1);
    bob = await make<Patient>(t.app, { resourceType: 'Patient', birthDate: '1980-01-01', gender: 'male', name: [{ family: 'Builder', given: ['Bob'] }] }, p1);
    carol = await make<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Elsewhere' }] }, p2);
    const practitioner = `Practitioner/${doctor}`;
    const specs = [
      { key: 'reader', profile: practitioner, policy: [{ resourceType: 'Patient', readonly: true }] },
      { key: 'alice', profile: `Patient/${alice.id}`, policy: [{ resourceType: 'Patient', criteria: 'Patient?_id=%patient.id' }] },
      { key: 'hider', profile: practitioner, policy: [{ resourceType: 'Patient', hiddenFields: ['birthDate', 'name.family'] }] },
      { key: 'star', profile: practitioner, policy: [{ resourceType: '*' }, { resourceType: 'ProjectMembership' }, { resourceType: 'User' }, { resourceType: 'AccessPolicy' }] },
      { key: 'deleter', profile: practitioner, policy: [{ resourceType: 'Patient', interaction: ['read', 'delete'] as ('read' | 'delete')[] }] },
      { key: 'plain', profile: practitioner },
      { key: 'manager', profile: practitioner, admin: true },
    ];
    for (const spec of specs) {
      members[spec.key] = await signedInMember(t.app, p1, spec);
    }
    root = { session: await signIn(t.app) };
  });

  test('read-only policy: reads pass, writes are 403 and change nothing', async () => {
    const reader = members.reader;
    expect((await rec.call(reader, 'GET', `Patient/${alice.id}`)).status).toBe(200);
    const search = await rec.call(reader, 'GET', 'Patient');
    expect(search.status).toBe(200);
    expect(idsIn(search.json)).toEqual([alice.id, bob.id].sort());
    const before = await snapshotDatabase(t.app);
    const create = await rec.call(reader, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'New' }] });
    expect(create.status).toBe(403);
    expect(create.json.issue[0].diagnostics).toBe('You may not create Patient resources');
    expect((await rec.call(reader, 'PUT', `Patient/${alice.id}`, { ...alice, gender: 'other' })).status).toBe(403);
    expect((await rec.call(reader, 'DELETE', `Patient/${alice.id}`)).status).toBe(403);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    expect((await rec.call(reader, 'GET', 'Practitioner')).status).toBe(403);
  });

  test('%patient criteria: a patient finds and changes only their own record', async () => {
    const patient = members.alice;
    const search = await rec.call(patient, 'GET', 'Patient');
    expect(search.status).toBe(200);
    expect(idsIn(search.json)).toEqual([alice.id]);
    expect((await rec.call(patient, 'GET', `Patient/${alice.id}`)).status).toBe(200);
    expect([403, 404]).toContain((await rec.call(patient, 'GET', `Patient/${bob.id}`)).status);
    expect([403, 404]).toContain((await rec.call(patient, 'GET', `Patient/${carol.id}`)).status);
    const before = await snapshotDatabase(t.app);
    expect([403, 404]).toContain((await rec.call(patient, 'PUT', `Patient/${bob.id}`, { ...bob, gender: 'other' })).status);
    expect((await rec.call(patient, 'POST', 'Patient', { resourceType: 'Patient', name: [{ family: 'Fake' }] })).status).toBe(403);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    const own = await rec.call(patient, 'GET', `Patient/${alice.id}`);
    const updated = await rec.call(patient, 'PUT', `Patient/${alice.id}`, { ...own.json, telecom: [{ system: 'phone', value: '555' }] });
    expect(updated.status).toBe(200);
    alice = { ...alice, ...updated.json };
  });

  test('hidden fields never appear in reads or searches', async () => {
    const hider = members.hider;
    const read = await rec.call(hider, 'GET', `Patient/${alice.id}`);
    expect(read.status).toBe(200);
    expect(read.json).not.toHaveProperty('birthDate');
    expect(read.json.name).toEqual([{ given: ['Alice'] }]);
    expect(read.json.gender).toBe('female');
    const search = await rec.call(hider, 'GET', 'Patient');
    expect(search.json.entry).toHaveLength(2);
    expect(search.body).not.toMatch(/1990-02-03|1980-01-01|Liddell|Builder/);
  });

  test('a PUT of what a caller saw keeps the fields hidden from them', async () => {
    const hider = members.hider;
    const seen = (await rec.call(hider, 'GET', `Patient/${bob.id}`)).json;
    expect((await rec.call(hider, 'PUT', `Patient/${bob.id}`, { ...seen, gender: 'other' })).status).toBe(200);
    const stored = (await rec.call(root, 'GET', `Patient/${bob.id}`)).json;
    expect(stored.gender).toBe('other');
    expect(stored.birthDate).toBe('1980-01-01');
    expect(stored.name).toEqual([{ family: 'Builder', given: ['Bob'] }]);
  });

  test('"*" does not grant the administrative types', async () => {
    const star = members.star;
    expect((await rec.call(star, 'GET', 'Patient')).status).toBe(200);
    expect((await rec.call(star, 'GET', 'Practitioner')).status).toBe(200);
    for (const url of ['ProjectMembership', 'User', 'AccessPolicy', 'ClientApplication', `Project/${p1}`, `ProjectMembership/${star.membershipId}`, `User/${star.userId}`]) {
      expect([url, (await rec.call(star, 'GET', url)).status]).toEqual([url, 403]);
    }
  });

  test('members who are not administrators cannot touch memberships', async () => {
    const plain = members.plain;
    const membership = (await rec.call(members.manager, 'GET', `ProjectMembership/${plain.membershipId}`)).json;
    expect(membership.resourceType).toBe('ProjectMembership');
    const before = await snapshotDatabase(t.app);
    expect((await rec.call(plain, 'GET', 'ProjectMembership')).status).toBe(403);
    expect((await rec.call(plain, 'GET', `ProjectMembership/${plain.membershipId}`)).status).toBe(403);
    expect((await rec.call(plain, 'PUT', `ProjectMembership/${plain.membershipId}`, { ...membership, admin: true })).status).toBe(403);
    expect((await rec.call(plain, 'POST', 'ProjectMembership', { ...membership, id: undefined, meta: undefined })).status).toBe(403);
    expect((await rec.call(plain, 'DELETE', `ProjectMembership/${plain.membershipId}`)).status).toBe(403);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });

  test('a project administrator manages memberships of the project only, and cannot move them', async () => {
    const admin = members.manager;
    const search = await rec.call(admin, 'GET', 'ProjectMembership');
    expect(search.status).toBe(200);
    expect(search.json.entry.every((e: { resource: { project: { reference: string } } }) => e.resource.project.reference === `Project/${p1}`)).toBe(true);
    const membership = (await rec.call(admin, 'GET', `ProjectMembership/${members.plain.membershipId}`)).json;
    const moved = await rec.call(admin, 'PUT', `ProjectMembership/${membership.id}`, { ...membership, user: { reference: `User/${members.reader.userId}` } });
    expect(moved.status).toBe(403);
    expect(moved.json.issue[0].expression).toEqual(['ProjectMembership.user']);
    const raised = await rec.call(admin, 'PUT', `Project/${p1}`, { resourceType: 'Project', id: p1, name: 'One', superAdmin: true });
    // superAdmin is hidden from and read-only for project administrators: the value sent is
    // ignored (the stored one is kept) or refused, but never written.
    expect([200, 403]).toContain(raised.status);
    const stored = await t.app.ctx.database.db.collection<{ _id: string; resource: { superAdmin?: boolean } }>('Project').findOne({ _id: p1 });
    expect(stored?.resource.superAdmin).toBeUndefined();
    expect(raised.body).not.toMatch(/superAdmin/);
    expect((await rec.call(admin, 'GET', `Project/${p2}`)).status).toBe(404);
  });

  test('a project administrator sees the users scoped to the project, never the server-scoped members', async () => {
    const admin = members.manager;
    const scoped = await make<User>(t.app, { resourceType: 'User', firstName: 'Scoped', lastName: 'Here', email: 'scoped-here@example.com', project: { reference: `Project/${p1}` } }, p1);
    const search = await rec.call(admin, 'GET', 'User?_count=100');
    expect(search.status).toBe(200);
    expect(idsIn(search.json)).toEqual([scoped.id]);
    expect((await rec.call(admin, 'GET', `User/${scoped.id}`)).status).toBe(200);
    // The members here are server-scoped users: seen through their memberships only.
    expect((await rec.call(admin, 'GET', `User/${members.plain.userId}`)).status).toBe(404);
    const byEmail = await rec.call(admin, 'GET', `User?email=${encodeURIComponent(members.plain.email)}`);
    expect(idsIn(byEmail.json)).toEqual([]);
    expect(byEmail.body).not.toContain(members.plain.userId);
    const rootUser = await t.app.ctx.database.db.collection<{ _id: string }>('User').findOne({ 'resource.email': 'admin@example.com' });
    expect(rootUser).not.toBeNull();
    expect((await rec.call(admin, 'GET', `User/${rootUser?._id}`)).status).toBe(404);
  });

  test('a policy that grants delete but not update lets the member delete', async () => {
    const victim = await make<Patient>(t.app, { resourceType: 'Patient', name: [{ family: 'Temp' }] }, p1);
    const res = await rec.call(members.deleter, 'DELETE', `Patient/${victim.id}`);
    expect(res.status).toBe(200);
    expect((await rec.call(root, 'GET', `Patient/${victim.id}`)).status).toBe(410);
  });

  test('no response in this suite carried a password or a password hash', async () => {
    await rec.call(root, 'GET', 'User?_count=100');
    await rec.call(members.manager, 'GET', `User/${members.alice.userId}`);
    expect(rec.bodies.length).toBeGreaterThan(30);
    const secrets = Object.values(members).flatMap((m) => [m.password, m.passwordHash]);
    for (const body of rec.bodies) {
      expect(body).not.toMatch(/passwordHash|mfaSecret|\$argon2/);
      for (const secret of secrets) {
        expect(body.includes(secret)).toBe(false);
      }
    }
  });
});
