import { randomBytes } from 'node:crypto';
import type { ClientSession } from 'mongodb';
import { DatabaseUnavailableError } from '../../src/db/availability';
import { connectDatabase, pingDatabase, type Database } from '../../src/db/database';
import { withTransaction, withWriteLock } from '../../src/db/transaction';
import { hostPort, startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy';

/**
 * The database layer through a TCP proxy the test cuts and restores (a network partition with
 * the real driver and engine). Bounds are jest's test timeouts.
 */
async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await check())) {
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('database availability', () => {
  let proxy: TcpProxy;
  let database: Database;
  beforeEach(async () => {
    proxy = await startTcpProxy(hostPort(process.env.TEST_MONGODB_URI as string));
    database = await connectDatabase(proxy.mongodbUri(), `t_${randomBytes(6).toString('hex')}`, !process.env.MONGODB_URI);
  });
  afterEach(async () => {
    await proxy.restore();
    await database.close();
    await proxy.close();
  });

  test('is down once the monitor loses the database, fails writes at once, and is up again when it returns', async () => {
    expect(database.availability.down).toBe(false);
    await proxy.cut();
    await until(() => database.availability.down);
    expect(await pingDatabase(database)).toBe(false);
    await expect(withTransaction(database, async () => 'never')).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(withWriteLock(database, async () => 'never')).rejects.toBeInstanceOf(DatabaseUnavailableError);

    await proxy.restore();
    await until(() => !database.availability.down);
    await withTransaction(database, (session) => database.db.collection('after').insertOne({ _id: 'x' as never }, { session }));
    expect(await database.db.collection('after').countDocuments({})).toBe(1);
  }, 20_000);

  test('writes waiting for the embedded write lock give up the moment the database is known down', async () => {
    if (!database.embedded) {
      return; // no write lock on a real MongoDB
    }
    let finishHolder!: () => void;
    const holder = database.transactionLock.run('tx', () => new Promise<void>((r) => (finishHolder = r)));
    const waiters = Array.from({ length: 5 }, (_, i) => withTransaction(database, (session) => database.db.collection('w').insertOne({ _id: `w${i}` as never }, { session })));
    await until(() => database.transactionLock.waiting('tx') === waiters.length);
    await proxy.cut();
    for (const waiter of waiters) {
      await expect(waiter).rejects.toBeInstanceOf(DatabaseUnavailableError);
    }
    finishHolder();
    await holder;
  }, 20_000);

  test('work that outlasts an outage is abandoned; work on a healthy database is not', async () => {
    const healthy = database.availability.abandonAfterOutage(10);
    let healthyAbandoned = false;
    healthy.abandoned.catch(() => (healthyAbandoned = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(healthyAbandoned).toBe(false);

    await proxy.cut();
    await expect(healthy.abandoned).rejects.toMatchObject({ reason: 'abandoned' });
    healthy.dispose();
    const during = database.availability.abandonAfterOutage(10);
    await expect(during.abandoned).rejects.toBeInstanceOf(DatabaseUnavailableError);
  }, 20_000);

  test('a transaction left open on the server by an outage does not block the next one on the same session id', async () => {
    // The first write opens the transaction on the server; the outage then keeps its abort from
    // arriving. Before the fix the driver pooled that session id again and the embedded engine
    // refused the next transaction on it ("transaction already in progress"), answered 500.
    const stranded = withTransaction(database, async (session) => {
      await database.db.collection('stranded').insertOne({ _id: 'lost' as never }, { session });
      await proxy.cut();
      await until(() => database.availability.down);
      throw new Error('the request fails during the outage');
    });
    await expect(stranded).rejects.toThrow('the request fails during the outage');
    // Long enough for the session's own abort to fail (no server to select) and the session to end.
    await new Promise((r) => setTimeout(r, database.timeoutMs + 500));

    await proxy.restore();
    await until(() => !database.availability.down);
    for (let i = 0; i < 3; i++) {
      await withTransaction(database, (session) => database.db.collection('after').insertOne({ _id: `a${i}` as never }, { session }));
    }
    expect(await database.db.collection('after').countDocuments({})).toBe(3);
    expect(await database.db.collection('stranded').countDocuments({})).toBe(0);
  }, 20_000);

  test('the session id of a transaction running when the client is closed and connected again is never used again', async () => {
    // Closing the client ends every session in use and would pool its id again, though the server
    // may still hold its transaction open (when the abort cannot reach it); the embedded engine
    // then refuses the next transaction on that id. The watchdog's reconnect is called directly:
    // a stuck monitor check cannot be made on demand.
    let resume!: () => void;
    const paused = new Promise<void>((r) => (resume = r));
    let held: ClientSession | undefined;
    const running = withTransaction(database, async (session) => {
      await database.db.collection('stranded').insertOne({ _id: 'open' as never }, { session });
      held = session;
      await paused;
    }).catch((err: unknown) => err);
    await until(() => held !== undefined);
    const heldId = held!.id!.id.toString('hex');
    const watchdog = database.availability as unknown as { reconnect(address: string, stuckMs: number): Promise<void> };
    await watchdog.reconnect('test', 0);
    resume();
    expect(await running).toBeInstanceOf(Error);

    await until(() => !database.availability.down);
    const used: string[] = [];
    for (let i = 0; i < 3; i++) {
      await withTransaction(database, (session) => {
        used.push(session.id!.id.toString('hex'));
        return database.db.collection('after').insertOne({ _id: `a${i}` as never }, { session });
      });
    }
    expect(used).not.toContain(heldId);
    expect(await database.db.collection('after').countDocuments({})).toBe(3);
    expect(await database.db.collection('stranded').countDocuments({})).toBe(0);
  }, 30_000);

  test('a session id pooled with a transaction still open on the server is retired, and the write runs on a fresh one', async () => {
    // Strands an id the way no code path should any more: a transaction opened on the server,
    // then the session handed back to the driver's pool without an abort. On the embedded engine
    // the next transaction on that id is refused ("transaction already in progress").
    const stray = database.client.startSession();
    stray.startTransaction();
    await database.db.collection('stranded').insertOne({ _id: 'open' as never }, { session: stray });
    const strandedId = stray.id!.id.toString('hex');
    (stray as unknown as { transaction: { state: string } }).transaction.state = 'NO_TRANSACTION';
    await stray.endSession();

    const used: string[] = [];
    await withTransaction(database, (session) => {
      used.push(session.id!.id.toString('hex'));
      return database.db.collection('after').insertOne({ _id: 'a' as never }, { session });
    });
    expect(await database.db.collection('after').countDocuments({})).toBe(1);
    if (database.embedded) {
      expect(used[0]).toBe(strandedId);
      expect(used.at(-1)).not.toBe(strandedId);
    }
    // The id is not handed out again.
    await withTransaction(database, (session) => {
      used.push(session.id!.id.toString('hex'));
      return database.db.collection('after').insertOne({ _id: 'b' as never }, { session });
    });
    expect(used.at(-1)).not.toBe(strandedId);
  }, 30_000);
});
