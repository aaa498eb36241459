import type { Bundle, Resource } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import { redact, requireInteraction } from '../../access/enforce';
import { refuseHiddenSearch } from '../../access/search-paths';
import { searchBundle } from '../../fhir/bundle';
import { executeSearch, type SearchResult } from '../../fhir/search/execute';
import { parseSearchQuery, queryPairs, type ParsedSearch } from '../../fhir/search/parse-query';
import { confinementFilter } from '../../access/confinement';
import type { RestDeps } from './rest-deps';
import { present } from './present';

const SUBSETTED = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' };

/** Only the elements asked for by _elements (plus id and meta, tagged SUBSETTED). */
export function selectElements<T extends Resource>(resource: T, fields: string[] | undefined): T {
  if (!fields || fields.length === 0) {
    return resource;
  }
  const source = resource as unknown as Record<string, unknown>;
  const result: Record<string, unknown> = { resourceType: resource.resourceType, id: resource.id };
  for (const field of fields) {
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
 * the transaction of deps.session when there is one). Every search goes through it.
 */
export async function runSearchForCaller(deps: RestDeps, scope: AccessScope, type: string, parsed: ParsedSearch): Promise<SearchResult> {
  requireInteraction(scope, type, 'search');
  refuseHiddenSearch(scope, type, parsed.request);
  return executeSearch(deps.database, type, parsed, (t) => confinementFilter(deps, scope, t), deps.clock.now(), deps.session);
}

/**
 * GET /{type}?... (and POST /{type}/_search): parses the query, confines it to the caller's
 * projects and access criteria, and answers a searchset Bundle with paging links.
 */
export async function searchForCaller(deps: RestDeps, scope: AccessScope, type: string, query: unknown, options: SearchOptions = {}): Promise<Bundle> {
  const access = requireInteraction(scope, type, 'search');
  const parsed = parseSearchQuery(type, queryPairs(query), { lenient: options.lenient });
  const result = await runSearchForCaller(deps, scope, type, parsed);
  const redactAs = (resource: (typeof result.matches)[number]['resource']) => {
    const typeAccess = resource.resourceType === type ? access : scope.forType(resource.resourceType);
    return present(deps, typeAccess ? redact(typeAccess, resource) : resource);
  };
  return searchBundle(deps.baseUrl, type, parsed, {
    matches: result.matches.map((d) => selectElements(redactAs(d.resource), parsed.request.fields)),
    included: result.included.map((d) => redactAs(d.resource)),
    total: result.total,
    hasMore: result.hasMore,
  });
}
