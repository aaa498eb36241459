import type { OperationOutcome, Resource } from '@medplum/fhirtypes';
import { outcomeOk } from '../../errors';
import type { ReadResult } from './read';

/** What `Prefer: return=` asks a create, update or patch to answer (FHIR RESTful API, Prefer). */
export type ReturnPreference = 'minimal' | 'representation' | 'OperationOutcome';

export interface Preferences {
  /** Absent: not asked (the resource is answered, as with `representation`). */
  return?: ReturnPreference;
  /** `handling=lenient`: a search ignores the parameters it does not know (with a warning). */
  lenient: boolean;
}

const RETURNS: Readonly<Record<string, ReturnPreference>> = { minimal: 'minimal', representation: 'representation', operationoutcome: 'OperationOutcome' };

/**
 * Reads the Prefer header(s) (RFC 7240): `return=minimal|representation|OperationOutcome` and
 * `handling=strict|lenient`, separated by commas, values optionally quoted, names and values in
 * any case. Preferences it does not know (and unknown values) are ignored, as RFC 7240 says.
 */
export function parsePrefer(header: string | string[] | undefined): Preferences {
  const result: Preferences = { lenient: false };
  const text = Array.isArray(header) ? header.join(',') : (header ?? '');
  for (const part of text.split(',')) {
    const [pair] = part.split(';');
    const eq = pair.indexOf('=');
    const name = (eq < 0 ? pair : pair.slice(0, eq)).trim().toLowerCase();
    const value = eq < 0 ? '' : pair.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase();
    if (name === 'return' && RETURNS[value]) {
      result.return = RETURNS[value];
    } else if (name === 'handling' && (value === 'lenient' || value === 'strict')) {
      result.lenient = value === 'lenient';
    }
  }
  return result;
}

/**
 * The body a write answers as `Prefer: return=` asks: the resource (default), nothing
 * (`minimal`: the status and headers say it all) or an OperationOutcome saying what was done.
 */
export function writtenBody(preference: ReturnPreference | undefined, result: ReadResult, done: string): Resource | OperationOutcome | undefined {
  if (preference === 'minimal') {
    return undefined;
  }
  if (preference === 'OperationOutcome') {
    return outcomeOk(`${done} ${result.resource.resourceType}/${result.resource.id} (version ${result.version})`);
  }
  return result.resource;
}
