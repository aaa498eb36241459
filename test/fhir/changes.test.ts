import type { Db } from 'mongodb';
import type { Patient } from '@medplum/fhirtypes';
import { conflict } from '../../src/errors';
import type { ResourceChange } from '../../src/fhir/changes';
import { snapshotDatabase } from '../helpers/app';
import { createProject, uniqueEmail } from '../helpers/fixtures';
import { useSignIn, useTestApp } from '../helpers/suite';
import { postInvite } from '../helpers/invite';
import { FHIR_JSON } from '../helpers/fhir';

/**
 * The storage layer's change hook (src/fhir/changes.ts): every create, update and delete calls
 * the listeners given at composition time INSIDE its transaction, before the commit. A listener
 * writes with the change's session (its document commits with the change) or throws to refuse it
 * (everything rolls back).
 */
describe('change listeners', () => {
  interface Seen {
    change: ResourceChange;
    inTransaction: boolean;
    /** Whether the written version was visible outside the transaction when the listener ran. */
    visibleOutside: boolean;
  }
  const seen: Seen[] = [];
  /** Resource types whose changes the listener refuses (409), after writing its own document. */
  const refuse = new Set<string>();
  /** The app's database, once built (the first administrator is written while the app is built: not recorded). */
  let db: Db | undefined;

  const t = useTestApp({
    changeListeners: [
      async (change) => {
        if (!db) {
          return;
        }
        const outside = await db.collection(change.type).findOne({ _id: change.id as never, version: change.version });
        seen.push({ change, inTransaction: change.session.inTransaction(), visibleOutside: outside !== null });
        await db
          .collection('change_probe')
          .insertOne({ _id: `${change.type}/${change.id}/${change.version}` as never, method: change.method, actor: change.actor?.principal.reference }, { session: change.session });
        if (refuse.has(change.type)) {
          throw conflict(`${change.type} changes are refused by a listener`);
        }
      },
    ],
  });
  beforeAll(() => {
    db = t.app.ctx.database.db;
  });
  const admin = useSignIn(t);

  beforeEach(() => {
    seen.length = 0;
    refuse.clear();
  });

  const probe = (id: string) => (db as Db).collection('change_probe').findOne({ _id: id as never });

  test('a create, an update and a delete each call the listener inside their transaction, before the commit', async () => {
    const created = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, ...FHIR_JSON }, payload: { resourceType: 'Patient', name: [{ family: 'Hook' }] } });
    expect(created.statusCode).toBe(201);
    const patient = created.json() as Patient & { id: string };
    const updated = await t.app.inject({ method: 'PUT', url: `/fhir/R4/Patient/${patient.id}`, headers: { ...admin.headers, ...FHIR_JSON }, payload: { ...patient, gender: 'female' } });
    expect(updated.statusCode).toBe(200);
    const deleted = await t.app.inject({ method: 'DELETE', url: `/fhir/R4/Patient/${patient.id}`, headers: admin.headers });
    expect(deleted.statusCode).toBe(200);

    expect(seen.map((s) => [s.change.type, s.change.method, s.change.version])).toEqual([
      ['Patient', 'POST', 1],
      ['Patient', 'PUT', 2],
      ['Patient', 'DELETE', 3],
    ]);
    expect(seen.every((s) => s.inTransaction && !s.visibleOutside)).toBe(true);
    const [create, update, remove] = seen.map((s) => s.change);
    expect(create).toMatchObject({ id: patient.id, before: undefined, after: { resourceType: 'Patient', id: patient.id, meta: { versionId: '1' } } });
    expect(update.before).toMatchObject({ meta: { versionId: '1' } });
    expect(update.after).toMatchObject({ gender: 'female', meta: { versionId: '2' } });
    expect(remove).toMatchObject({ before: { gender: 'female' }, after: undefined });
    // What the writer was doing, for listeners that classify changes.
    expect(seen.map((s) => s.change.operation)).toEqual(['create', 'update', 'delete']);
    // Who did it: the signed-in super administrator, through its membership, in its project.
    expect(create.actor?.principal.reference).toMatch(/^User\//);
    expect(create.actor?.membership?.reference).toMatch(/^ProjectMembership\//);
    expect(create.actor?.project).toBe(admin.project?.reference?.replace('Project/', ''));
    // The listener's own document committed with each change.
    expect(await probe(`Patient/${patient.id}/1`)).toMatchObject({ method: 'POST', actor: create.actor?.principal.reference });
    expect(await probe(`Patient/${patient.id}/3`)).toMatchObject({ method: 'DELETE' });
  });

  test('a listener that throws refuses the change: the write and the listener\'s own document roll back', async () => {
    refuse.add('Patient');
    const before = await snapshotDatabase(t.app);
    const res = await t.app.inject({ method: 'POST', url: '/fhir/R4/Patient', headers: { ...admin.headers, ...FHIR_JSON }, payload: { resourceType: 'Patient', name: [{ family: 'Refused' }] } });
    expect(res.statusCode).toBe(409);
    expect(res.json().issue[0].diagnostics).toBe('Patient changes are refused by a listener');
    expect(seen).toHaveLength(1);
    expect(await snapshotDatabase(t.app)).toEqual(before);
    expect(await probe(`Patient/${seen[0].change.id}/1`)).toBeNull();
  });

  test('an invite writes through the repository: every resource it writes reaches the listener in its one transaction', async () => {
    const project = await createProject(t.app);
    const res = await postInvite(t.app, admin.headers, project.id, { resourceType: 'Practitioner', firstName: 'Lis', lastName: 'Tener', email: uniqueEmail('listener'), sendEmail: false });
    expect(res.statusCode).toBe(201);
    expect(seen.map((s) => `${s.change.method} ${s.change.type}`).sort()).toEqual(['POST Practitioner', 'POST ProjectMembership', 'POST User']);
    expect(new Set(seen.map((s) => s.change.session)).size).toBe(1);
    expect(seen.map((s) => s.change.operation)).toEqual(['invite', 'invite', 'invite']);
    expect(seen.every((s) => s.inTransaction && s.change.actor?.principal.reference === seen[0].change.actor?.principal.reference)).toBe(true);
  });

  test('a refused invite leaves nothing behind', async () => {
    const project = await createProject(t.app);
    refuse.add('ProjectMembership');
    const before = await snapshotDatabase(t.app);
    const res = await postInvite(t.app, admin.headers, project.id, { resourceType: 'Practitioner', firstName: 'No', lastName: 'Way', email: uniqueEmail('refused'), sendEmail: false });
    expect(res.statusCode).toBe(409);
    expect(await snapshotDatabase(t.app)).toEqual(before);
  });
});
