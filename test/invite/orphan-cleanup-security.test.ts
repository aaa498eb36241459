import { MongoError, type ClientSession, type Collection, type Db, type Document, type MongoClient } from 'mongodb';
import type { Database } from '../../src/db/database';
import { removeOrphans, withTransaction } from '../../src/db/transaction';
import { useTestApp } from '../helpers/suite';
import { createMember, createProject, uniqueEmail } from '../helpers/invite';
import { inviteDeps, inviteDirect } from '../helpers/invite';

/** Forwards every property of `target`, functions bound to it (driver classes use private fields). */
function forward<T extends object>(target: T, override: (prop: string | symbol) => unknown): T {
  return new Proxy(target, {
    get(t, prop) {
      const replaced = override(prop);
      if (replaced !== undefined) {
        return replaced;
      }
      const value = Reflect.get(t, prop, t) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(t) : value;
    },
  });
}

interface FaultyDatabase {
  database: Database;
  /** For each plain deleteOne: whether a transaction of this database handle was open at the time. */
  deletesDuringTransaction: boolean[];
}

/**
 * The app's database, except that the first transaction commit, once it has landed, runs
 * `afterFirstCommit` (to make the landing partial) and then reports a transient error, as a
 * dropped commit would. Every plain deleteOne records whether a transaction was open.
 */
function faultyDatabase(real: Database, afterFirstCommit: () => Promise<void>): FaultyDatabase {
  const sessions = new Set<ClientSession>();
  const deletesDuringTransaction: boolean[] = [];
  let fired = false;
  const client = forward<MongoClient>(real.client, (prop) => {
    if (prop !== 'startSession') {
      return undefined;
    }
    return (...args: Parameters<MongoClient['startSession']>) => {
      const session = real.client.startSession(...args);
      sessions.add(session);
      const commit = session.commitTransaction.bind(session);
      session.commitTransaction = (async (options?: Parameters<ClientSession['commitTransaction']>[0]) => {
        await commit(options);
        if (!fired) {
          fired = true;
          await afterFirstCommit();
          const err = new MongoError('injected: the commit reported a transient error');
          err.addErrorLabel('TransientTransactionError');
          throw err;
        }
      }) as ClientSession['commitTransaction'];
      return session;
    };
  });
  const db = forward<Db>(real.db, (prop) => {
    if (prop !== 'collection') {
      return undefined;
    }
    return (name: string) =>
      forward<Collection<Document>>(real.db.collection(name), (p) =>
        p === 'deleteOne'
          ? (...args: Parameters<Collection<Document>['deleteOne']>) => {
              deletesDuringTransaction.push([...sessions].some((s) => s.inTransaction()));
              return real.db.collection(name).deleteOne(...args);
            }
          : undefined,
      );
  });
  return { database: { ...real, client, db }, deletesDuringTransaction };
}

/**
 * What a partially landed invite transaction left behind is removed with plain deletes: under the
 * write lock (the embedded engine can lose a plain write that overlaps a transaction), and never
 * while a transaction of the invite is open.
 */
describe('invite: removing what a partial commit left behind', () => {
  const t = useTestApp();

  const embeddedOnly = process.env.MONGODB_URI ? test.skip : test;
  embeddedOnly('on the embedded engine, removeOrphans waits for a running transaction before deleting', async () => {
    const database = t.app.ctx.database;
    expect(database.embedded).toBe(true);
    const probe = database.db.collection<{ _id: string }>('orphan_probe');
    await probe.insertOne({ _id: 'orphan-1' });
    let entered!: () => void;
    let release!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const held = new Promise<void>((resolve) => (release = resolve));
    const transaction = withTransaction(database, async (session) => {
      await probe.findOne({ _id: 'other' }, { session });
      entered();
      await held;
    });
    await inside;
    const removal = removeOrphans(database, [{ collection: 'orphan_probe', id: 'orphan-1' }]);
    let whileHeld: unknown;
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      whileHeld = await probe.findOne({ _id: 'orphan-1' });
    } finally {
      // Always end the transaction, so that a failure here does not hold the lock for the next test.
      release();
      await transaction;
      await removal;
    }
    expect(whileHeld).not.toBeNull();
    expect(await probe.findOne({ _id: 'orphan-1' })).toBeNull();
  });

  test('a commit that landed partially and reported a transient error: orphans removed outside any transaction, the invite run again once', async () => {
    const project = await createProject(t.app);
    const admin = await createMember(t.app, project.id, { admin: true });
    const real = t.app.ctx.database;
    // The membership "did not land": its documents go, the rest of the transaction stays.
    const faulty = faultyDatabase(real, async () => {
      await real.db.collection('ProjectMembership').deleteMany({ project: project.id, 'resource.user.reference': { $ne: `User/${admin.user.id}` } });
      await real.db.collection('ProjectMembership_history').deleteMany({ project: project.id, 'resource.user.reference': { $ne: `User/${admin.user.id}` } });
    });
    const email = uniqueEmail('partial');
    const result = await inviteDirect({ ...inviteDeps(t.app), database: faulty.database }, admin.auth, project.id, {
      resourceType: 'Practitioner',
      firstName: 'Par',
      lastName: 'Tial',
      email,
      sendEmail: false,
    });
    expect(result).toMatchObject({ membershipCreated: true, userCreated: true });

    // The orphans (User, Practitioner, their history, activation) were deleted, with no transaction open.
    expect(faulty.deletesDuringTransaction.length).toBeGreaterThan(0);
    expect(faulty.deletesDuringTransaction.every((open) => !open)).toBe(true);

    // Exactly one of everything, nothing pointing at a User that does not exist.
    const db = real.db;
    const users = await db.collection('User').find({ 'resource.email': email }).toArray();
    expect(users.map((u) => u._id)).toEqual([result.user.id]);
    const memberships = await db.collection('ProjectMembership').find({ project: project.id, 'resource.user.reference': `User/${result.user.id}` }).toArray();
    expect(memberships.map((m) => m._id)).toEqual([result.membership.id]);
    expect(await db.collection('Practitioner').countDocuments({ project: project.id, 'resource.telecom.value': email })).toBe(1);
    const userIds = (await db.collection('User').find({}).toArray()).map((u) => String(u._id));
    const userHistory = await db.collection('User_history').find({}).toArray();
    expect(userHistory.filter((h) => !userIds.includes(String(h.id)))).toEqual([]);
    const activations = await db.collection('activations').find({}).toArray();
    expect(activations.filter((a) => !userIds.includes(String(a.userId)))).toEqual([]);
  });
});
