import { randomBytes } from 'node:crypto';
import { connectDatabase, type Database } from '../../src/db/database';
import { DuplicateKeyError, withTransaction } from '../../src/db/transaction';

describe('withTransaction', () => {
  let database: Database;
  beforeAll(async () => {
    database = await connectDatabase(process.env.TEST_MONGODB_URI as string, `t_${randomBytes(6).toString('hex')}`, !process.env.MONGODB_URI);
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

  test('concurrent transactions on one collection keep every committed insert', async () => {
    // The embedded engine loses inserts of concurrent transactions unless they are serialised.
    const writers = Array.from({ length: 6 }, (_, w) =>
      (async () => {
        for (let i = 0; i < 10; i++) {
          await withTransaction(database, async (session) => {
            await database.db.collection('many').insertOne({ _id: `w${w}-${i}` as never }, { session });
            await database.db.collection('many_log').insertOne({ _id: `w${w}-${i}` as never }, { session });
          });
        }
      })(),
    );
    await Promise.all(writers);
    expect(await database.db.collection('many').countDocuments({})).toBe(60);
    expect(await database.db.collection('many_log').countDocuments({})).toBe(60);
  });

  test('a transaction started inside another one does not wait for it', async () => {
    const result = await withTransaction(database, async () => withTransaction(database, async () => 'inner'));
    expect(result).toBe('inner');
  });
});
