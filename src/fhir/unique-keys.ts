import type { ProjectMembership, Resource, User } from '@medplum/fhirtypes';

/**
 * The unique key of a resource, stored as `uk` on its document under a unique index, so that
 * uniqueness holds on every engine and under concurrency (not by luck):
 * - User: email per scope (server-scoped among server users; project-scoped within its project);
 * - ProjectMembership: one per project and user (a forced extra membership gets its own key).
 */
export function defaultUniqueKey(resource: Resource): string | undefined {
  if (resource.resourceType === 'User') {
    const user = resource as User;
    if (!user.email) {
      return undefined;
    }
    const scope = user.project?.reference ?? 'server';
    return `User|${scope}|${user.email.toLowerCase()}`;
  }
  if (resource.resourceType === 'ProjectMembership') {
    const membership = resource as ProjectMembership;
    if (!membership.project?.reference || !membership.user?.reference) {
      return undefined;
    }
    return `ProjectMembership|${membership.project.reference}|${membership.user.reference}`;
  }
  return undefined;
}

/**
 * The key a write stores: the one the writer gives (`override`: a string, or null for none), else
 * the default; an update keeps the stored key while its default part is unchanged (a forced extra
 * membership keeps its own).
 */
export function uniqueKeyFor(resource: Resource, override: string | null | undefined, existing?: { uk?: string }): string | undefined {
  if (override !== undefined) {
    return override ?? undefined;
  }
  const key = defaultUniqueKey(resource);
  if (key && existing?.uk?.startsWith(key)) {
    return existing.uk;
  }
  return key;
}
