import { parseSearchRequest, type SearchRequest } from '@medplum/core';
import type { AccessPolicy, AccessPolicyResource, ResourceType } from '@medplum/fhirtypes';
import { CLINICAL_TYPES, isAdminType, isStoredType } from '../fhir/resource-types';
import { ALL_INTERACTIONS, READ_INTERACTIONS, type AccessRule, type Interaction } from './access-scope';

/** A value for `%name` (and `%name.id`) in a policy's criteria. */
export interface ParameterValue {
  /** Replaces `%name`. */
  text: string;
  /** Replaces `%name.id` (the id part of a reference). */
  id: string;
}

export type Parameters = ReadonlyMap<string, ParameterValue>;

/** A parameter from a reference like 'Patient/123'. */
export function referenceParameter(reference: string): ParameterValue {
  return { text: reference, id: reference.slice(reference.lastIndexOf('/') + 1) };
}

/** A parameter from a plain string; `.id` takes what follows the last '/' when there is one. */
export function stringParameter(value: string): ParameterValue {
  return { text: value, id: value.slice(value.lastIndexOf('/') + 1) };
}

const PLACEHOLDER = /%([A-Za-z_][A-Za-z0-9_-]*)(\.id)?/g;
const URL_ESCAPE = /^[0-9A-Fa-f]{2}/;

/**
 * Substitutes `%name` / `%name.id` in a criteria string. Values are URL-encoded so that a value
 * can never add a search parameter of its own. Undefined when a placeholder has no value
 * (the rule then grants nothing: fail closed). `%2F`-style escapes are left alone.
 */
export function substitute(criteria: string, parameters: Parameters): string | undefined {
  let missing = false;
  const result = criteria.replace(PLACEHOLDER, (whole, name: string, idSuffix: string | undefined) => {
    const value = parameters.get(name);
    if (!value) {
      if (URL_ESCAPE.test(name)) {
        return whole;
      }
      missing = true;
      return whole;
    }
    return encodeURIComponent(idSuffix ? value.id : value.text);
  });
  return missing ? undefined : result;
}

/** Whether a criteria string needs this parameter. */
export function mentions(criteria: string | undefined, name: string): boolean {
  if (!criteria) {
    return false;
  }
  return [...criteria.matchAll(PLACEHOLDER)].some((m) => m[1] === name);
}

function interactionsOf(entry: AccessPolicyResource): Set<Interaction> {
  if (entry.interaction) {
    return new Set(entry.interaction.filter((i): i is Interaction => (ALL_INTERACTIONS as string[]).includes(i)));
  }
  return new Set(entry.readonly ? READ_INTERACTIONS : ALL_INTERACTIONS);
}

/** The types an entry names: '*' is every clinical type, never an administrative one. */
function typesOf(entry: AccessPolicyResource): string[] {
  if (entry.resourceType === '*') {
    return [...CLINICAL_TYPES];
  }
  return isStoredType(entry.resourceType) ? [entry.resourceType] : [];
}

function parseCriteria(text: string): SearchRequest | undefined {
  try {
    return parseSearchRequest(text);
  } catch {
    return undefined;
  }
}

/** Something in a policy that was ignored (and so grants nothing), for the log. */
export interface PolicyProblem {
  policy: string;
  resourceType: string;
  reason: string;
}

/**
 * The rules one AccessPolicy grants, per type, with its parameters substituted. An entry whose
 * criteria cannot be resolved or parsed, or names another type, grants nothing. Administrative
 * types are kept here; the caller drops them for members who are not administrators.
 */
export function rulesFromPolicy(policy: AccessPolicy, parameters: Parameters, problems: PolicyProblem[] = []): Map<string, AccessRule[]> {
  const table = new Map<string, AccessRule[]>();
  const policyName = `AccessPolicy/${policy.id ?? '?'}`;
  for (const entry of policy.resource ?? []) {
    const types = typesOf(entry);
    if (types.length === 0) {
      problems.push({ policy: policyName, resourceType: entry.resourceType, reason: 'unsupported resource type' });
      continue;
    }
    let criteria: SearchRequest | undefined;
    if (entry.criteria) {
      const text = substitute(entry.criteria, parameters);
      criteria = text === undefined ? undefined : parseCriteria(text);
      if (!criteria || (criteria.resourceType !== entry.resourceType && (criteria.resourceType as string) !== '*')) {
        problems.push({ policy: policyName, resourceType: entry.resourceType, reason: text === undefined ? 'criteria has a parameter without a value' : 'criteria is not a search on this type' });
        continue;
      }
    }
    const interactions = interactionsOf(entry);
    for (const type of types) {
      const rule: AccessRule = {
        interactions,
        criteria: criteria ? { ...criteria, resourceType: type as ResourceType } : undefined,
        hiddenFields: [...(entry.hiddenFields ?? [])],
        readonlyFields: [...(entry.readonlyFields ?? [])],
      };
      table.set(type, [...(table.get(type) ?? []), rule]);
    }
  }
  return table;
}

/** Adds every rule of `from` into `into` (the union of policies). */
export function mergeRules(into: Map<string, AccessRule[]>, from: Map<string, AccessRule[]>): void {
  for (const [type, rules] of from) {
    into.set(type, [...(into.get(type) ?? []), ...rules]);
  }
}

/** Removes the administrative types (for members who do not administer the project). */
export function withoutAdminTypes(table: Map<string, AccessRule[]>): Map<string, AccessRule[]> {
  return new Map([...table].filter(([type]) => !isAdminType(type)));
}
