import type { Filter as SearchFilter } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { StoredResource } from '../repository';
import { buildSearchFilter } from './filter-builder';
import { computeSearchFields } from './index-fields';

/**
 * Whether one stored document matches a search, decided in memory: the filter that
 * `buildSearchFilter` makes for the database is evaluated here with MongoDB's semantics, so a
 * resource matches in memory exactly when a search would find it (the test compares both on the
 * same documents). For callers that must decide per written resource without a query, e.g. the
 * criteria of rest-hook subscriptions inside the write's transaction.
 *
 * Only the operators the filter builder emits are known: implicit equality, `$in`, `$regex`,
 * `$exists`, `$elemMatch`, `$gt`/`$gte`/`$lt`/`$lte`, `$and`, `$or`, `$nor`. Anything else throws.
 */

type Doc = Record<string, unknown>;
type Cond = Record<string, unknown>;

/** The document fields searches read, for a resource version (as the repository stores it). */
export function searchDocument(resource: Resource, fields: { id: string; lastUpdated: Date; project?: string }): Pick<StoredResource, '_id' | 'lastUpdated' | 'project' | 'deleted' | 'sp'> {
  return { _id: fields.id, lastUpdated: fields.lastUpdated, project: fields.project, deleted: false, sp: computeSearchFields(resource) };
}

/** Whether the document matches every filter of a search on `type` (the filters are checked as a search checks them). */
export function documentMatchesSearch(type: string, doc: object, filters: readonly SearchFilter[] | undefined): boolean {
  return documentMatches(doc, buildSearchFilter(type, filters) as Cond);
}

const isPlainObject = (v: unknown): v is Doc => typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date) && !(v instanceof RegExp);

/**
 * The values a dotted path reaches, MongoDB style: arrays on the way are stepped into, and an
 * array at the end counts as itself and as each of its elements. Empty when the path leads nowhere.
 */
function valuesAt(doc: unknown, path: string): unknown[] {
  let current: unknown[] = [doc];
  for (const segment of path.split('.')) {
    const next: unknown[] = [];
    for (const value of current) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (isPlainObject(item) && item[segment] !== undefined) {
          next.push(item[segment]);
        }
      }
    }
    current = next;
  }
  return current.flatMap((v) => (Array.isArray(v) ? [v, ...v] : [v]));
}

function equal(a: unknown, b: unknown): boolean {
  if (a instanceof Date && b instanceof Date) {
    return a.getTime() === b.getTime();
  }
  return a === b;
}

/** MongoDB compares values of the same kind only (a date with a date, a string with a string). */
function compare(a: unknown, b: unknown): number | undefined {
  if (a instanceof Date && b instanceof Date) {
    return a.getTime() - b.getTime();
  }
  if (typeof a === 'number' && typeof b === 'number') {
    return a - b;
  }
  if (typeof a === 'string' && typeof b === 'string') {
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return undefined;
}

/** How many compiled $regex patterns are kept (the whole cache is dropped when it is full). */
export const REGEX_CACHE_ENTRIES = 1000;

const regexCache = new Map<string, RegExp>();

/** How many compiled patterns are held now (for the test of the bound). */
export const regexCacheSize = (): number => regexCache.size;

/** A $regex pattern compiled, from the bounded cache. */
export function regex(pattern: unknown): RegExp {
  if (pattern instanceof RegExp) {
    return pattern;
  }
  if (typeof pattern !== 'string') {
    throw new Error('$regex needs a string');
  }
  let compiled = regexCache.get(pattern);
  if (!compiled) {
    compiled = new RegExp(pattern);
    if (regexCache.size >= REGEX_CACHE_ENTRIES) {
      regexCache.clear();
    }
    regexCache.set(pattern, compiled);
  }
  return compiled;
}

const ORDER: Record<string, (n: number) => boolean> = {
  $gt: (n) => n > 0,
  $gte: (n) => n >= 0,
  $lt: (n) => n < 0,
  $lte: (n) => n <= 0,
};

/** One operator of a field condition, against every value the field's path reaches. */
function operatorHolds(values: unknown[], operator: string, operand: unknown): boolean {
  switch (operator) {
    case '$in':
      return (operand as unknown[]).some((wanted) => values.some((v) => equal(v, wanted)));
    case '$regex': {
      const re = regex(operand);
      return values.some((v) => typeof v === 'string' && re.test(v));
    }
    case '$exists':
      return (values.length > 0) === Boolean(operand);
    case '$elemMatch':
      return values.some((v) => Array.isArray(v) && v.some((item) => isPlainObject(item) && documentMatches(item, operand as Cond)));
    case '$gt':
    case '$gte':
    case '$lt':
    case '$lte':
      return values.some((v) => {
        const order = compare(v, operand);
        return order !== undefined && ORDER[operator](order);
      });
    default:
      throw new Error(`operator ${operator} is not evaluated in memory`);
  }
}

function fieldHolds(doc: unknown, path: string, condition: unknown): boolean {
  const values = valuesAt(doc, path);
  if (isPlainObject(condition) && Object.keys(condition).some((k) => k.startsWith('$'))) {
    return Object.entries(condition).every(([operator, operand]) => operatorHolds(values, operator, operand));
  }
  return values.some((v) => equal(v, condition));
}

/** Whether a document matches a MongoDB filter made of the operators listed above. */
export function documentMatches(doc: unknown, filter: Cond): boolean {
  return Object.entries(filter).every(([key, value]) => {
    switch (key) {
      case '$and':
        return (value as Cond[]).every((f) => documentMatches(doc, f));
      case '$or':
        return (value as Cond[]).some((f) => documentMatches(doc, f));
      case '$nor':
        return !(value as Cond[]).some((f) => documentMatches(doc, f));
      default:
        if (key.startsWith('$')) {
          throw new Error(`operator ${key} is not evaluated in memory`);
        }
        return fieldHolds(doc, key, value);
    }
  });
}
