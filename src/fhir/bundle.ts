import type { Bundle, BundleEntry, BundleLink, Resource } from '@medplum/fhirtypes';
import type { HistoryEntry } from './repository';
import type { ParsedSearch } from './search/parse-query';

/** The FHIR base of this server, e.g. http://localhost:8103/fhir/R4/ */
export const fhirBase = (baseUrl: string): string => `${baseUrl}fhir/R4/`;

export const fullUrl = (baseUrl: string, type: string, id: string): string => `${fhirBase(baseUrl)}${type}/${id}`;

/** The URL of a page of a search of `type` ('' for a search of several types, at the base). */
function pageUrl(baseUrl: string, type: string, params: [string, string][], count: number, offset: number): string {
  const query = new URLSearchParams(params);
  query.set('_count', String(count));
  if (offset > 0) {
    query.set('_offset', String(offset));
  }
  const path = type ? `${fhirBase(baseUrl)}${type}` : fhirBase(baseUrl).replace(/\/$/, '');
  return `${path}?${query.toString()}`;
}

export interface SearchPage {
  matches: Resource[];
  included: Resource[];
  total?: number;
  hasMore: boolean;
}

/** A searchset Bundle with self/first/next/previous links. */
export function searchBundle(baseUrl: string, type: string, parsed: ParsedSearch, page: SearchPage): Bundle {
  const { count, offset } = parsed.request;
  const link: BundleLink[] = [
    { relation: 'self', url: pageUrl(baseUrl, type, parsed.params, count, offset) },
    { relation: 'first', url: pageUrl(baseUrl, type, parsed.params, count, 0) },
  ];
  if (page.hasMore && count > 0) {
    link.push({ relation: 'next', url: pageUrl(baseUrl, type, parsed.params, count, offset + count) });
  }
  if (offset > 0 && count > 0) {
    link.push({ relation: 'previous', url: pageUrl(baseUrl, type, parsed.params, count, Math.max(0, offset - count)) });
  }
  const entry: BundleEntry[] = [
    ...page.matches.map((resource) => ({ fullUrl: fullUrl(baseUrl, resource.resourceType, resource.id as string), resource, search: { mode: 'match' as const } })),
    ...page.included.map((resource) => ({ fullUrl: fullUrl(baseUrl, resource.resourceType, resource.id as string), resource, search: { mode: 'include' as const } })),
  ];
  if (parsed.ignored && parsed.ignored.length > 0) {
    // A lenient search says what it left out, as an entry of mode `outcome`.
    const issue = parsed.ignored.map((i) => ({
      severity: 'warning' as const,
      code: 'not-supported' as const,
      details: { text: `${i.message}; it was ignored (Prefer: handling=lenient)` },
      expression: [i.name],
    }));
    entry.push({ resource: { resourceType: 'OperationOutcome', issue }, search: { mode: 'outcome' } });
  }
  const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset' };
  if (page.total !== undefined) {
    bundle.total = page.total;
  }
  bundle.link = link;
  // FHIR JSON has no empty arrays: a Bundle without entries (e.g. _summary=count) leaves `entry` out.
  if (entry.length > 0) {
    bundle.entry = entry;
  }
  return bundle;
}

const STATUS: Record<HistoryEntry['method'], string> = { POST: '201 Created', PUT: '200 OK', DELETE: '200 OK' };

/** One history entry: the version (absent for a deletion), the request that wrote it and its outcome. */
export function historyEntry(baseUrl: string, entry: HistoryEntry, resource: Resource | undefined): BundleEntry {
  const type = entry.resource.resourceType;
  const result: BundleEntry = { fullUrl: fullUrl(baseUrl, type, entry.id) };
  if (!entry.deleted && resource) {
    result.resource = resource;
  }
  result.request = { method: entry.method, url: entry.method === 'POST' ? type : `${type}/${entry.id}` };
  result.response = { status: STATUS[entry.method], etag: `W/"${entry.version}"`, lastModified: entry.lastUpdated.toISOString() };
  return result;
}

/** A history Bundle with self and (when there are more versions) next links. */
export function historyBundle(selfUrl: string, nextUrl: string | undefined, entry: BundleEntry[]): Bundle {
  const link: BundleLink[] = [{ relation: 'self', url: selfUrl }];
  if (nextUrl) {
    link.push({ relation: 'next', url: nextUrl });
  }
  return { resourceType: 'Bundle', type: 'history', link, ...(entry.length > 0 ? { entry } : {}) };
}
