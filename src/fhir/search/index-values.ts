import { normalizeReference, normalizeString, MAX_INDEXED_LENGTH } from './normalize';
import { parseDateRange, periodRange, type DateRange } from './date-range';

/** One indexed string: `n` normalized for prefix/contains search, `v` as written for :exact. */
export interface IndexedString {
  n: string;
  v: string;
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const strings = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).filter((s): s is string => typeof s === 'string' && s.length > 0);

/** The searchable parts of a string-typed element (HumanName and Address search every part). */
function stringParts(value: unknown): string[] {
  if (typeof value === 'string') {
    return [value];
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return [String(value)];
  }
  if (!isObject(value)) {
    return [];
  }
  if ('family' in value || 'given' in value || 'prefix' in value || 'suffix' in value) {
    const parts = [...strings(value.prefix), ...strings(value.given), ...strings(value.family), ...strings(value.suffix)];
    return [...parts, ...strings(value.text), parts.join(' ')];
  }
  if ('line' in value || 'city' in value || 'postalCode' in value || 'country' in value || 'state' in value) {
    const parts = [...strings(value.line), ...strings(value.city), ...strings(value.district), ...strings(value.state), ...strings(value.postalCode), ...strings(value.country)];
    return [...parts, ...strings(value.text), parts.join(' ')];
  }
  return strings(value.text);
}

export function stringValues(values: unknown[]): IndexedString[] {
  const seen = new Set<string>();
  const result: IndexedString[] = [];
  for (const value of values) {
    for (const part of stringParts(value)) {
      const v = part.slice(0, MAX_INDEXED_LENGTH);
      const n = normalizeString(v);
      if (n && !seen.has(v)) {
        seen.add(v);
        result.push({ n, v });
      }
    }
  }
  return result;
}

function systemValue(system: unknown, value: unknown, out: string[]): void {
  if (typeof value !== 'string' || value === '') {
    return;
  }
  const code = system === 'email' ? value.toLowerCase() : value;
  out.push(code, typeof system === 'string' && system ? `${system}|${code}` : `|${code}`);
}

/**
 * Token keys: `code` (any system) and `system|code` (or `|code` when there is no system).
 * Identifiers, ContactPoints (email values lower-cased), Codings, CodeableConcepts, codes and booleans.
 */
export function tokenValues(values: unknown[]): string[] {
  const out: string[] = [];
  for (const value of values) {
    if (typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number') {
      out.push(String(value));
    } else if (isObject(value)) {
      if (Array.isArray(value.coding)) {
        for (const coding of value.coding) {
          if (isObject(coding)) {
            systemValue(coding.system, coding.code, out);
          }
        }
      } else if ('code' in value) {
        systemValue(value.system, value.code, out);
      } else {
        systemValue(value.system, value.value, out);
      }
    }
  }
  return [...new Set(out.map((t) => t.slice(0, MAX_INDEXED_LENGTH)))];
}

/** References as `Type/id` (relative or absolute references; others are not indexed). */
export function referenceValues(values: unknown[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    const reference = isObject(value) ? value.reference : value;
    const normalized = typeof reference === 'string' ? normalizeReference(reference) : undefined;
    if (normalized) {
      out.add(normalized);
    }
  }
  return [...out];
}

/** Dates, dateTimes, instants and Periods as ranges. */
export function dateValues(values: unknown[]): DateRange[] {
  const out: DateRange[] = [];
  for (const value of values) {
    const range = typeof value === 'string' ? parseDateRange(value) : isObject(value) ? periodRange(value as { start?: string; end?: string }) : undefined;
    if (range) {
      out.push(range);
    }
  }
  return out;
}
