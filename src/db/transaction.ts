import { MongoError, MongoErrorLabel, MongoNetworkError, MongoServerSelectionError, type ClientSession } from 'mongodb';
import { DatabaseUnavailableError, retireServerSession } from './availability';
import { deleteDocs, openLedger, settleCommit, type DocRef } from './commit-ledger';
import type { Database } from './database';
import { LockWaitTimeoutError } from './keyed-lock';

/** A unique index refused a write (E11000), either at write time or at commit. */
export class DuplicateKeyError extends Error {
  constructor(readonly keyPattern?: Record<string, unknown>) {
    super('duplicate key');
  }
}

/**
 * The commit's outcome is unknown (the connection dropped during commit, or no server could be
 * reached to confirm it). The embedded engine does this on a unique-index clash found at commit
 * time; callers re-read and decide. Unresolved, it is answered 503.
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

/** The embedded engine refusing a transaction because an older one is still open on its session id. */
function isStrandedSession(err: unknown): boolean {
  return err instanceof MongoError && err.code === 14 && /transaction already in progress/i.test(err.message);
}

/** A commit that failed for want of the server: its outcome is unknown, and retrying cannot help. */
function isLostCommit(err: unknown): boolean {
  return err instanceof MongoNetworkError || err instanceof MongoServerSelectionError;
}

/**
 * Runs fn in one multi-document transaction and commits it. fn may run more than once when the
 * server reports a transient conflict, so it must do its reads inside the transaction.
 * Duplicate keys become DuplicateKeyError; a dropped connection at commit AmbiguousCommitError.
 * While the database is known to be down it fails at once (DatabaseUnavailableError).
 */
export async function withTransaction<T>(database: Database, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  return withWriteLock(database, () => runTransaction(database, fn));
}

async function runTransaction<T>(database: Database, fn: (session: ClientSession) => Promise<T>): Promise<T> {
  database.availability.assertUp();
  let session = database.client.startSession();
  let release = database.availability.holdTransaction(session);
  // Whether the server may still hold this session's transaction open (an abort that was skipped
  // or failed, a commit that was lost on the way): its id is then retired (retireServerSession).
  let unsettled = false;
  try {
    for (let attempt = 1; ; attempt++) {
      if (unsettled) {
        release();
        endRetired(session);
        session = database.client.startSession();
        release = database.availability.holdTransaction(session);
        unsettled = false;
      }
      session.startTransaction({ readConcern: { level: 'snapshot' }, writeConcern: { w: 'majority' } });
      openLedger(session);
      let result: T;
      try {
        result = await fn(session);
      } catch (err) {
        if (database.embedded && isStrandedSession(err)) {
          // This session id still has an older transaction open on the embedded engine (left by an
          // outage on a path that did not retire it): retire the id and run again on a fresh one.
          unsettled = true;
          if (attempt < MAX_ATTEMPTS && !database.availability.down) {
            continue;
          }
          throw new DatabaseUnavailableError('busy');
        }
        unsettled = !(await abortQuietly(database, session));
        if (isTransient(err) && attempt < MAX_ATTEMPTS && !database.availability.down) {
          continue;
        }
        throw toDomainError(err);
      }
      try {
        await commitWithRetry(database, session);
        return result;
      } catch (err) {
        // A commit that never reached the server leaves its transaction open there.
        unsettled = isLostCommit(err) || !(await abortQuietly(database, session));
        // The outcome may be unknown (or partial on the embedded engine): decide it from what the
        // attempt wrote (commit-ledger.ts) before running it again or giving up. Nothing can be
        // decided while the database is known to be down.
        const settled = database.availability.down ? 'unknown' : await settleCommit(database, session).catch(() => 'unknown' as const);
        if (settled === 'committed') {
          unsettled = false;
          return result;
        }
        if (isLostCommit(err)) {
          if (settled === 'absent' && attempt < MAX_ATTEMPTS && !database.availability.down) {
            continue;
          }
          throw new AmbiguousCommitError();
        }
        if (isTransient(err) && attempt < MAX_ATTEMPTS && !database.availability.down) {
          continue;
        }
        throw toDomainError(err);
      }
    }
  } catch (err) {
    unsettled ||= session.inTransaction();
    throw err;
  } finally {
    release();
    if (unsettled) {
      endRetired(session);
    } else {
      // Ending a session whose transaction is still open sends an abort: not worth waiting for
      // while the database is known to be down (the server drops the transaction by itself).
      const ended = session.endSession().catch(() => undefined);
      if (!database.availability.down) {
        await ended;
      }
    }
  }
}

/** Ends a session whose transaction the server may still hold open, retiring its id first. */
function endRetired(session: ClientSession): void {
  retireServerSession(session);
  // The abort it sends may wait on a dead connection: never waited for.
  session.endSession().catch(() => undefined);
}

async function commitWithRetry(database: Database, session: ClientSession): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await session.commitTransaction();
      return;
    } catch (err) {
      const unknown = err instanceof MongoError && err.hasErrorLabel(MongoErrorLabel.UnknownTransactionCommitResult);
      if (unknown && !isLostCommit(err) && !database.availability.down && attempt < 3) {
        continue;
      }
      throw err;
    }
  }
}

/**
 * Aborts an open transaction, ignoring errors; skipped while the database is known to be down.
 * Answers whether the server is known to hold no transaction of this session any more.
 */
async function abortQuietly(database: Database, session: ClientSession): Promise<boolean> {
  if (!session.inTransaction()) {
    return true;
  }
  if (database.availability.down) {
    return false;
  }
  try {
    await session.abortTransaction();
    return true;
  } catch {
    return false;
  }
}

/**
 * The longest a write waits for its turn on the embedded engine's write lock, in multiples of
 * MONGODB_TIMEOUT_MS. A safety net only: waiters give up at once when the database is known to
 * be down, and the holder's own database calls are bounded by that timeout.
 */
const LOCK_WAIT_TIMEOUTS = 10;

/**
 * A write holding the embedded engine's write lock is abandoned (503, outcome unknown) and the
 * lock passed on when it has run this many MONGODB_TIMEOUT_MS and the database was down at some
 * point meanwhile: a driver call on a connection closed under it can stay pending forever, and
 * must not keep every later write waiting.
 */
export const ABANDON_TIMEOUTS = 2;

/** Runs `work`, giving up on it (DatabaseUnavailableError 'abandoned') as ABANDON_TIMEOUTS says. */
async function abandonOnOutage<T>(database: Database, work: () => Promise<T>): Promise<T> {
  const guard = database.availability.abandonAfterOutage(ABANDON_TIMEOUTS * database.timeoutMs);
  const running = work();
  running.catch(() => undefined);
  try {
    return await Promise.race([running, guard.abandoned]);
  } finally {
    guard.dispose();
  }
}

/**
 * Runs a plain (non-transaction) write. On the embedded engine it waits for running
 * transactions, because there a plain write that overlaps a transaction on the same collection
 * can be lost (measured); on MongoDB it runs at once. Use it for every plain write to a
 * collection that transactions also write. The wait is bounded: it ends with
 * DatabaseUnavailableError as soon as the database is known to be down, or after
 * LOCK_WAIT_TIMEOUTS × MONGODB_TIMEOUT_MS; a write never starts while the database is down, and
 * one that outlasts an outage is abandoned (ABANDON_TIMEOUTS).
 */
export async function withWriteLock<T>(database: Database, fn: () => Promise<T>): Promise<T> {
  if (database.inTransaction.active()) {
    return fn();
  }
  const { availability } = database;
  if (!database.embedded) {
    availability.assertUp();
    return fn();
  }
  try {
    return await database.transactionLock.run(
      'tx',
      () => {
        availability.assertUp();
        return abandonOnOutage(database, () => database.inTransaction.run(fn));
      },
      { signal: availability.signal, maxWaitMs: LOCK_WAIT_TIMEOUTS * database.timeoutMs },
    );
  } catch (err) {
    throw err instanceof LockWaitTimeoutError ? new DatabaseUnavailableError('busy') : err;
  }
}

/**
 * Removes documents a partial commit left behind (see commit-ledger.ts), with plain deletes under
 * the write lock: on the embedded engine a plain write overlapping a transaction on the same
 * collection can be lost, so it waits for running transactions (inside one, it runs at once).
 */
export async function removeOrphans(database: Database, refs: readonly DocRef[]): Promise<void> {
  await withWriteLock(database, () => deleteDocs(database, refs));
}
