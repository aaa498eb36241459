import type { IndexDescription } from 'mongodb';
import type { Database } from './database';
import { authIndexes } from '../auth/indexes';
import { emailIndexes } from '../email/indexes';
import { fhirIndexes } from '../fhir/indexes';
import { inviteIndexes } from '../invite/indexes';

/** Index specs per collection; each domain declares its own. */
export type IndexSpecs = Record<string, IndexDescription[]>;

/** Creates every index the domains declare (idempotent; run at start). */
export async function ensureIndexes(database: Database): Promise<void> {
  const all: IndexSpecs[] = [fhirIndexes(), authIndexes(), inviteIndexes(), emailIndexes()];
  for (const specs of all) {
    for (const [collection, indexes] of Object.entries(specs)) {
      if (indexes.length > 0) {
        await database.db.collection(collection).createIndexes(indexes);
      }
    }
  }
}
