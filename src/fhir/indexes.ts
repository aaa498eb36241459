import type { IndexSpecs } from '../db/indexes';
import { historyCollection, STORED_TYPES } from './resource-types';

/** Indexes on every resource collection: project confinement, history paging. */
export function fhirIndexes(): IndexSpecs {
  const specs: IndexSpecs = {};
  for (const type of STORED_TYPES) {
    specs[type] = [
      { key: { project: 1, lastUpdated: -1 } },
      { key: { lastUpdated: -1 } },
      { key: { uk: 1 }, name: 'unique_key', unique: true, partialFilterExpression: { uk: { $exists: true } } },
    ];
    specs[historyCollection(type)] = [{ key: { id: 1, version: -1 } }, { key: { lastUpdated: -1, _id: -1 } }, { key: { project: 1, lastUpdated: -1 } }];
  }
  return specs;
}
