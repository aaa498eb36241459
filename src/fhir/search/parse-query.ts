import type { Filter as SearchFilter, IncludeTarget, SearchRequest, SortRule } from '@medplum/core';
import { badRequest } from '../../errors';
import { indexedParam, SPECIAL_PARAMS } from './supported-params';

export const DEFAULT_COUNT = 20;
export const MAX_COUNT = 1000;
export const MAX_OFFSET = 10_000;

/** A parsed search: Medplum's SearchRequest shape plus what paging links need. */
export interface ParsedSearch {
  request: SearchRequest & { count: number; offset: number };
  /** The query's own parameters (without _count/_offset), to rebuild paging links. */
  params: [string, string][];
  /** Unknown parameters left out of a lenient search (Prefer: handling=lenient), with why. */
  ignored?: { name: string; message: string }[];
}

export interface ParseOptions {
  /** Unknown or unsupported parameters are left out (and listed in `ignored`) instead of refused. */
  lenient?: boolean;
}

/** Parameters accepted and ignored (formatting hints). */
const IGNORED = new Set(['_format', '_pretty']);
const NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,63}(?::[A-Za-z-]{1,64})?$/;
const PREFIX = /^(eq|ne|lt|gt|le|ge|sa|eb|ap)(?=\d)/;

const short = (s: string): string => s.slice(0, 80);

/**
 * The query string as [name, value] pairs. Values must be plain strings (or repeated plain
 * strings): anything else (an object from a bracket syntax, a number from a JSON body) is refused,
 * so no MongoDB operator can ever be smuggled in.
 */
export function queryPairs(query: unknown): [string, string][] {
  if (query === undefined || query === null) {
    return [];
  }
  if (typeof query !== 'object' || Array.isArray(query)) {
    throw badRequest('The search parameters must be name=value pairs');
  }
  const pairs: [string, string][] = [];
  for (const [key, raw] of Object.entries(query as Record<string, unknown>)) {
    const values = Array.isArray(raw) ? raw : [raw];
    for (const value of values) {
      if (typeof value !== 'string') {
        throw badRequest(`Search parameter "${short(key)}" must be a plain text value`, short(key));
      }
      pairs.push([key, value]);
    }
  }
  return pairs;
}

function integer(name: string, value: string, max: number): number {
  if (!/^\d{1,7}$/.test(value) || Number(value) > max) {
    throw badRequest(`${name} must be a whole number from 0 to ${max}`, name);
  }
  return Number(value);
}

function sortableCode(type: string, code: string): boolean {
  return code in SPECIAL_PARAMS || indexedParam(type, code) !== undefined;
}

function parseSort(type: string, value: string): SortRule[] {
  return value.split(',').map((part) => {
    const descending = part.startsWith('-');
    const code = descending ? part.slice(1) : part;
    if (!sortableCode(type, code) || code === '_project') {
      throw badRequest(`Cannot sort ${type} by "${short(code)}": it is not a search parameter of ${type}`, '_sort');
    }
    return { code, descending };
  });
}

function parseInclude(name: '_include' | '_revinclude', modifier: string, value: string): IncludeTarget {
  if (modifier) {
    throw badRequest(`${name}:${short(modifier)} is not supported`, name);
  }
  const parts = value.split(':');
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[A-Za-z][A-Za-z0-9-]*$/.test(p))) {
    throw badRequest(`${name} must look like ResourceType:search-parameter[:TargetType], got "${short(value)}"`, name);
  }
  return { resourceType: parts[0], searchParam: parts[1], targetType: parts[2] };
}

function parseFilter(type: string, code: string, modifier: string, value: string): SearchFilter {
  const kind = SPECIAL_PARAMS[code]?.kind ?? indexedParam(type, code)?.kind;
  if (!kind) {
    throw badRequest(`Unknown search parameter "${short(code)}" for ${type}`, short(code));
  }
  if (modifier) {
    return { code, operator: modifier as SearchFilter['operator'], value };
  }
  if (kind === 'date') {
    const prefix = PREFIX.exec(value);
    if (prefix) {
      return { code, operator: prefix[1] as SearchFilter['operator'], value: value.slice(2) };
    }
  }
  return { code, operator: 'eq' as SearchFilter['operator'], value };
}

/**
 * Parses a search query into a SearchRequest. Unknown parameters, modifiers and malformed
 * control values are refused with a 400 naming the parameter; filter values are checked when
 * they are turned into a database query (filter-builder.ts).
 */
export function parseSearchQuery(type: string, pairs: [string, string][], options: ParseOptions = {}): ParsedSearch {
  const request: ParsedSearch['request'] = { resourceType: type as SearchRequest['resourceType'], count: DEFAULT_COUNT, offset: 0 };
  const params: [string, string][] = [];
  const seen = new Set<string>();
  const ignored: NonNullable<ParsedSearch['ignored']> = [];
  /** An unknown parameter: refused (400), or left out of a lenient search. */
  const unknown = (name: string, message: string): void => {
    if (!options.lenient) {
      throw badRequest(message, name);
    }
    ignored.push({ name, message });
  };
  for (const [key, value] of pairs) {
    if (!NAME.test(key)) {
      unknown(short(key), `Unknown search parameter "${short(key)}"${key.includes('.') ? ' (chained search is not supported)' : ''}`);
      continue;
    }
    const [code, modifier = ''] = key.split(':');
    if (IGNORED.has(code)) {
      continue;
    }
    if (['_count', '_offset', '_sort', '_total', '_summary'].includes(code)) {
      if (seen.has(code) || modifier) {
        throw badRequest(`${code} may be given once, without a modifier`, code);
      }
      seen.add(code);
    }
    switch (code) {
      case '_count':
        request.count = Math.max(0, integer('_count', value, MAX_COUNT));
        continue;
      case '_offset':
        request.offset = integer('_offset', value, MAX_OFFSET);
        continue;
      case '_sort':
        request.sortRules = parseSort(type, value);
        break;
      case '_total':
        if (!['none', 'estimate', 'accurate'].includes(value)) {
          throw badRequest('_total must be none, estimate or accurate', '_total');
        }
        request.total = value as SearchRequest['total'];
        break;
      case '_summary':
        if (value === 'count') {
          request.total = 'accurate';
          request.summary = undefined;
          request.count = 0;
        } else if (value !== 'false') {
          throw badRequest('_summary supports only count and false', '_summary');
        }
        break;
      case '_elements':
      case '_fields': {
        const fields = value.split(',').map((f) => f.trim());
        if (fields.some((f) => !/^[a-z][A-Za-z0-9]{0,63}$/.test(f))) {
          throw badRequest(`${code} must be a comma-separated list of top-level element names`, code);
        }
        request.fields = [...(request.fields ?? []), ...fields];
        break;
      }
      case '_include':
      case '_revinclude': {
        const target = parseInclude(code, modifier, value);
        const list = code === '_include' ? (request.include ??= []) : (request.revInclude ??= []);
        list.push(target);
        break;
      }
      default: {
        if (code.startsWith('_') && !(code in SPECIAL_PARAMS)) {
          unknown(short(code), `The search parameter "${short(code)}" is not supported`);
          continue;
        }
        if (!(code in SPECIAL_PARAMS) && !indexedParam(type, code)) {
          unknown(short(code), `Unknown search parameter "${short(code)}" for ${type}`);
          continue;
        }
        (request.filters ??= []).push(parseFilter(type, code, modifier, value));
      }
    }
    params.push([key, value]);
  }
  return ignored.length > 0 ? { request, params, ignored } : { request, params };
}
