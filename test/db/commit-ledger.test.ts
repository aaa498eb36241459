import { randomBytes } from 'node:crypto';
import { MongoError, MongoNetworkError, type ClientSession, type MongoClient } from 'mongodb';
import { recordWrite } from '../../src/db/commit-ledger';
import { connectDatabase, type Database } from '../../src/db/database';
import { withTransaction } from '../../src/db/transaction';

/**
 * withTransaction settles a commit that failed after it landed (a dropped connection, or the
 * embedded engine's partial commit) from what the transaction recorded: the writers note their
 * own documents (recordWrite) and the domain code just calls withTransaction.
 */
describe('withTransaction: a failed commit is settled from the ledger', () => {
  let real: Database;
  beforeAll(async () => {
    real = await connectDatabase(process.env.TEST_MONGODB_URI as string, `t_${randomBytes(6).toString('hex')}`, !process.env.MONGODB_URI);
  });
  afterAll(async () => {
    await real.close();
  });

  /**
   * The database, except that the first commit, once it has landed, runs `afterCommit` and then
   * fails with `error` (as a dropped or conflicting commit would report it).
   */
  function failingFirstCommit(error: () => Error, afterCommit: () => Promise<void> = async () => undefined): Database {
    let fired = false;
    const client = new Proxy(real.client, {
      get(target, prop) {
        if (prop === 'startSession') {
          return (...args: Parameters<MongoClient['startSession']>) => {
            const session = target.startSession(...args);
            const commit = session.commitTransaction.bind(session);
            session.commitTransaction = (async (options?: Parameters<ClientSession['commitTransaction']>[0]) => {
              await commit(options);
              if (!fired) {
                fired = true;
                await afterCommit();
                throw error();
              }
            }) as ClientSession['commitTransaction'];
            return session;
          };
        }
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return { ...real, client };
  }

  const transient = (): Error => {
    const err = new MongoError('injected: a transient error after the commit landed');
    err.addErrorLabel('TransientTransactionError');
    return err;
  };

  async function writeTwo(database: Database, session: ClientSession, prefix: string): Promise<string> {
    for (const name of ['a', 'b']) {
      await database.db.collection('ledger').insertOne({ _id: `${prefix}-${name}` as never }, { session });
      recordWrite(session, { collection: 'ledger', id: `${prefix}-${name}` });
    }
    return 'done';
  }

  const count = (prefix: string) => real.db.collection('ledger').countDocuments({ _id: { $in: [`${prefix}-a`, `${prefix}-b`] } as never });

  test('a commit that landed whole but reported a transient error stands: the function ran once', async () => {
    const database = failingFirstCommit(transient);
    let runs = 0;
    const result = await withTransaction(database, async (session) => {
      runs += 1;
      return writeTwo(database, session, 'whole');
    });
    expect([result, runs, await count('whole')]).toEqual(['done', 1, 2]);
  });

  test('a commit that landed whole but dropped its connection stands (no AmbiguousCommitError)', async () => {
    const database = failingFirstCommit(() => new MongoNetworkError('injected: connection dropped during commit'));
    let runs = 0;
    const result = await withTransaction(database, async (session) => {
      runs += 1;
      return writeTwo(database, session, 'dropped');
    });
    expect([result, runs, await count('dropped')]).toEqual(['done', 1, 2]);
  });

  test('a partial landing is removed and the function runs again: everything exactly once', async () => {
    // Half of the commit "did not land": the rest stays until the ledger settles it.
    const database = failingFirstCommit(transient, async () => {
      await real.db.collection('ledger').deleteOne({ _id: 'partial-b' as never });
    });
    let runs = 0;
    const result = await withTransaction(database, async (session) => {
      runs += 1;
      return writeTwo(database, session, 'partial');
    });
    expect([result, runs, await count('partial')]).toEqual(['done', 2, 2]);
  });
});
