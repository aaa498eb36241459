import type { IndexDescription } from 'mongodb';
import type { Database } from './database';

/** Index specs per collection; each domain declares its own and app.ts hands them all here. */
export type IndexSpecs = Record<string, IndexDescription[]>;

/** Creates every index the domains declare (idempotent; run at start). */
export async function ensureIndexes(database: Database, all: readonly IndexSpecs[]): Promise<void> {
  for (const specs of all) {
    for (const [collection, indexes] of Object.entries(specs)) {
      if (indexes.length > 0) {
        await database.db.collection(collection).createIndexes(indexes);
      }
    }
  }
}
