import type { IncludeTarget } from '@medplum/core';
import type { ClientSession, Filter, Sort } from 'mongodb';
import type { Database } from '../../db/database';
import { badRequest } from '../../errors';
import type { StoredResource } from '../repository';
import { currentCollection, isStoredType } from '../resource-types';
import { and, buildSearchFilter } from './filter-builder';
import type { ParsedSearch } from './parse-query';
import { indexedParam, SPECIAL_PARAMS, storedField } from './supported-params';

/** The most resources one request brings in through _include and _revinclude together. */
export const MAX_INCLUDED = 1000;

/**
 * The confinement filter for a type (project and access criteria), or undefined when the caller
 * may not read that type at all. Given by the REST layer.
 */
export type AccessFilter = (type: string) => Promise<Filter<StoredResource> | undefined>;

export interface SearchResult {
  matches: StoredResource[];
  included: StoredResource[];
  /** Known when asked for (_total=accurate) or when the first page holds everything. */
  total?: number;
  hasMore: boolean;
}

/** The MongoDB sort for the search (always ending with _id so that paging is stable). */
export function sortSpec(type: string, parsed: ParsedSearch): Sort {
  const rules = parsed.request.sortRules ?? [];
  if (rules.length === 0) {
    return { lastUpdated: -1, _id: -1 };
  }
  const sort: Record<string, 1 | -1> = {};
  for (const rule of rules) {
    const kind = SPECIAL_PARAMS[rule.code]?.kind ?? indexedParam(type, rule.code)?.kind ?? 'token';
    sort[storedField(kind, rule.code)] = rule.descending ? -1 : 1;
  }
  if (!('_id' in sort)) {
    sort._id = 1;
  }
  return sort;
}

const collection = (database: Database, type: string) => database.db.collection<StoredResource>(currentCollection(type));

function checkIncludeParam(target: IncludeTarget, name: string): NonNullable<ReturnType<typeof indexedParam>> {
  const param = indexedParam(target.resourceType, target.searchParam);
  if (!param || param.kind !== 'reference') {
    throw badRequest(`${name}=${target.resourceType}:${target.searchParam}: ${target.searchParam} is not a reference search parameter of ${target.resourceType}`, name);
  }
  if (target.targetType && !param.targets.includes(target.targetType)) {
    throw badRequest(`${name}: ${target.resourceType}:${target.searchParam} cannot point to ${target.targetType}`, name);
  }
  return param;
}

async function loadIncludes(database: Database, type: string, matches: StoredResource[], targets: IncludeTarget[], access: AccessFilter, session?: ClientSession): Promise<StoredResource[]> {
  const wanted = new Map<string, Set<string>>();
  for (const target of targets) {
    if (target.resourceType !== type) {
      throw badRequest(`_include=${target.resourceType}:${target.searchParam} does not apply to a ${type} search`, '_include');
    }
    checkIncludeParam(target, '_include');
    for (const doc of matches) {
      for (const ref of (doc.sp[target.searchParam] as string[] | undefined) ?? []) {
        const [refType, id] = ref.split('/');
        if ((!target.targetType || target.targetType === refType) && isStoredType(refType)) {
          (wanted.get(refType) ?? wanted.set(refType, new Set()).get(refType))?.add(id);
        }
      }
    }
  }
  const out: StoredResource[] = [];
  for (const [refType, ids] of wanted) {
    const confinement = await access(refType);
    if (!confinement) {
      continue;
    }
    const filter = and([{ _id: { $in: [...ids] }, deleted: false }, confinement]) as Filter<StoredResource>;
    out.push(...(await collection(database, refType).find(filter, { session }).limit(MAX_INCLUDED).toArray()));
  }
  return out;
}

async function loadRevIncludes(database: Database, type: string, matches: StoredResource[], targets: IncludeTarget[], access: AccessFilter, session?: ClientSession): Promise<StoredResource[]> {
  const out: StoredResource[] = [];
  for (const target of targets) {
    const param = checkIncludeParam(target, '_revinclude');
    if (!isStoredType(target.resourceType) || !param.targets.includes(type) || (target.targetType && target.targetType !== type)) {
      throw badRequest(`_revinclude=${target.resourceType}:${target.searchParam} cannot point to ${type}`, '_revinclude');
    }
    const confinement = await access(target.resourceType);
    if (!confinement || matches.length === 0) {
      continue;
    }
    const refs = matches.map((d) => `${type}/${d._id}`);
    const filter = and([{ [`sp.${target.searchParam}`]: { $in: refs }, deleted: false }, confinement]) as Filter<StoredResource>;
    out.push(...(await collection(database, target.resourceType).find(filter, { session }).limit(MAX_INCLUDED).toArray()));
  }
  return out;
}

/**
/**
 * Runs a parsed search of `type` confined by `access`: the page of matches and their includes.
 * `now` is the time of the search (the app's clock): codes that expire are decided against it.
 * Inside the transaction of `session` when given, it sees that transaction's own writes.
 */
export async function executeSearch(database: Database, type: string, parsed: ParsedSearch, access: AccessFilter, now?: Date, session?: ClientSession): Promise<SearchResult> {
  const confinement = await access(type);
  if (!confinement) {
    return { matches: [], included: [], total: 0, hasMore: false };
  }
  const { request } = parsed;
  const filter = and([{ deleted: false }, confinement, buildSearchFilter(type, request.filters, now)]) as Filter<StoredResource>;
  const sort = sortSpec(type, parsed);
  const docs =
    request.count === 0 ? [] : await collection(database, type).find(filter, { session }).sort(sort).skip(request.offset).limit(request.count + 1).toArray();
  const hasMore = docs.length > request.count;
  const matches = docs.slice(0, request.count);
  let total: number | undefined;
  if (request.total === 'accurate' || request.total === 'estimate') {
    total = await collection(database, type).countDocuments(filter, { session });
  } else if (request.offset === 0 && !hasMore && request.count > 0) {
    total = matches.length;
  }
  const seen = new Set(matches.map((d) => `${type}/${d._id}`));
  const included: StoredResource[] = [];
  const candidates = [
    ...(request.include?.length ? await loadIncludes(database, type, matches, request.include, access, session) : []),
    ...(request.revInclude?.length ? await loadRevIncludes(database, type, matches, request.revInclude, access, session) : []),
  ];
  for (const doc of candidates) {
    const key = `${doc.resource.resourceType}/${doc._id}`;
    if (!seen.has(key) && included.length < MAX_INCLUDED) {
      seen.add(key);
      included.push(doc);
    }
  }
  return { matches, included, total, hasMore };
}
