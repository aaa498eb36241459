import type { ClientSession } from 'mongodb';
import type { Database } from './database';

/**
 * Settling a commit whose outcome is unknown, from what the transaction wrote.
 *
 * A commit can fail after it landed: the connection drops during the commit (any engine), and the
 * embedded engine, on a unique-key clash found only at commit, drops the connection AND applies
 * the transaction's other writes (a partial commit, which MongoDB never does). So the writers of
 * documents whose identity belongs to one transaction (a new resource and its first history entry,
 * the credentials of a new account, an activation request, an outbox mail, an idempotency answer)
 * note them here (`recordWrite`, right after the write, in the transaction); `withTransaction`
 * keeps one ledger per attempt and, when the commit fails, asks `settleCommit`:
 *
 * - every recorded document is there → the transaction committed: its result stands;
 * - none of its own documents is there → nothing landed: it can run again;
 * - some are there → a partial commit: what landed is removed (plain deletes, while withTransaction
 *   holds the write lock and no transaction is open), and it counts as nothing landed.
 *
 * Domain code never sees this: it calls withTransaction and gets all-or-nothing.
 */

/** A document a transaction wrote. */
export interface DocRef {
  collection: string;
  id: string;
  /** Fields that prove the document with that id is this transaction's (for ids others may use too). */
  match?: Record<string, unknown>;
  /**
   * An existing document this transaction replaced (`match` names the version it wrote): it must
   * be there for the commit to count as landed, but it proves nothing on its own (another writer
   * may have written the same version) and is never removed.
   */
  replaced?: boolean;
}

/** One ledger per transaction attempt, found by its session: nothing outlives the session. */
const ledgers = new WeakMap<ClientSession, DocRef[]>();

/** Starts an empty ledger for a new attempt of the transaction on `session` (withTransaction calls it). */
export function openLedger(session: ClientSession): void {
  ledgers.set(session, []);
}

/**
 * Notes a document written in the transaction on `session`. Call it right after the write; a
 * write without a session (or outside withTransaction) is not noted.
 */
export function recordWrite(session: ClientSession | undefined, ref: DocRef): void {
  if (session) {
    ledgers.get(session)?.push(ref);
  }
}

export type CommitState = 'committed' | 'absent' | 'partial';

/** Which of the documents are in the database now (plain reads: call it outside any transaction). */
export async function commitState(database: Database, refs: readonly DocRef[]): Promise<{ state: CommitState; present: DocRef[] }> {
  const present: DocRef[] = [];
  for (const ref of refs) {
    const found = await database.db.collection<{ _id: string }>(ref.collection).findOne({ ...ref.match, _id: ref.id });
    if (found) {
      present.push(ref);
    }
  }
  const own = present.filter((r) => !r.replaced);
  const state: CommitState = present.length === refs.length ? 'committed' : own.length === 0 ? 'absent' : 'partial';
  return { state, present };
}

/**
 * Deletes documents a partial commit left behind (only this transaction could have made them).
 * Plain deletes on collections that transactions write: the caller holds the write lock (see
 * removeOrphans in transaction.ts, and withTransaction, which settles while it holds it).
 */
export async function deleteDocs(database: Database, refs: readonly DocRef[]): Promise<void> {
  for (const ref of refs) {
    await database.db.collection<{ _id: string }>(ref.collection).deleteOne({ ...ref.match, _id: ref.id });
  }
}

/**
 * After a failed commit on `session`: 'committed' when everything the attempt recorded is there,
 * 'absent' when none of its own documents is (after removing those a partial commit left), and
 * 'unknown' when it recorded none of its own (nothing to decide from: the caller's error stands).
 */
export async function settleCommit(database: Database, session: ClientSession): Promise<'committed' | 'absent' | 'unknown'> {
  const refs = ledgers.get(session) ?? [];
  if (!refs.some((r) => !r.replaced)) {
    return 'unknown';
  }
  const { state, present } = await commitState(database, refs);
  if (state === 'committed') {
    return 'committed';
  }
  if (state === 'partial') {
    await deleteDocs(database, present.filter((r) => !r.replaced));
  }
  return 'absent';
}
