import type { Resource } from '@medplum/fhirtypes';
import { badRequest, FhirError } from '../../errors';
import { fhirBase } from '../../fhir/bundle';
import { isStoredType } from '../../fhir/resource-types';
import { ID_PATTERN } from '../../fhir/search/normalize';

/**
 * Reading a batch or transaction Bundle (POST /fhir/R4): its shape, its size, and each entry's
 * request as one of the REST interactions (or an operation, or another request of the FHIR API
 * that only a batch may carry).
 */

/** The most entries of a batch: each is its own request (an invite is one). */
export const MAX_BATCH_ENTRIES = 500;
/**
 * The most entries of a transaction: all of them run in ONE database transaction, whose cost on
 * the embedded engine grows with what it writes (see README, Benchmarks).
 */
export const MAX_TRANSACTION_ENTRIES = 100;

export type BundleKind = 'batch' | 'transaction';

export type EntryKind =
  | 'read'
  | 'vread'
  | 'search'
  | 'history'
  | 'create'
  | 'update'
  | 'conditional-update'
  | 'patch'
  | 'delete'
  | 'conditional-delete'
  /** An operation ($invite...) or any other request of the FHIR API: sent to its route as it is (batch only). */
  | 'route';

export type EntryMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
const METHODS: readonly EntryMethod[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

export interface BundleEntryRequest {
  index: number;
  method: EntryMethod;
  /** The url as sent (for messages). */
  url: string;
  /** The path relative to the FHIR base, without the query: `Patient/123`, `Project/1/$invite`. */
  path: string;
  /** The query string, without `?` (may be empty). */
  query: string;
  kind: EntryKind;
  type?: string;
  id?: string;
  vid?: number;
  /** The entry's resource (POST, PUT; an operation's Parameters). */
  resource?: Record<string, unknown>;
  /** The JSON Patch document of a PATCH entry (from its Binary resource). */
  patch?: unknown;
  fullUrl?: string;
  ifMatch?: string;
  ifNoneMatch?: string;
  ifNoneExist?: string;
  ifModifiedSince?: string;
}

const SEGMENT = /^[A-Za-z0-9\-_.$]{1,200}$/;

const isObject = (value: unknown): value is Record<string, unknown> => !!value && typeof value === 'object' && !Array.isArray(value);

/** The Bundle's type and its entries, or 400/413 for a Bundle this endpoint cannot take. */
export function readBundle(body: unknown): { kind: BundleKind; entries: Record<string, unknown>[] } {
  if (!isObject(body) || body.resourceType !== 'Bundle') {
    throw badRequest('POST to the FHIR base takes a Bundle of type batch or transaction', 'resourceType');
  }
  if (body.type !== 'batch' && body.type !== 'transaction') {
    throw badRequest(`Bundle.type must be batch or transaction (got ${JSON.stringify(body.type)?.slice(0, 40) ?? 'none'})`, 'Bundle.type');
  }
  const kind = body.type;
  const entries = body.entry ?? [];
  if (!Array.isArray(entries)) {
    throw badRequest('Bundle.entry must be an array', 'Bundle.entry');
  }
  const max = kind === 'batch' ? MAX_BATCH_ENTRIES : MAX_TRANSACTION_ENTRIES;
  if (entries.length > max) {
    throw new FhirError('FST_TOO_LARGE', `A ${kind} may hold at most ${max} entries and this one has ${entries.length}: split it into several`, 'Bundle.entry');
  }
  entries.forEach((entry, index) => {
    const request = isObject(entry) ? entry.request : undefined;
    if (!isObject(request) || typeof request.method !== 'string' || typeof request.url !== 'string') {
      throw badRequest(`Bundle.entry[${index}] needs request.method and request.url`, `Bundle.entry[${index}].request`);
    }
  });
  return { kind, entries: entries as Record<string, unknown>[] };
}

/** The url relative to the FHIR base, or 400 (another server, a path out of the FHIR API). */
function relativeUrl(url: string, baseUrl: string, index: number): { path: string; query: string } {
  const base = fhirBase(baseUrl);
  let rest = url.startsWith(base) ? url.slice(base.length) : url;
  if (/^[a-z][a-z0-9+.-]*:/i.test(rest) || rest.startsWith('//')) {
    throw badRequest(`Bundle.entry[${index}].request.url must be relative to this server's FHIR base (${base}), e.g. Patient/123`, `Bundle.entry[${index}].request.url`);
  }
  rest = rest.replace(/^\//, '');
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  const query = q < 0 ? '' : rest.slice(q + 1);
  const segments = path === '' ? [] : path.split('/');
  if (segments.some((s) => !SEGMENT.test(s) || s === '.' || s === '..')) {
    throw badRequest(`Bundle.entry[${index}].request.url has a path segment that is not allowed (letters, digits, - _ . $ only; no . or ..)`, `Bundle.entry[${index}].request.url`);
  }
  return { path, query };
}

/** What the method and path ask for: one of the REST interactions, or a request for the route. */
function classify(method: EntryMethod, segments: string[], query: string): Pick<BundleEntryRequest, 'kind' | 'type' | 'id' | 'vid'> {
  const [type, id, history, vid] = segments;
  const route = { kind: 'route' as const };
  if (segments.length === 0 || !isStoredType(type) || segments.some((s) => s.startsWith('$'))) {
    return route;
  }
  if (id !== undefined && id !== '_history' && id !== '_search' && !ID_PATTERN.test(id)) {
    return route;
  }
  const read = method === 'GET' || method === 'HEAD';
  if (segments.length === 1) {
    if (read) {
      return { kind: 'search', type };
    }
    if (method === 'POST') {
      return { kind: 'create', type };
    }
    if ((method === 'PUT' || method === 'DELETE') && query !== '') {
      return { kind: method === 'PUT' ? 'conditional-update' : 'conditional-delete', type };
    }
    return route;
  }
  if (segments.length === 2 && id === '_history' && read) {
    return { kind: 'history', type };
  }
  if (segments.length === 2 && id !== '_history' && id !== '_search') {
    const kinds: Partial<Record<EntryMethod, EntryKind>> = { GET: 'read', HEAD: 'read', PUT: 'update', PATCH: 'patch', DELETE: 'delete' };
    return kinds[method] ? { kind: kinds[method], type, id } : route;
  }
  if (segments.length === 3 && history === '_history' && read) {
    return { kind: 'history', type, id };
  }
  if (segments.length === 4 && history === '_history' && read && /^[0-9]{1,9}$/.test(vid)) {
    return { kind: 'vread', type, id, vid: Number(vid) };
  }
  return route;
}

/** The JSON Patch of a PATCH entry: a Binary resource holding it (contentType application/json-patch+json, base64 data). */
function patchOf(resource: unknown, index: number): unknown {
  const where = `Bundle.entry[${index}].resource`;
  if (!isObject(resource) || resource.resourceType !== 'Binary' || typeof resource.data !== 'string') {
    throw new FhirError('FST_MEDIA_TYPE', `${where} of a PATCH entry must be a Binary whose data is a JSON Patch (contentType application/json-patch+json); FHIRPath Patch is not supported`, where);
  }
  if (String(resource.contentType ?? '').split(';')[0].trim() !== 'application/json-patch+json') {
    throw new FhirError('FST_MEDIA_TYPE', `${where}.contentType must be application/json-patch+json`, `${where}.contentType`);
  }
  const text = Buffer.from(resource.data, 'base64').toString('utf8');
  if (nestingExceeds(text, MAX_PATCH_DEPTH)) {
    throw badRequest(`${where}.data nests objects and arrays more than ${MAX_PATCH_DEPTH} levels deep`, `${where}.data`);
  }
  try {
    // As the request body parser does: keys that would reach an object's prototype are refused.
    return JSON.parse(text, (key, value: unknown) => {
      if (key === '__proto__' || key === 'constructor') {
        throw new Error('forbidden key');
      }
      return value;
    });
  } catch {
    throw badRequest(`${where}.data is not base64-encoded JSON (without __proto__ or constructor keys)`, `${where}.data`);
  }
}

/** The deepest nesting of a PATCH entry's JSON Patch: the request body's own limit (http/json-body.ts), which base64 hides from it. */
const MAX_PATCH_DEPTH = 64;

/** Whether a JSON text nests objects and arrays deeper than `max` (one pass, brackets in strings skipped). */
function nestingExceeds(text: string, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') {
        i++;
      } else if (c === '"') {
        inString = false;
      }
    } else if (c === '"') {
      inString = true;
    } else if (c === '{' || c === '[') {
      if (++depth > max) {
        return true;
      }
    } else if (c === '}' || c === ']') {
      depth--;
    }
  }
  return false;
}

const optionalString = (request: Record<string, unknown>, field: string, index: number): string | undefined => {
  const value = request[field];
  if (value !== undefined && typeof value !== 'string') {
    throw badRequest(`Bundle.entry[${index}].request.${field} must be a string`, `Bundle.entry[${index}].request.${field}`);
  }
  return value;
};

/** One entry's request, read (400 naming the entry's field when it cannot be one). */
export function readEntry(raw: Record<string, unknown>, index: number, baseUrl: string): BundleEntryRequest {
  const request = raw.request as Record<string, unknown>;
  const method = String(request.method).toUpperCase() as EntryMethod;
  if (!METHODS.includes(method)) {
    throw badRequest(`Bundle.entry[${index}].request.method must be one of ${METHODS.join(', ')}`, `Bundle.entry[${index}].request.method`);
  }
  const url = request.url as string;
  const { path, query } = relativeUrl(url, baseUrl, index);
  if (path === '' && method !== 'GET' && method !== 'HEAD') {
    throw badRequest(`Bundle.entry[${index}] cannot ${method} the FHIR base itself (a Bundle inside a Bundle)`, `Bundle.entry[${index}].request.url`);
  }
  const entry: BundleEntryRequest = { index, method, url, path, query, ...classify(method, path === '' ? [] : path.split('/'), query) };
  if (typeof raw.fullUrl === 'string') {
    entry.fullUrl = raw.fullUrl;
  }
  for (const field of ['ifMatch', 'ifNoneMatch', 'ifNoneExist', 'ifModifiedSince'] as const) {
    const value = optionalString(request, field, index);
    if (value !== undefined) {
      entry[field] = value;
    }
  }
  if (method === 'PATCH' && entry.kind === 'patch') {
    entry.patch = patchOf(raw.resource, index);
  } else if (raw.resource !== undefined) {
    if (!isObject(raw.resource)) {
      throw badRequest(`Bundle.entry[${index}].resource must be a resource (a JSON object)`, `Bundle.entry[${index}].resource`);
    }
    entry.resource = raw.resource;
  } else if (['create', 'update', 'conditional-update'].includes(entry.kind)) {
    throw badRequest(`Bundle.entry[${index}] (${method} ${url.slice(0, 100)}) needs a resource`, `Bundle.entry[${index}].resource`);
  }
  return entry;
}

/** The entry's resource as the REST functions take it. */
export const entryResource = (entry: BundleEntryRequest): Resource => entry.resource as unknown as Resource;
