import type { Database } from '../db/database';
import { withWriteLock } from '../db/transaction';

/**
 * Deciding what an invite transaction whose commit outcome is unknown really did. MongoDB
 * commits atomically, so the answer there is "all" or "nothing". The embedded development
 * engine, on a unique-key clash found only at commit, drops the connection AND applies the
 * other writes of the transaction: then the documents that did land are orphans (e.g. a
 * membership of a User that was never stored) and are removed before the invite is retried.
 * Since transactions on that engine run one at a time per database handle (db/transaction.ts),
 * this is a safety net for a second handle or process on the same engine.
 */

/** A document the transaction inserted (deletable by id if it turns out orphaned). */
export interface DocRef {
  collection: string;
  id: string;
  /** Fields that prove the document with that id is this transaction's (for ids others may use too). */
  match?: Record<string, unknown>;
}

export type CommitState = 'committed' | 'absent' | 'partial';

export async function commitState(database: Database, inserted: readonly DocRef[]): Promise<{ state: CommitState; present: DocRef[] }> {
  const present: DocRef[] = [];
  for (const ref of inserted) {
    const found = await database.db.collection<{ _id: string }>(ref.collection).findOne({ ...ref.match, _id: ref.id });
    if (found) {
      present.push(ref);
    }
  }
  const state: CommitState = present.length === inserted.length ? 'committed' : present.length === 0 ? 'absent' : 'partial';
  return { state, present };
}

/**
 * Removes what a partial commit left behind (documents only this transaction could have made).
 * These are plain deletes on collections that transactions write, so they run under
 * `withWriteLock`: on the embedded engine a plain write overlapping a transaction on the same
 * collection can be lost. Call it outside any transaction (the invite does): inside one, the lock
 * is already held and the deletes would overlap that very transaction.
 */
export async function removeOrphans(database: Database, present: readonly DocRef[]): Promise<void> {
  await withWriteLock(database, async () => {
    for (const ref of present) {
      await database.db.collection<{ _id: string }>(ref.collection).deleteOne({ ...ref.match, _id: ref.id });
    }
  });
}
