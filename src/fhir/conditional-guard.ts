import { createHash } from 'node:crypto';
import type { ClientSession } from 'mongodb';
import type { Store } from '../db/store';

/**
 * One small document per conditional criteria (a type and its search), written by every
 * conditional create and conditional update in its transaction BEFORE it searches. Why: two
 * identical conditional creates at once each search, find nothing and insert a DIFFERENT
 * document, so under snapshot isolation (real MongoDB, several instances) both would create.
 * Writing this common document first makes the two transactions conflict: MongoDB aborts one with
 * a transient WriteConflict, `withTransaction` runs it again, and the re-run finds the other's
 * resource (200) instead of creating a second one. On the embedded engine transactions run one at
 * a time, so the second simply searches after the first committed. In one process an in-process
 * lock on the same key (see fhir-api/rest/conditional.ts) keeps the two from even trying at once.
 *
 * The key is a hash: the criteria may hold personal data (an identifier, a name), which is never
 * stored here. The documents expire (TTL index on `at`); they only matter while transactions run.
 */
export const CONDITIONAL_GUARDS = 'conditional_guards';

/** How long a guard document is kept after its last use (real MongoDB removes it; the embedded engine keeps it). */
export const CONDITIONAL_GUARD_TTL_SECONDS = 3600;

interface GuardDoc {
  _id: string;
  writes: number;
  at: Date;
}

/** The guard key of a conditional interaction: the type and its criteria in a canonical order. */
export function conditionalKey(type: string, criteria: readonly [string, string][]): string {
  const canonical = [...criteria].sort(([a, x], [b, y]) => (a === b ? (x < y ? -1 : x > y ? 1 : 0) : a < b ? -1 : 1));
  return createHash('sha256').update(`${type}?${new URLSearchParams(canonical).toString()}`).digest('base64url');
}

/** Writes the guard document of `key` in the transaction of `session` (see above). */
export async function touchConditionalGuard(store: Store, session: ClientSession, key: string): Promise<void> {
  await store.database.db.collection<GuardDoc>(CONDITIONAL_GUARDS).updateOne({ _id: key }, { $inc: { writes: 1 }, $set: { at: store.clock.now() } }, { upsert: true, session });
}
