import { tryGetDataType } from '@medplum/core';
import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { AccessScope, ResourceAccess } from '../../access/access-scope';
import { redact, requireInteraction } from '../../access/enforce';
import { refuseHiddenSearch } from '../../access/search-paths';
import { searchBundle } from '../../fhir/bundle';
import { executeSearch, type SearchResult } from '../../fhir/search/execute';
import { DEFAULT_COUNT, parseSearchQuery, queryPairs, type ParsedSearch } from '../../fhir/search/parse-query';
import { executeSystemSearch } from '../../fhir/search/system-search';
import { isStoredType, STORED_TYPES } from '../../fhir/resource-types';
import { badRequest } from '../../errors';
import { confinementFilter } from '../../access/confinement';
import type { RestDeps } from './rest-deps';
import { present } from './present';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** The elements a resource of the type must have (min ≥ 1): _elements keeps them (FHIR search.html#elements). */
function mandatoryElements(type: string): string[] {
  const schema = tryGetDataType(type);
  return schema ? Object.entries(schema.elements).filter(([, e]) => e.min > 0).map(([name]) => name) : [];
}

/** Only the elements asked for by _elements and the mandatory ones (plus id and meta, tagged SUBSETTED). */
export function selectElements<T extends Resource>(resource: T, fields: string[] | undefined): T {
  if (!fields || fields.length === 0) {
    return resource;
  }
  const source = resource as unknown as Record<string, unknown>;
  const result: Record<string, unknown> = { resourceType: resource.resourceType, id: resource.id };
  for (const field of [...mandatoryElements(resource.resourceType), ...fields]) {
    if (field in source && field !== 'meta') {
      result[field] = source[field];
    }
  }
  result.meta = { ...(resource.meta ?? {}), tag: [...(resource.meta?.tag ?? []), SUBSETTED] };
  return result as T;
}

export interface SearchOptions {
  /** Prefer: handling=lenient: unknown parameters are ignored, with a warning in the Bundle. */
  lenient?: boolean;
}

/**
 * A search as the caller of `scope` may run it: the search interaction, the parsed query, no
 * filter on a field hidden from them, confined to their projects and access criteria (inside
 * the transaction of deps.session when there is one). Every search of one type goes through it.
 */
export async function runSearchForCaller(deps: RestDeps, scope: AccessScope, type: string, parsed: ParsedSearch): Promise<SearchResult> {
  requireInteraction(scope, type, 'search');
  refuseHiddenSearch(scope, type, parsed.request);
  return executeSearch(deps.database, type, parsed, (t) => confinementFilter(deps, scope, t), deps.clock.now(), deps.session);
}

/** Redacts a found resource as the caller's access to its type says (the searched type's access first), then presents it. */
function redactor(deps: RestDeps, scope: AccessScope, type: string, access: ResourceAccess) {
  return (resource: Resource): Resource => {
    const typeAccess = resource.resourceType === type ? access : scope.forType(resource.resourceType);
    return present(deps, typeAccess ? redact(typeAccess, resource) : resource);
  };
}

/** Parses a search of `type` for the caller: 403 without search access, 400 for what it may not ask. */
function parseForCaller(scope: AccessScope, type: string, pairs: [string, string][], options: SearchOptions = {}): { access: ResourceAccess; parsed: ParsedSearch } {
  const access = requireInteraction(scope, type, 'search');
  const parsed = parseSearchQuery(type, pairs, { lenient: options.lenient });
  refuseHiddenSearch(scope, type, parsed.request);
  return { access, parsed };
}

/**
 * GET /{type}?... (and POST /{type}/_search): parses the query, confines it to the caller's
 * projects and access criteria, and answers a searchset Bundle with paging links.
 */
export async function searchForCaller(deps: RestDeps, scope: AccessScope, type: string, query: unknown, options: SearchOptions = {}): Promise<Bundle> {
  const { access, parsed } = parseForCaller(scope, type, queryPairs(query), options);
  const result = await runSearchForCaller(deps, scope, type, parsed);
  const redactAs = redactor(deps, scope, type, access);
  return searchBundle(deps.baseUrl, type, parsed, {
    matches: result.matches.map((d) => selectElements(redactAs(d.resource), parsed.request.fields)),
    included: result.included.map((d) => redactAs(d.resource)),
    total: result.total,
    hasMore: result.hasMore,
  });
}

/** The types a search of several types covers: those of `_type`, or every type the caller may search. */
function searchedTypes(scope: AccessScope, values: string[]): string[] {
  if (values.length === 0) {
    return STORED_TYPES.filter((type) => scope.forType(type)?.interactions.has('search'));
  }
  const types = [...new Set(values.flatMap((v) => v.split(',')).map((v) => v.trim()))];
  for (const type of types) {
    if (!isStoredType(type)) {
      throw badRequest(`_type: "${type.slice(0, 64)}" is not a type this server stores (${STORED_TYPES.join(', ')})`, '_type');
    }
  }
  return types;
}

/**
 * GET /fhir/R4?_type=Patient,Practitioner&... (and POST /fhir/R4/_search): the search of each
 * type, parsed, confined and redacted exactly as a search of that type (403 for a type in `_type`
 * the caller may not search; without `_type`, every type the caller may search), merged into
 * one searchset. Every parameter must be one each type has; `_sort` may use `_lastUpdated` and
 * `_id`; `_include` and `_revinclude` belong to a search of one type.
 */
export async function systemSearchForCaller(deps: RestDeps, scope: AccessScope, query: unknown): Promise<Bundle> {
  const all = queryPairs(query);
  const typeValues = all.filter(([name]) => name === '_type').map(([, value]) => value);
  const pairs = all.filter(([name]) => name !== '_type');
  for (const [name] of pairs) {
    const code = name.split(':')[0];
    if (code === '_include' || code === '_revinclude') {
      throw badRequest(`${code} is not supported in a search of several types: search one type (GET /fhir/R4/{type}?...)`, code);
    }
  }
  const types = searchedTypes(scope, typeValues);
  const searches = types.map((type) => ({ type, ...parseForCaller(scope, type, pairs) }));
  const request = searches[0]?.parsed.request;
  if (request?.sortRules?.some((r) => r.code !== '_lastUpdated' && r.code !== '_id')) {
    throw badRequest('_sort: a search of several types sorts by _lastUpdated or _id only', '_sort');
  }
  const result =
    searches.length === 0 ? { matches: [], hasMore: false, total: 0 } : await executeSystemSearch(deps.database, searches, (t) => confinementFilter(deps, scope, t), deps.clock.now());
  const byType = new Map(searches.map((s) => [s.type, redactor(deps, scope, s.type, s.access)]));
  // A caller who may search no type at all gets an empty searchset.
  const parsed: ParsedSearch = searches[0]?.parsed ?? { request: { resourceType: 'Patient', count: DEFAULT_COUNT, offset: 0 }, params: pairs };
  const params: [string, string][] = [...(typeValues.length > 0 ? [['_type', types.join(',')] as [string, string]] : []), ...parsed.params];
  return searchBundle(deps.baseUrl, '', { ...parsed, params }, {
    matches: result.matches.map((d) => selectElements((byType.get(d.resource.resourceType) as (r: Resource) => Resource)(d.resource), parsed.request.fields)),
    included: [],
    total: result.total,
    hasMore: result.hasMore,
  });
}
