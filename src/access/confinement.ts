import type { Filter } from 'mongodb';
import type { Resource, User } from '@medplum/fhirtypes';
import type { AccessScope, Interaction } from './access-scope';
import { canSee } from './enforce';
import { FhirError, forbidden } from '../errors';
import { canSeeUser, userVisibilityFilter } from './user-visibility';
import type { Database } from '../db/database';
import type { HistoryEntry, StoredResource } from '../fhir/repository';
import { and, buildSearchFilter } from '../fhir/search/filter-builder';

type Deps = { database: Database };

/**
 * The MongoDB filter (on current documents) confining a type to what the caller may find: their
 * projects (a Project by its own id; a User when scoped to one, see user-visibility.ts) and, when their
 * access has criteria, any one of them. Undefined when the caller may not read the type at all.
 */
export async function confinementFilter(deps: Deps, scope: AccessScope, type: string): Promise<Filter<StoredResource> | undefined> {
  const access = scope.forType(type);
  if (!access || !(access.interactions.has('read') || access.interactions.has('search'))) {
    return undefined;
  }
  const parts: Record<string, unknown>[] = [];
  if (type === 'User') {
    const users = userVisibilityFilter(scope);
    if (users) {
      parts.push(users);
    }
  } else if (scope.projects) {
    parts.push(type === 'Project' ? { _id: { $in: scope.projects } } : { project: { $in: scope.projects } });
  }
  if (access.criteria && access.criteria.length > 0) {
    parts.push({ $or: access.criteria.map((c) => criteriaFilter(type, c.filters)) });
  }
  return and(parts) as Filter<StoredResource>;
}

/** A policy's criteria as a filter; one this server cannot search fails closed (403), never open. */
function criteriaFilter(type: string, filters: Parameters<typeof buildSearchFilter>[1]): Filter<StoredResource> {
  try {
    return buildSearchFilter(type, filters);
  } catch (err) {
    if (err instanceof FhirError) {
      throw forbidden(`Your access policy limits ${type} with a search this server cannot run (${err.message}); ask a project administrator to fix the policy`);
    }
    throw err;
  }
}

/** Whether the caller may see this resource (for an interaction, by default any read one). */
export async function visible(deps: Deps, scope: AccessScope, resource: Resource, interaction?: Interaction): Promise<boolean> {
  if (resource.resourceType === 'User') {
    return canSeeUser(scope, resource as User, interaction);
  }
  return canSee(scope, resource, interaction);
}

function renameId(filter: unknown): unknown {
  if (Array.isArray(filter)) {
    return filter.map(renameId);
  }
  if (!filter || typeof filter !== 'object' || filter instanceof Date || filter instanceof RegExp) {
    return filter;
  }
  return Object.fromEntries(Object.entries(filter).map(([key, value]) => [key === '_id' ? 'id' : key, key.startsWith('$') ? renameId(value) : value]));
}

/**
 * The project confinement of a type's history entries (the same fields as current documents,
 * except that the resource id is `id`). Criteria are checked per entry by `visible`.
 */
export async function historyConfinement(deps: Deps, scope: AccessScope, type: string): Promise<Filter<HistoryEntry> | undefined> {
  if (type === 'User') {
    const users = userVisibilityFilter(scope);
    return users ? (renameId(users) as Filter<HistoryEntry>) : undefined;
  }
  if (!scope.projects) {
    return undefined;
  }
  return (type === 'Project' ? { id: { $in: scope.projects } } : { project: { $in: scope.projects } }) as Filter<HistoryEntry>;
}
