import type { SearchRequest } from '@medplum/core';
import type { Resource } from '@medplum/fhirtypes';
import type { AuthContext } from '../accounts/auth-context';
import { STORED_TYPES } from '../fhir/resource-types';

/** The FHIR interactions a policy can grant. */
export type Interaction = 'read' | 'vread' | 'search' | 'history' | 'create' | 'update' | 'delete';
export const READ_INTERACTIONS: Interaction[] = ['read', 'vread', 'search', 'history'];
export const ALL_INTERACTIONS: Interaction[] = [...READ_INTERACTIONS, 'create', 'update', 'delete'];

/**
 * One grant for one type: an AccessPolicy `resource[]` entry after parameter substitution
 * (or a built-in grant such as the project administrator's).
 */
export interface AccessRule {
  interactions: Set<Interaction>;
  /** The search a resource must match for this rule to apply; undefined means every resource. */
  criteria?: SearchRequest;
  hiddenFields: string[];
  readonlyFields: string[];
}

/** What the caller may do with one resource type. */
export interface ResourceAccess {
  resourceType: string;
  /** Every interaction some rule grants on this type (the shallow check). */
  interactions: Set<Interaction>;
  /**
   * Any-of search criteria a resource must match to be found by a search (named parameters and
   * %profile / %patient already substituted); undefined means every resource of the type in the
   * caller's projects.
   */
  criteria?: SearchRequest[];
  /** Element paths hidden by any rule (e.g. 'birthDate', 'name.family'); `redact` is more precise. */
  hiddenFields: string[];
  /** Element paths made read-only by any rule; `checkWrite` is more precise. */
  readonlyFields: string[];
  /** The rules behind this summary; absent means one rule made of the fields above. */
  rules?: AccessRule[];
}

/** The caller's whole access, resolved once per request. */
export interface AccessScope {
  auth: AuthContext;
  /** Projects whose resources the caller may see; undefined means all (super administrator). */
  projects?: string[];
  /** Access to a type, or undefined when the type is not accessible at all. */
  forType(resourceType: string): ResourceAccess | undefined;
  /** The caller is the server's super administrator. */
  superAdmin?: boolean;
  /** The caller administers its project (ProjectMembership.admin, as stored now). */
  projectAdmin?: boolean;
}

/**
 * Fields that hold secrets on resources the server stores. Secrets live in the `credentials`
 * collection, never in these resources; hiding them anyway is a second line of defence, for
 * every caller including the super administrator.
 */
export const SECRET_FIELDS: Readonly<Record<string, readonly string[]>> = {
  User: ['passwordHash', 'mfaSecret'],
  ClientApplication: ['secret'],
};

/**
 * Extensions that hold a secret a client may set (create, or update to rotate it) but never read
 * back: every answer leaves them out, and an update that omits one keeps the stored value (see
 * `redact` and `restoreHiddenFields` in enforce.ts). The Subscription's signing secret, under
 * Medplum's URL (and the URL of that extension's first version).
 */
export const WRITE_ONLY_EXTENSIONS: Readonly<Record<string, readonly string[]>> = {
  Subscription: ['https://www.medplum.com/fhir/StructureDefinition/subscription-secret', 'https://www.medplum.com/fhir/StructureDefinition-subscriptionSecret'],
};

export function fullRule(): AccessRule {
  return { interactions: new Set(ALL_INTERACTIONS), hiddenFields: [], readonlyFields: [] };
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}

/** The summary of a type's rules (the rules are kept for the precise checks). */
export function buildResourceAccess(resourceType: string, rules: AccessRule[]): ResourceAccess {
  const interactions = new Set<Interaction>(rules.flatMap((r) => [...r.interactions]));
  const searchRules = rules.filter((r) => r.interactions.has('search'));
  const findRules = searchRules.length > 0 ? searchRules : rules.filter((r) => READ_INTERACTIONS.some((i) => r.interactions.has(i)));
  const unrestricted = findRules.length === 0 || findRules.some((r) => !r.criteria);
  return {
    resourceType,
    interactions,
    criteria: unrestricted ? undefined : findRules.map((r) => r.criteria as SearchRequest),
    hiddenFields: unique([...(SECRET_FIELDS[resourceType] ?? []), ...rules.flatMap((r) => r.hiddenFields)]),
    readonlyFields: unique(rules.flatMap((r) => r.readonlyFields)),
    rules,
  };
}

/** The rules of an access summary (one synthetic rule when it was built without any). */
export function rulesOf(access: ResourceAccess): AccessRule[] {
  if (access.rules) {
    return access.rules;
  }
  return (access.criteria ?? [undefined]).map((criteria) => ({
    interactions: access.interactions,
    criteria,
    hiddenFields: access.hiddenFields,
    readonlyFields: access.readonlyFields,
  }));
}

/** A scope from rules per type; types without rules are not accessible. */
export function scopeFromRules(auth: AuthContext, table: Map<string, AccessRule[]>, options: { projects?: string[]; projectAdmin: boolean; superAdmin: boolean }): AccessScope {
  const access = new Map<string, ResourceAccess>();
  for (const [type, rules] of table) {
    if (rules.length > 0) {
      access.set(type, buildResourceAccess(type, rules));
    }
  }
  return {
    auth,
    projects: options.projects,
    forType: (resourceType) => access.get(resourceType),
    superAdmin: options.superAdmin,
    projectAdmin: options.projectAdmin,
  };
}

/** The super administrator: every type, every interaction, every project (secrets still hidden). */
export function superAdminScope(auth: AuthContext): AccessScope {
  const table = new Map(STORED_TYPES.map((t) => [t, [fullRule()]]));
  return scopeFromRules(auth, table, { projects: undefined, projectAdmin: true, superAdmin: true });
}

/**
 * What a project administrator may do with the administrative types, always within the
 * project (project confinement applies on top): read and update the project itself, manage
 * memberships, client applications and access policies, read, update and delete the users
 * scoped to the project (server-scoped users are never shown as `User` resources to them, see
 * user-visibility.ts), manage the project's rest-hook Subscriptions. Never: create or delete the project, change its owner, move a membership
 * to another user or project, change a user's email or sign-in state, raise the project to super
 * admin. Removing the owner's or the last administrator's membership is refused (admin-guard.ts).
 */
export function projectAdminRules(): Map<string, AccessRule[]> {
  const rule = (interactions: Interaction[], hiddenFields: string[] = [], readonlyFields: string[] = []): AccessRule[] => [
    { interactions: new Set(interactions), hiddenFields, readonlyFields },
  ];
  return new Map([
    ['Project', rule([...READ_INTERACTIONS, 'update'], ['superAdmin', 'systemSecret', 'strictMode'], ['superAdmin', 'systemSecret', 'strictMode', 'features', 'link', 'systemSetting', 'owner'])],
    ['ProjectMembership', rule(ALL_INTERACTIONS, [], ['project', 'user'])],
    ['User', rule([...READ_INTERACTIONS, 'update', 'delete'], ['passwordHash', 'mfaSecret'], ['email', 'emailVerified', 'mfaEnrolled', 'project', 'admin'])],
    ['ClientApplication', rule(ALL_INTERACTIONS, ['secret'], ['secret'])],
    ['AccessPolicy', rule(ALL_INTERACTIONS)],
    ['Subscription', rule(ALL_INTERACTIONS)],
    // The project's audit trail: read and search only (writes are 405 for everyone, see enforce.ts).
    ['AuditEvent', rule(['read', 'search'])],
  ]);
}

/** Whether a resource lies in the caller's projects. */
export function inProjects(scope: AccessScope, resource: Resource): boolean {
  if (!scope.projects) {
    return true;
  }
  const project = resource.resourceType === 'Project' ? resource.id : resource.meta?.project;
  return project !== undefined && scope.projects.includes(project);
}
