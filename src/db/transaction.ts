import { MongoError, MongoNetworkError, type ClientSession } from 'mongodb';
import { deleteDocs, openLedger, settleCommit, type DocRef } from './commit-ledger';
import type { Database } from './database';

/** A unique index refused a write (E11000), either at write time or at commit. */
export class DuplicateKeyError extends Error {
  constructor(readonly keyPattern?: Record<string, unknown>) {
    super('duplicate key');
  }
}

/**
 * The commit's outcome is unknown (the connection dropped during commit). The embedded engine
 * does this on a unique-index clash found at commit time; callers re-read and decide.
 */
export class AmbiguousCommitError extends Error {
  constructor() {
    super('transaction commit outcome unknown');
  }
}

const MAX_ATTEMPTS = 5;

export function isDuplicateKey(err: unknown): boolean {
  return err instanceof DuplicateKeyError || (err instanceof MongoError && (err.code === 11000 || err.code === 11001));
}

function isTransient(err: unknown): boolean {
  return err instanceof MongoError && (err.hasErrorLabel('TransientTransactionError') || err.code === 112);
}

function toDomainError(err: unknown): unknown {
  if (err instanceof MongoError && (err.code === 11000 || err.code === 11001)) {
    return new DuplicateKeyError((err as MongoError & { keyPattern?: Record<string, unknown> }).keyPattern);
  }
  return err;
}

/**
 * Runs fn in one multi-document transaction and commits it. fn may run more than once when the
 * server reports a transient conflict, so it must do its reads inside the transaction.
 * Duplicate keys become DuplicateKeyError; a dropped connection at commit AmbiguousCommitError.
 */
export async function withTransaction<T>(database: Database, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  return withWriteLock(database, () => runTransaction(database, fn));
}

async function runTransaction<T>(database: Database, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  const session = database.client.startSession();
  try {
    for (let attempt = 1; ; attempt++) {
      session.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
      openLedger(session);
      let result: T;
      try {
        result = await fn(session);
      } catch (err) {
        await abortQuietly(session);
        if (isTransient(err) && attempt < MAX_ATTEMPTS) {
          continue;
        }
        throw toDomainError(err);
      }
      try {
        await commitWithRetry(session);
        return result;
      } catch (err) {
        await abortQuietly(session);
        // The outcome may be unknown (or partial on the embedded engine): decide it from what the
        // attempt wrote (commit-ledger.ts) before running it again or giving up.
        const settled = await settleCommit(database, session);
        if (settled === 'committed') {
          return result;
        }
        if (isTransient(err) && attempt < MAX_ATTEMPTS) {
          continue;
        }
        if (err instanceof MongoNetworkError) {
          if (settled === 'absent' && attempt < MAX_ATTEMPTS) {
            continue;
          }
          throw new AmbiguousCommitError();
        }
        throw toDomainError(err);
      }
    }
  } finally {
    await session.endSession().catch(() => undefined);
  }
}

async function commitWithRetry(session: ClientSession): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await session.commitTransaction();
      return;
    } catch (err) {
      if (err instanceof MongoError && err.hasErrorLabel('UnknownTransactionCommitResult') && !(err instanceof MongoNetworkError) && attempt < 3) {
        continue;
      }
      throw err;
    }
  }
}

async function abortQuietly(session: ClientSession): Promise<void> {
  if (session.inTransaction()) {
    await session.abortTransaction().catch(() => undefined);
  }
}

/**
 * Runs a plain (non-transaction) write. On the embedded engine it waits for running
 * transactions, because there a plain write that overlaps a transaction on the same collection
 * can be lost (measured); on MongoDB it runs at once. Use it for every plain write to a
 * collection that transactions also write.
 */
export async function withWriteLock<T>(database: Database, fn: () => Promise<T>): Promise<T> {
  if (database.embedded && !database.inTransaction.getStore()) {
    return database.transactionLock.run('tx', () => database.inTransaction.run(true, fn));
  }
  return fn();
}

/**
 * Removes documents a partial commit left behind (see commit-ledger.ts), with plain deletes under
 * the write lock: on the embedded engine a plain write overlapping a transaction on the same
 * collection can be lost, so it waits for running transactions (inside one, it runs at once).
 */
export async function removeOrphans(database: Database, refs: readonly DocRef[]): Promise<void> {
  await withWriteLock(database, () => deleteDocs(database, refs));
}
