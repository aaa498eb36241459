import { OperationOutcomeError, validateResource } from '@medplum/core';
import type { OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import { badRequest, invalidIssues, issue } from '../errors';
import { isStoredType } from './resource-types';
import { strictIssues } from './strict-rules';

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
  const named = ((resource as Resource).meta?.profile ?? []) as string[];
  const strict = strictIssues(resource as Record<string, unknown>);
  let core: OperationOutcomeIssue[] = [];
  try {
    validateResource(resource as Resource);
    for (const url of named) {
      const profile = profiles?.get(url);
      if (profile) {
        validateResource(resource as Resource, { profile });
      }
    }
  } catch (err) {
    if (!(err instanceof OperationOutcomeError)) {
      throw err;
    }
    core = (err.outcome.issue ?? []).filter((i) => i.severity === 'error' || i.severity === 'fatal').map(cleanIssue);
  }
  // One issue per element: ours say more about the JSON rules than the core validator's.
  const covered = new Set(strict.map((i) => i.expression?.[0]));
  const issues = [...strict, ...core.filter((i) => !covered.has(i.expression?.[0]))];
  if (issues.length > 0) {
    throw invalidIssues(issues);
  }
}

function cleanIssue(i: OperationOutcomeIssue): OperationOutcomeIssue {
  const text = i.details?.text ?? i.diagnostics ?? 'Invalid value';
  const at = i.expression?.[0];
  return issue(i.code ?? 'structure', at ? `${text} (at ${at})` : text, i.expression);
}

