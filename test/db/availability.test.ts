import { randomBytes } from 'node:crypto';
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
});
