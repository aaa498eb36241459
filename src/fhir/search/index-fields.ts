import type { Resource } from '@medplum/fhirtypes';

/**
 * Derived search fields for a resource, computed from the SearchParameter definitions at write
 * time. PLACEHOLDER until the search module lands: returns no fields.
 */
export function computeSearchFields(_resource: Resource): Record<string, unknown> {
  return {};
}
