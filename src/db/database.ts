import { MongoClient, type ClientSession, type Db } from 'mongodb';

/** The database handle passed to every domain function. */
export interface Database {
  client: MongoClient;
  db: Db;
  /** True when running on the embedded development engine (jongodb quirks apply). */
  embedded: boolean;
  close(): Promise<void>;
}

export async function connectDatabase(uri: string, dbName: string, embedded: boolean): Promise<Database> {
  const client = new MongoClient(uri, { serverSelectionTimeoutMS: 10_000, maxPoolSize: 50 });
  await client.connect();
  const db = client.db(dbName);
  return { client, db, embedded, close: () => client.close() };
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
