import { AsyncLocalStorage } from 'node:async_hooks';
import { MongoClient, type ClientSession, type Db } from 'mongodb';
import { KeyedLock } from './keyed-lock';

/** The database handle passed to every domain function. */
export interface Database {
  client: MongoClient;
  db: Db;
  /** True when running on the embedded development engine (jongodb quirks apply). */
  embedded: boolean;
  /**
   * On the embedded engine, transactions run one at a time per database: concurrent transactions
   * there can lose each other's committed inserts (measured), which real MongoDB never does.
   */
  transactionLock: KeyedLock;
  /** Marks the async context of a running transaction, so nested ones do not wait for themselves. */
  inTransaction: AsyncLocalStorage<boolean>;
  close(): Promise<void>;
}

export async function connectDatabase(uri: string, dbName: string, embedded: boolean): Promise<Database> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, maxPoolSize: 50 });
  await client.connect();
  const db = client.db(dbName);
  return { client, db, embedded, transactionLock: new KeyedLock(), inTransaction: new AsyncLocalStorage(), close: () => client.close() };
}

/** Whether the database answers a ping right now. */
export async function pingDatabase(database: Database): Promise<boolean> {
  try {
    await database.db.command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}

export type { ClientSession, Db };
