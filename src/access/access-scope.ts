import type { SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { AuthContext } from '../auth/auth-context';
import { ADMIN_TYPES, CLINICAL_TYPES } from '../fhir/resource-types';

/** The FHIR interactions a policy can grant. */
export type Interaction = 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'delete';
export const READ_INTERACTIONS: Interaction[] = ['read', 'vread', 'search', 'history'];
export const ALL_INTERACTIONS: Interaction[] = [...READ_INTERACTIONS, 'create', 'update', 'delete'];

/** What the caller may do with one resource type. */
export interface ResourceAccess {
  resourceType: string;
  interactions: Set<Interaction>;
  /**
   * Any-of search criteria a resource must match (named parameters and %profile / %patient
   * already substituted); undefined means every resource of the type in the caller's projects.
   */
  criteria?: SearchRequest[];
  /** Element paths removed from every resource returned (e.g. 'birthDate', 'name.family'). */
  hiddenFields: string[];
  /** Element paths a write may not change. */
  readonlyFields: string[];
}

/** The caller's whole access, resolved once per request. */
export interface AccessScope {
  auth: AuthContext;
  /** Projects whose resources the caller may see; undefined means all (super administrator). */
  projects?: string[];
  /** Access to a type, or undefined when the type is not accessible at all. */
  forType(resourceType: string): ResourceAccess | undefined;
}

function fullAccess(resourceType: string): ResourceAccess {
  return { resourceType, interactions: new Set(ALL_INTERACTIONS), hiddenFields: [], readonlyFields: [] };
}

/**
 * Project confinement without a policy: the super administrator sees everything; a project
 * administrator has every type in the project; other members the clinical types only.
 */
export function defaultScope(auth: AuthContext): AccessScope {
  const types: string[] = auth.superAdmin || auth.projectAdmin ? [...ADMIN_TYPES, ...CLINICAL_TYPES] : [...CLINICAL_TYPES];
  const table = new Map(types.map((t) => [t, fullAccess(t)]));
  return {
    auth,
    projects: auth.superAdmin ? undefined : [auth.projectId],
    forType: (resourceType) => table.get(resourceType),
  };
}

/** Whether a resource lies in the caller's projects. */
export function inProjects(scope: AccessScope, resource: Resource): boolean {
  if (!scope.projects) {
    return true;
  }
  const project = resource.resourceType === 'Project' ? resource.id : resource.meta?.project;
  return project !== undefined && scope.projects.includes(project);
}
