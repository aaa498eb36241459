import { MongoClient, type ClientSession, type Db } from 'mongodb';
import { DEFAULT_MONGODB_TIMEOUT_MS } from '../config';
import { DatabaseAvailability, type DatabaseLog } from './availability';
import { KeyedLock } from './keyed-lock';
import { TransactionMark } from './transaction-mark';

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
  inTransaction: TransactionMark;
  /** Whether the database is known to be unreachable (from the driver's monitoring). */
  availability: DatabaseAvailability;
  /** How long a request waits for the database before it answers 503 (MONGODB_TIMEOUT_MS). */
  timeoutMs: number;
  close(): Promise<void>;
}

/**
 * How often the driver checks each server. Also how soon a recovered database is noticed: while
 * the database is known to be down requests answer 503 without trying it, so this is the
 * longest an instance keeps refusing after the database is back.
 */
const HEARTBEAT_MS = 1000;

export interface ConnectOptions {
  /** See Database.timeoutMs. */
  timeoutMs?: number;
  /** Where to report what the database layer does on its own (reconnecting). */
  log?: DatabaseLog;
}

/**
 * Connects with every wait bounded by `timeoutMs`: finding a server (server selection), opening
 * a connection, and waiting for a free pooled connection. A lost connection is noticed by the
 * driver's monitor within `timeoutMs` plus one heartbeat, which also interrupts operations still
 * waiting on it; from then on requests answer 503 at once (see DatabaseAvailability).
 */
export async function connectDatabase(uri: string, dbName: string, embedded: boolean, options: ConnectOptions = {}): Promise<Database> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_MONGODB_TIMEOUT_MS;
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: timeoutMs,
    connectTimeoutMS: timeoutMs,
    waitQueueTimeoutMS: timeoutMs,
    heartbeatFrequencyMS: HEARTBEAT_MS,
    maxPoolSize: 50,
  });
  // A monitor check takes at most a connection (connect + handshake) and one awaited heartbeat.
  const stuckCheckMs = 2 * timeoutMs + HEARTBEAT_MS + 2000;
  const availability = new DatabaseAvailability(client, { stuckCheckMs, retryMs: HEARTBEAT_MS, log: options.log });
  try {
    await client.connect();
  } catch (err) {
    availability.stop();
    throw err;
  }
  const db = client.db(dbName);
  return {
    client,
    db,
    embedded,
    transactionLock: new KeyedLock(),
    inTransaction: new TransactionMark(),
    availability,
    timeoutMs,
    close: async () => {
      availability.stop();
      await client.close();
    },
  };
}

/** Whether the database answers a ping right now (at once false while it is known to be down). */
export async function pingDatabase(database: Database): Promise<boolean> {
  if (database.availability.down) {
    return false;
  }
  try {
    await database.db.command({ ping: 1 });
    return true;
  } catch {
    return false;
  }
}

export type { ClientSession, Db };
