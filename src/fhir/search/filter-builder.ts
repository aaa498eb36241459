import type { Filter as SearchFilter } from '@medplum/core';
import type { Filter } from 'mongodb';
import { badRequest } from '../../errors';
import type { StoredResource } from '../repository';
import { parseDateRange, type DateRange } from './date-range';
import { escapeRegex, ID_PATTERN, normalizeReference, normalizeString } from './normalize';
import { expiryField, indexedParam, SPECIAL_PARAMS, type IndexedParam, type ParamKind } from './supported-params';

type MongoFilter = Filter<StoredResource>;
type Cond = Record<string, unknown>;

const DATE_PREFIXES = ['eq', 'ne', 'lt', 'gt', 'le', 'ge', 'sa', 'eb'] as const;
type DatePrefix = (typeof DATE_PREFIXES)[number];

/** Splits a value on unescaped commas (OR), unescaping `\,`. */
export function splitValues(value: string): string[] {
  return value.split(/(?<!\\),/).map((v) => v.replace(/\\,/g, ','));
}

const or = (conds: Cond[]): Cond => (conds.length === 1 ? conds[0] : { $or: conds });
export const and = (conds: Cond[]): Cond => (conds.length === 0 ? {} : conds.length === 1 ? conds[0] : { $and: conds });
const not = (cond: Cond): Cond => ({ $nor: [cond] });

function requireValue(code: string, value: string): string {
  if (value === '') {
    throw badRequest(`Search parameter "${code}" needs a value`, code);
  }
  return value;
}

function missing(code: string, field: string, value: string, present: boolean): Cond {
  if (value !== 'true' && value !== 'false') {
    throw badRequest(`Search parameter "${code}:missing" must be true or false`, code);
  }
  const isMissing = (value === 'true') !== present;
  return { [field]: { $exists: !isMissing } };
}

function stringCond(code: string, operator: string, values: string[]): Cond {
  const field = `sp.${code}`;
  return or(
    values.map((raw) => {
      const value = requireValue(code, raw);
      const n = normalizeString(value);
      switch (operator) {
        case 'exact':
          return { [`${field}.n`]: n, [`${field}.v`]: value };
        case 'contains':
          return { [`${field}.n`]: { $regex: escapeRegex(n) } };
        default:
          return { [`${field}.n`]: { $regex: `^${escapeRegex(n)}` } };
      }
    }),
  );
}

/**
 * An expiring code (see ExpiringCode) at the time of the search: the code after the instant is
 * the stored code with its instant passed; the stored code is itself only while it has not.
 */
function expiringCond(param: IndexedParam, value: string, now: Date | undefined): Cond | undefined {
  const expiring = param.expiring;
  if (!expiring || (value !== expiring.code && value !== expiring.while)) {
    return undefined;
  }
  if (!now) {
    // Only a search has a time (an access policy's criteria have none): refused, never guessed.
    throw badRequest(`"${param.code}=${value}" depends on the time of the search and cannot be used here`, param.code);
  }
  const passed = { [`sp.${expiryField(param.code)}`]: { $lte: now } };
  return value === expiring.code ? { [`sp.${param.code}`]: expiring.while, ...passed } : { [`sp.${param.code}`]: expiring.while, $nor: [passed] };
}

function tokenCond(code: string, field: string, values: string[], param?: IndexedParam, now?: Date): Cond {
  const exact = new Set<string>();
  const conds: Cond[] = [];
  for (const raw of values) {
    const value = requireValue(code, raw);
    const timed = param ? expiringCond(param, value, now) : undefined;
    if (timed) {
      conds.push(timed);
      continue;
    }
    if (param?.boolean && value !== 'true' && value !== 'false') {
      throw badRequest(`Search parameter "${code}" must be true or false`, code);
    }
    const bar = value.indexOf('|');
    if (bar > 0 && bar === value.length - 1) {
      conds.push({ [field]: { $regex: `^${escapeRegex(value)}` } });
    } else {
      exact.add(value);
      exact.add(bar >= 0 ? value.slice(0, bar + 1) + value.slice(bar + 1).toLowerCase() : value.toLowerCase());
    }
  }
  if (exact.size > 0) {
    conds.unshift({ [field]: exact.size === 1 ? [...exact][0] : { $in: [...exact] } });
  }
  return or(conds);
}

function idCond(code: string, values: string[]): Cond {
  for (const value of values) {
    if (!ID_PATTERN.test(value)) {
      throw badRequest(`"${value.slice(0, 80)}" is not a valid id for "${code}"`, code);
    }
  }
  return { _id: values.length === 1 ? values[0] : { $in: values } };
}

function referenceCond(param: IndexedParam, values: string[], typeModifier?: string): Cond {
  const keys: string[] = [];
  for (const raw of values) {
    const value = requireValue(param.code, raw);
    if (ID_PATTERN.test(value) && !value.includes('/')) {
      const types = typeModifier ? [typeModifier] : param.targets;
      keys.push(...types.map((t) => `${t}/${value}`));
      continue;
    }
    const normalized = normalizeReference(value);
    if (!normalized || (param.targets.length > 0 && !param.targets.includes(normalized.split('/')[0]))) {
      throw badRequest(`"${value.slice(0, 80)}" is not a valid reference for "${param.code}" (expected Type/id or id, Type one of ${param.targets.join(', ')})`, param.code);
    }
    keys.push(normalized);
  }
  return { [`sp.${param.code}`]: keys.length === 1 ? keys[0] : { $in: keys } };
}

function parseDate(code: string, value: string): DateRange {
  const range = parseDateRange(value);
  if (!range) {
    throw badRequest(`"${value.slice(0, 80)}" is not a valid date for "${code}" (use e.g. 1980-05-01 or 2026-01-15T12:00:00Z, with an optional prefix eq, ne, lt, gt, le, ge, sa or eb)`, code);
  }
  return range;
}

/** Conditions on a range field (array of {s, e}) following the FHIR prefix semantics. */
function rangeCond(field: string, prefix: DatePrefix, q: DateRange): Cond {
  const elem = (c: Cond): Cond => ({ [field]: { $elemMatch: c } });
  const eq = { s: { $gte: q.s }, e: { $lte: q.e } };
  switch (prefix) {
    case 'eq':
      return elem(eq);
    case 'ne':
      return not(elem(eq));
    case 'gt':
      return elem({ e: { $gt: q.e } });
    case 'lt':
      return elem({ s: { $lt: q.s } });
    case 'ge':
      return { $or: [elem({ e: { $gt: q.e } }), elem(eq)] };
    case 'le':
      return { $or: [elem({ s: { $lt: q.s } }), elem(eq)] };
    case 'sa':
      return elem({ s: { $gte: q.e } });
    case 'eb':
      return elem({ e: { $lte: q.s } });
  }
}

/** The same semantics on a point in time t (the range [t, t+1ms)), e.g. lastUpdated. */
function pointCond(field: string, prefix: DatePrefix, q: DateRange): Cond {
  switch (prefix) {
    case 'eq':
      return { [field]: { $gte: q.s, $lt: q.e } };
    case 'ne':
      return { $or: [{ [field]: { $lt: q.s } }, { [field]: { $gte: q.e } }] };
    case 'gt':
    case 'sa':
      return { [field]: { $gte: q.e } };
    case 'lt':
    case 'eb':
      return { [field]: { $lt: q.s } };
    case 'ge':
      return { [field]: { $gte: q.s } };
    case 'le':
      return { [field]: { $lt: q.e } };
  }
}

function dateCond(code: string, operator: string, values: string[], point: boolean): Cond {
  return or(
    values.map((raw, i) => {
      let prefix = operator as DatePrefix;
      let value = requireValue(code, raw);
      const own = /^(eq|ne|lt|gt|le|ge|sa|eb|ap)(?=\d)/.exec(value);
      if (own && (i > 0 || operator === 'eq')) {
        prefix = own[1] as DatePrefix;
        value = value.slice(2);
      } else if (i > 0) {
        prefix = 'eq';
      }
      if (!DATE_PREFIXES.includes(prefix)) {
        throw badRequest(`The prefix "${prefix}" is not supported for "${code}" (use eq, ne, lt, gt, le, ge, sa or eb)`, code);
      }
      const range = parseDate(code, value);
      return point ? pointCond(SPECIAL_PARAMS[code].field, prefix, range) : rangeCond(`sp.${code}`, prefix, range);
    }),
  );
}

const OPERATORS: Record<ParamKind, string[]> = {
  string: ['eq', 'sw', 'exact', 'contains'],
  token: ['eq', 'not', 'ne'],
  reference: ['eq', 'not', 'ne'],
  date: ['eq', ...DATE_PREFIXES],
};

function unsupported(code: string, operator: string): never {
  throw badRequest(`The modifier or prefix "${operator}" is not supported for search parameter "${code}"`, code);
}

/**
 * One search filter (a parameter with its operator and comma-separated values) as a MongoDB
 * condition. `now`: the time of the search, for the parameters whose codes expire (ExpiringCode).
 */
export function buildCondition(type: string, filter: SearchFilter, now?: Date): Cond {
  const { code, value } = filter;
  const operator = filter.operator as string;
  const special = SPECIAL_PARAMS[code];
  const param = special ? undefined : indexedParam(type, code);
  if (!special && !param) {
    throw badRequest(`Unknown search parameter "${code.slice(0, 80)}" for ${type}`, code.slice(0, 80));
  }
  const kind = (special?.kind ?? param?.kind) as ParamKind;
  const field = special?.field ?? `sp.${code}`;
  if (operator === 'missing' || operator === 'present') {
    if (special) {
      unsupported(code, operator);
    }
    return missing(code, field, value, operator === 'present');
  }
  // A resource type as modifier restricts a reference (profile:Practitioner=123).
  const typeModifier = kind === 'reference' && /^[A-Z][A-Za-z]+$/.test(operator) ? operator : undefined;
  if (!typeModifier && !OPERATORS[kind].includes(operator)) {
    unsupported(code, operator);
  }
  const values = splitValues(value);
  let cond: Cond;
  if (code === '_id') {
    cond = idCond(code, values);
  } else if (kind === 'string') {
    cond = stringCond(code, operator, values);
  } else if (kind === 'token') {
    cond = tokenCond(code, field, values, param, now);
  } else if (kind === 'reference') {
    cond = referenceCond(param as IndexedParam, values, typeModifier);
  } else {
    return dateCond(code, operator, values, Boolean(special));
  }
  return operator === 'not' || operator === 'ne' ? not(cond) : cond;
}

/** All filters of a search (ANDed) as one MongoDB filter on stored documents, at the time `now`. */
export function buildSearchFilter(type: string, filters: readonly SearchFilter[] | undefined, now?: Date): MongoFilter {
  return and((filters ?? []).map((f) => buildCondition(type, f, now))) as MongoFilter;
}
