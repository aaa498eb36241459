import { evalFhirPath, getSearchParameterDetails } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import { expiryField, indexedParams, type IndexedParam, type ParamKind } from './supported-params';
import { dateValues, referenceValues, stringValues, tokenValues } from './index-values';

const BY_KIND: Record<ParamKind, (values: unknown[]) => unknown[]> = {
  string: stringValues,
  token: tokenValues,
  reference: referenceValues,
  date: dateValues,
};

/**
 * Derived search fields for a resource, computed at write time from the SearchParameter
 * definitions (FHIRPath through @medplum/core), only for the parameters this server indexes
 * (see supported-params.ts). Stored under the document's `sp`:
 * - string: `[{ n: normalized, v: as written }]` (HumanName/Address: every part and the whole);
 * - token: `['code', 'system|code' or '|code']`;
 * - reference: `['Type/id']`;
 * - date: `[{ s: Date, e: Date }]` half-open ranges.
 * A parameter without values is absent (so `:missing` works).
 */
export function computeSearchFields(resource: Resource): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (const param of indexedParams(resource.resourceType)) {
    let raw: unknown[];
    try {
      raw = evalFhirPath(getSearchParameterDetails(resource.resourceType, param.definition).parsedExpression, resource);
    } catch {
      // An expression that cannot be evaluated on this resource indexes nothing; it never blocks a write.
      continue;
    }
    const values = BY_KIND[param.kind](raw);
    if (values.length > 0) {
      fields[param.code] = values;
    }
    const expires = param.expiring ? expiryOf(param, resource) : undefined;
    if (expires) {
      fields[expiryField(param.code)] = expires;
    }
  }
  return fields;
}

/** The instant an expiring code turns (the earliest start of the expression's values), if any. */
function expiryOf(param: IndexedParam, resource: Resource): Date | undefined {
  try {
    const starts = dateValues(evalFhirPath(param.expiring?.expiry as string, resource)).map((r) => r.s.getTime());
    return starts.length > 0 ? new Date(Math.min(...starts)) : undefined;
  } catch {
    return undefined;
  }
}
