import type { Clock } from '../clock';
import { createPollingLoop, type PollingLoop } from '../polling-loop';
import type { Database } from './database';
import type { IndexSpecs } from './indexes';

/**
 * The embedded engine records TTL indexes but never expires anything (it has no TTL monitor;
 * secondary indexes are recorded, never used). On it, this loop does what MongoDB's TTL monitor
 * does: every `pollMs`, for every TTL index the domains declare (`expireAfterSeconds` on one
 * date field), it deletes the documents whose date plus that many seconds has passed. On a real
 * MongoDB it is never started: the server's own monitor does this.
 */

export interface TtlRule {
  collection: string;
  field: string;
  expireAfterSeconds: number;
}

/** The TTL indexes among the domains' index specs. */
export function ttlRules(all: readonly IndexSpecs[]): TtlRule[] {
  const rules: TtlRule[] = [];
  for (const specs of all) {
    for (const [collection, indexes] of Object.entries(specs)) {
      for (const index of indexes) {
        const fields = Object.keys(index.key);
        if (typeof index.expireAfterSeconds === 'number' && fields.length === 1) {
          rules.push({ collection, field: fields[0], expireAfterSeconds: index.expireAfterSeconds });
        }
      }
    }
  }
  return rules;
}

/** Deletes what has expired under each rule at the clock's time; answers how many documents went. */
export async function sweepExpired(database: Database, rules: readonly TtlRule[], clock: Clock): Promise<number> {
  let removed = 0;
  for (const rule of rules) {
    const before = new Date(clock.now().getTime() - rule.expireAfterSeconds * 1000);
    const result = await database.db.collection(rule.collection).deleteMany({ [rule.field]: { $lt: before } });
    removed += result.deletedCount;
  }
  return removed;
}

/** The sweeping loop for the embedded engine (undefined on a real MongoDB or with pollMs 0). */
export function embeddedTtlSweeper(database: Database, all: readonly IndexSpecs[], clock: Clock, pollMs: number): PollingLoop | undefined {
  if (!database.embedded || pollMs <= 0) {
    return undefined;
  }
  const rules = ttlRules(all);
  return createPollingLoop(() => sweepExpired(database, rules, clock), pollMs);
}
