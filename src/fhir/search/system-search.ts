import type { Filter, Sort } from 'mongodb';
import type { Database } from '../../db/database';
import type { StoredResource } from '../repository';
import { currentCollection } from '../resource-types';
import type { AccessFilter } from './execute';
import { and, buildSearchFilter } from './filter-builder';
import type { ParsedSearch } from './parse-query';

/**
 * A search across several types (GET /fhir/R4?_type=...): each type's matches, found with the same
 * filters and confinement as a search of that type, merged in one order — newest first by
 * default, or by `_lastUpdated` / `_id` as `_sort` says (the only orders every type shares) — and
 * paged with `_count` / `_offset` over the merged list.
 */

export interface TypedSearch {
  type: string;
  parsed: ParsedSearch;
}

export interface SystemSearchResult {
  matches: StoredResource[];
  total?: number;
  hasMore: boolean;
}

type Key = { field: 'lastUpdated' | '_id'; direction: 1 | -1 };

function sortKeys(parsed: ParsedSearch): Key[] {
  const rules = parsed.request.sortRules ?? [];
  if (rules.length === 0) {
    return [
      { field: 'lastUpdated', direction: -1 },
      { field: '_id', direction: -1 },
    ];
  }
  const keys: Key[] = rules.map((r) => ({ field: r.code === '_id' ? '_id' : 'lastUpdated', direction: r.descending ? -1 : 1 }));
  if (!keys.some((k) => k.field === '_id')) {
    keys.push({ field: '_id', direction: 1 });
  }
  return keys;
}

function compare(keys: Key[]): (a: StoredResource, b: StoredResource) => number {
  return (a, b) => {
    for (const { field, direction } of keys) {
      const x = field === '_id' ? a._id : a.lastUpdated.getTime();
      const y = field === '_id' ? b._id : b.lastUpdated.getTime();
      if (x !== y) {
        return (x < y ? -1 : 1) * direction;
      }
    }
    const [s, t] = [a.resource.resourceType, b.resource.resourceType];
    return s === t ? 0 : s < t ? -1 : 1;
  };
}

/** Runs one parsed search per type, confined by `access`, and answers one merged page. */
export async function executeSystemSearch(database: Database, searches: readonly TypedSearch[], access: AccessFilter, now?: Date): Promise<SystemSearchResult> {
  const { count, offset, total: wantTotal } = searches[0].parsed.request;
  const keys = sortKeys(searches[0].parsed);
  const sort: Sort = Object.fromEntries(keys.map((k) => [k.field, k.direction]));
  const all: StoredResource[] = [];
  let total = 0;
  for (const { type, parsed } of searches) {
    const confinement = await access(type);
    if (!confinement) {
      continue;
    }
    const filter = and([{ deleted: false }, confinement, buildSearchFilter(type, parsed.request.filters, now)]) as Filter<StoredResource>;
    const collection = database.db.collection<StoredResource>(currentCollection(type));
    if (count > 0) {
      all.push(...(await collection.find(filter).sort(sort).limit(offset + count + 1).toArray()));
    }
    if (wantTotal === 'accurate' || wantTotal === 'estimate') {
      total += await collection.countDocuments(filter);
    }
  }
  all.sort(compare(keys));
  const matches = all.slice(offset, offset + count);
  const hasMore = all.length > offset + count;
  if (wantTotal === 'accurate' || wantTotal === 'estimate') {
    return { matches, total, hasMore };
  }
  return { matches, hasMore, ...(offset === 0 && !hasMore && count > 0 ? { total: matches.length } : {}) };
}
