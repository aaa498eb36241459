import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { badRequest, invalidIssues, issue } from '../errors';
import { isStoredType } from './resource-types';
import { strictIssues } from './strict-rules';
import { indexDeferredTypesFor } from './type-index';

/**
 * Validates a resource against its StructureDefinition (and each known profile, by canonical
 * URL, named in meta.profile). Throws a 400 FhirError with one issue per problem, each with its path.
 */
export function validateFhirResource(resource: unknown, profiles?: ReadonlyMap<string, StructureDefinition>, expectedType?: string): asserts resource is Resource {
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    throw badRequest('The body must be a FHIR resource (a JSON object)');
  }
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string') {
    throw badRequest('The resource has no resourceType', 'resourceType');
  }
  if (expectedType && type !== expectedType) {
    throw badRequest(`Expected a ${expectedType} but got a ${type}`, 'resourceType');
  }
  if (!isStoredType(type)) {
    throw badRequest(`Resource type ${type} is not supported here`, 'resourceType');
  }
  const issues = validationIssues(resource as Resource, profiles);
  if (issues.length > 0) {
    throw invalidIssues(issues);
  }
}

/** The core validator's errors (not its warnings) for a resource, against its type or a profile. */
function coreIssues(resource: Resource, profile?: StructureDefinition): OperationOutcomeIssue[] {
  try {
    validateResource(resource, profile ? { profile } : undefined);
    return [];
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      throw err;
    }
    return (err.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal').map(cleanIssue);
  }
}

/**
 * The problems of a resource (already known to be an object of a stored type): its type's
 * StructureDefinition and the known profiles named in meta.profile (@medplum/core), the FHIR
 * JSON rules and required bindings (strict-rules.ts), and `extraProfile` when given. Empty when valid.
 */
export function validationIssues(resource: Resource, profiles?: ReadonlyMap<string, StructureDefinition>, extraProfile?: StructureDefinition): OperationOutcomeIssue[] {
  // A contained resource or a Bundle entry may be of a type not indexed yet (see type-index.ts).
  indexDeferredTypesFor(resource);
  const strict = strictIssues(resource as unknown as Record<string, unknown>);
  const named = ((resource.meta?.profile ?? []) as string[]).map((url) => profiles?.get(url)).filter((p): p is StructureDefinition => p !== undefined);
  const core = [undefined, ...named, ...(extraProfile ? [extraProfile] : [])].flatMap((profile) => coreIssues(resource, profile));
  // One issue per element: ours say more about the JSON rules than the core validator's.
  const covered = new Set(strict.map((i) => i.expression?.[0]));
  const seen = new Set<string>();
  return [...strict, ...core.filter((i) => !covered.has(i.expression?.[0]))].filter((i) => {
    const key = `${i.expression?.[0]}|${i.diagnostics}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });
}

function cleanIssue(i: OperationOutcomeIssue): OperationOutcomeIssue {
  const text = i.details?.text ?? i.diagnostics ?? 'Invalid value';
  const at = i.expression?.[0];
  return issue(i.code ?? 'structure', at ? `${text} (at ${at})` : text, i.expression);
}

