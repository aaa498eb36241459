import { randomBytes } from 'node:crypto';
import { connectDatabase, type Database } from '../../src/db/database';
import { DuplicateKeyError, withTransaction } from '../../src/db/transaction';

describe('withTransaction', () => {
  let database: Database;
  beforeAll(async () => {
    database = await connectDatabase(process.env.TEST_MONGODB_URI as string, `t_${randomBytes(6).toString('hex')}`, true);
    await database.db.collection('things').createIndex({ key: 1 }, { unique: true });
  });
  afterAll(async () => {
    await database.close();
  });

  test('commits every write together', async () => {
    await withTransaction(database, async (session) => {
      await database.db.collection('things').insertOne({ _id: 'a' as never, key: 'a' }, { session });
      await database.db.collection('others').insertOne({ _id: 'a' as never }, { session });
    });
    expect(await database.db.collection('things').countDocuments({ _id: 'a' as never })).toBe(1);
    expect(await database.db.collection('others').countDocuments({ _id: 'a' as never })).toBe(1);
  });

  test('a failure inside leaves nothing written', async () => {
    await expect(
      withTransaction(database, async (session) => {
        await database.db.collection('things').insertOne({ _id: 'b' as never, key: 'b' }, { session });
        throw new Error('refused');
      }),
    ).rejects.toThrow('refused');
    expect(await database.db.collection('things').countDocuments({ _id: 'b' as never })).toBe(0);
  });

  test('a unique-index clash becomes DuplicateKeyError and writes nothing', async () => {
    await expect(
      withTransaction(database, async (session) => {
        await database.db.collection('others').insertOne({ _id: 'c' as never }, { session });
        await database.db.collection('things').insertOne({ _id: 'c' as never, key: 'a' }, { session });
      }),
    ).rejects.toBeInstanceOf(DuplicateKeyError);
    expect(await database.db.collection('others').countDocuments({ _id: 'c' as never })).toBe(0);
  });
});
