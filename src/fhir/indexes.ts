import type { IndexSpecs } from '../db/indexes';
import { CONDITIONAL_GUARD_TTL_SECONDS, CONDITIONAL_GUARDS } from './conditional-guard';
import { historyCollection, STORED_TYPES } from './resource-types';
import { INDEXED_PARAMS, storedField } from './search/supported-params';

/**
 * Indexes on every resource collection: project confinement with the default search order
 * (newest first, then _id), the same order across projects (super administrator), unique keys,
 * one per indexed search parameter (prefixed with project), and history paging. No index is a
 * prefix of another: every index costs on each write (on the embedded engine, each transaction's
 * commit grows with the index entries of the collections it writes).
 */
export function fhirIndexes(): IndexSpecs {
  const specs: IndexSpecs = {};
  for (const type of STORED_TYPES) {
    specs[type] = [
      { key: { project: 1, lastUpdated: -1, _id: -1 } },
      { key: { lastUpdated: -1, _id: -1 } },
      { key: { uk: 1 }, name: 'unique_key', unique: true, partialFilterExpression: { uk: { $exists: true } } },
      ...Object.entries(INDEXED_PARAMS[type] ?? {}).map(([code, kind]) => ({ key: { project: 1, [storedField(kind, code)]: 1 }, name: `sp_${code}` })),
    ];
    specs[historyCollection(type)] = [
      { key: { id: 1, version: -1 } },
      { key: { lastUpdated: -1, _id: -1 } },
      { key: { project: 1, lastUpdated: -1, _id: -1 } },
    ];
  }
  specs[CONDITIONAL_GUARDS] = [{ key: { at: 1 }, name: 'expire', expireAfterSeconds: CONDITIONAL_GUARD_TTL_SECONDS }];
  return specs;
}
