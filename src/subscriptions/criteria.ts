import type { Filter as SearchFilter, SearchRequest } from '@medplum/core';
import { badRequest, FhirError } from '../errors';
import { isStoredType, STORED_TYPES } from '../fhir/resource-types';
import { buildSearchFilter } from '../fhir/search/filter-builder';
import { parseSearchQuery } from '../fhir/search/parse-query';

/**
 * A Subscription's `criteria` (`Type?param=value&...`), parsed with the parser of the REST search
 * and checked by the same filter builder, so a criteria string means exactly what the same
 * search means (the match itself is decided in memory, see fhir/search/match-document.ts).
 * Only filters make sense here: paging, sorting, totals, includes and element selection are refused.
 */

export interface Criteria {
  type: string;
  filters: SearchFilter[];
  /** The parsed search, for the access checks that a search gets (hidden fields). */
  request: SearchRequest;
}

const EXPRESSION = 'Subscription.criteria';
const NOT_FILTERS = new Set(['_count', '_offset', '_sort', '_total', '_summary', '_elements', '_fields', '_include', '_revinclude']);

function refuse(message: string): FhirError {
  return badRequest(`criteria: ${message}`, EXPRESSION);
}

export function parseCriteria(raw: unknown): Criteria {
  if (typeof raw !== 'string' || raw.trim() === '') {
    throw refuse('required, a search such as ProjectMembership?project=Project/123');
  }
  if (raw.length > 2048) {
    throw refuse('longer than 2048 characters');
  }
  const question = raw.indexOf('?');
  const type = question < 0 ? raw : raw.slice(0, question);
  if (!isStoredType(type)) {
    throw refuse(`"${type.slice(0, 64)}" is not a resource type of this server (one of ${STORED_TYPES.join(', ')})`);
  }
  const query = question < 0 ? '' : raw.slice(question + 1);
  let pairs: [string, string][];
  try {
    pairs = [...new URLSearchParams(query)];
  } catch {
    throw refuse('the search parameters are not a valid query string');
  }
  for (const [key] of pairs) {
    if (NOT_FILTERS.has(key.split(':')[0])) {
      throw refuse(`${key.slice(0, 64)} does not apply to a subscription: use search parameters that filter`);
    }
  }
  try {
    const { request } = parseSearchQuery(type, pairs);
    const filters = request.filters ?? [];
    // The filter builder checks every value (dates, references, ids, booleans) as a search does.
    buildSearchFilter(type, filters);
    return { type, filters, request };
  } catch (err) {
    if (err instanceof FhirError) {
      throw refuse(err.message);
    }
    throw err;
  }
}
