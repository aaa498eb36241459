import type { Filter } from 'mongodb';
import type { User } from '@medplum/fhirtypes';
import { idOf, type StoredResource } from '../fhir/repository';
import type { AccessScope, Interaction } from './access-scope';
import { applicableRules } from './enforce';

/**
 * Who sees which `User` resources. A server-scoped user (no `User.project`) belongs to the
 * server, not to any project: only the super administrator sees it as a `User` resource. A
 * project administrator sees the users scoped to the project (they live and die with it) and
 * sees everyone else, server-scoped members included, only through their membership (its
 * `user.display`) and profile. The same rule holds for read, vread, search, history and the
 * `_include` / `_revinclude` paths, which all go through these two functions.
 */

/**
 * The Mongo filter on stored User documents that a User search must use INSTEAD of the usual
 * project filter: users scoped to one of the caller's projects (both the stored owner and
 * `User.project` must say so). Undefined: no restriction (super administrator). Callers without
 * any User access are refused earlier by `requireInteraction`.
 */
export function userVisibilityFilter(scope: AccessScope): Filter<StoredResource> | undefined {
  if (!scope.projects) {
    return undefined;
  }
  const scopedTo = scope.projects.map((p) => `Project/${p}`);
  return { project: { $in: scope.projects }, 'resource.project.reference': { $in: scopedTo } };
}

/**
 * Whether the caller may see this User (for read, vread, history; and before update/delete,
 * which `checkWrite` then confines to the project): a rule on User grants the interaction, and
 * the user is scoped to one of the caller's projects (or the caller is the super administrator).
 */
export function canSeeUser(scope: AccessScope, user: User, interaction?: Interaction): boolean {
  const access = scope.forType('User');
  if (!access || applicableRules(access, user, interaction).length === 0) {
    return false;
  }
  if (!scope.projects) {
    return true;
  }
  // The project the User is scoped to (undefined for a server-scoped user).
  const scopedTo = idOf(user.project, 'Project');
  return scopedTo !== undefined && user.meta?.project === scopedTo && scope.projects.includes(scopedTo);
}
