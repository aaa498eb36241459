import type { Bundle, BundleEntry } from '@medplum/fhirtypes';
import type { AccessScope, ResourceAccess } from '../../access/access-scope';
import { redact, requireInteraction } from '../../access/enforce';
import { badRequest } from '../../errors';
import { fhirBase, historyBundle, historyEntry } from '../../fhir/bundle';
import { parseDateRange } from '../../fhir/search/date-range';
import { DEFAULT_COUNT, MAX_COUNT, queryPairs } from '../../fhir/search/parse-query';
import { historyConfinement, visible } from '../../access/confinement';
import { compareSystemHistory, cursorAfter, decodeCursor, encodeCursor, readHistoryPage, systemCursorAfter, type HistoryCursor } from '../../fhir/history-page';
import type { HistoryEntry } from '../../fhir/repository';
import { STORED_TYPES } from '../../fhir/resource-types';
import { readVisibleDoc } from './read';
import type { RestDeps } from './rest-deps';
import { present } from './present';

interface HistoryParams {
  since?: Date;
  count: number;
  after?: HistoryCursor;
  /** The parameters to repeat in links (without _cursor). */
  keep: [string, string][];
}

function parseHistoryQuery(query: unknown, kind: HistoryCursor['kind']): HistoryParams {
  const result: HistoryParams = { count: DEFAULT_COUNT, keep: [] };
  const seen = new Set<string>();
  for (const [name, value] of queryPairs(query)) {
    if (name === '_format' || name === '_pretty') {
      continue;
    }
    if (seen.has(name)) {
      throw badRequest(`${name} may be given once`, name);
    }
    seen.add(name);
    if (name === '_since') {
      const range = parseDateRange(value);
      if (!range) {
        throw badRequest('_since must be an instant such as 2026-01-15T12:00:00Z', '_since');
      }
      result.since = range.s;
    } else if (name === '_count') {
      if (!/^\d{1,7}$/.test(value) || Number(value) < 1 || Number(value) > MAX_COUNT) {
        throw badRequest(`_count must be a whole number from 1 to ${MAX_COUNT}`, '_count');
      }
      result.count = Number(value);
    } else if (name === '_cursor') {
      result.after = decodeCursor(value);
      if (result.after.kind !== kind) {
        throw badRequest('_cursor belongs to another history: follow the next link as it is', '_cursor');
      }
      continue;
    } else {
      throw badRequest(`The history parameter "${name.slice(0, 80)}" is not supported (use _since, _count)`, name.slice(0, 80));
    }
    result.keep.push([name, value]);
  }
  return result;
}

/** The self and next links of a history page, with the parameters the caller gave. */
function linker(path: string, params: HistoryParams): (cursor?: HistoryCursor) => string {
  return (cursor) => {
    const qs = new URLSearchParams(params.keep);
    if (cursor) {
      qs.set('_cursor', encodeCursor(cursor));
    }
    const text = qs.toString();
    return text ? `${path}?${text}` : path;
  };
}

/** The entries of a page the caller may see, each redacted as the caller's access to its type says. */
async function visibleEntries(deps: RestDeps, scope: AccessScope, page: HistoryEntry[], accessOf: (type: string) => ResourceAccess): Promise<BundleEntry[]> {
  const entries: BundleEntry[] = [];
  for (const entry of page) {
    if (await visible(deps, scope, entry.resource, 'history')) {
      entries.push(historyEntry(deps.baseUrl, entry, entry.deleted ? undefined : present(deps, redact(accessOf(entry.resource.resourceType), entry.resource))));
    }
  }
  return entries;
}

/**
 * Instance history (GET /{type}/{id}/_history) or type history (GET /{type}/_history), newest
 * first, confined to the caller's projects, with a next link that carries a cursor.
 */
export async function historyForCaller(deps: RestDeps, scope: AccessScope, type: string, id: string | undefined, query: unknown): Promise<Bundle> {
  const access = requireInteraction(scope, type, 'history');
  const params = parseHistoryQuery(query, id !== undefined ? 'instance' : 'type');
  if (id !== undefined) {
    await readVisibleDoc(deps, scope, type, id, 'history');
  }
  const confinement = await historyConfinement(deps, scope, type);
  const rows = await readHistoryPage(deps.database, type, { id, since: params.since, limit: params.count + 1, after: params.after, confinement });
  const page = rows.slice(0, params.count);
  const link = linker(`${fhirBase(deps.baseUrl)}${type}${id !== undefined ? `/${id}` : ''}/_history`, params);
  const next = rows.length > params.count ? link(cursorAfter(page[page.length - 1], id !== undefined)) : undefined;
  return historyBundle(link(params.after), next, await visibleEntries(deps, scope, page, () => access));
}

/**
 * GET /fhir/R4/_history: the history of every type the caller may read the history of, each
 * confined and redacted exactly as that type's history, merged newest first (then by type and
 * version id), with a next link that carries a cursor.
 */
export async function systemHistoryForCaller(deps: RestDeps, scope: AccessScope, query: unknown): Promise<Bundle> {
  const params = parseHistoryQuery(query, 'system');
  const types = STORED_TYPES.filter((type) => scope.forType(type)?.interactions.has('history'));
  const rows: HistoryEntry[] = [];
  for (const type of types) {
    const confinement = await historyConfinement(deps, scope, type);
    rows.push(...(await readHistoryPage(deps.database, type, { since: params.since, limit: params.count + 1, after: params.after, confinement })));
  }
  rows.sort(compareSystemHistory);
  const page = rows.slice(0, params.count);
  const link = linker(`${fhirBase(deps.baseUrl)}_history`, params);
  const next = rows.length > params.count ? link(systemCursorAfter(page[page.length - 1])) : undefined;
  return historyBundle(link(params.after), next, await visibleEntries(deps, scope, page, (type) => scope.forType(type) as ResourceAccess));
}
