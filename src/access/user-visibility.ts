import type { Filter } from 'mongodb';
import type { ProjectMembership, User } from '@medplum/fhirtypes';
import type { AppContext } from '../app-context';
import type { StoredResource } from '../fhir/repository';
import { currentCollection } from '../fhir/resource-types';
import type { AccessScope, Interaction } from './access-scope';
import { applicableRules } from './enforce';

type VisibilityContext = Pick<AppContext, 'database'>;

function memberships(ctx: VisibilityContext) {
  return ctx.database.db.collection<StoredResource<ProjectMembership>>(currentCollection('ProjectMembership'));
}

/**
 * The Mongo filter on stored User documents that a User search must use INSTEAD of the usual
 * project filter: users scoped to one of the caller's projects, plus the (server-scoped) users
 * who are members of one. Undefined: no restriction (super administrator). Callers without any
 * User access are refused earlier by `requireInteraction`.
 */
export async function userVisibilityFilter(ctx: VisibilityContext, scope: AccessScope): Promise<Filter<StoredResource> | undefined> {
  if (!scope.projects) {
    return undefined;
  }
  const docs = await memberships(ctx)
    .find({ project: { $in: scope.projects }, deleted: false })
    .toArray();
  const memberIds = [...new Set(docs.map((d) => d.resource.user?.reference).filter((r): r is string => r?.startsWith('User/') === true).map((r) => r.slice('User/'.length)))];
  const scopedTo = scope.projects.map((p) => `Project/${p}`);
  return { $or: [{ project: { $in: scope.projects } }, { 'resource.project.reference': { $in: scopedTo } }, { _id: { $in: memberIds } }] };
}

/**
 * Whether the caller may see this User (for read, vread, history; and before update/delete,
 * which `checkWrite` then confines to users scoped to the project): a rule on User grants the
 * interaction, and the user is scoped to one of the caller's projects or a member of one.
 */
export async function canSeeUser(ctx: VisibilityContext, scope: AccessScope, user: User, interaction?: Interaction): Promise<boolean> {
  const access = scope.forType('User');
  if (!access || applicableRules(access, user, interaction).length === 0) {
    return false;
  }
  if (!scope.projects) {
    return true;
  }
  const scopedTo = user.meta?.project ?? user.project?.reference?.replace(/^Project\//, '');
  if (scopedTo && scope.projects.includes(scopedTo)) {
    return true;
  }
  const membership = await memberships(ctx).findOne({ project: { $in: scope.projects }, deleted: false, 'resource.user.reference': `User/${user.id}` });
  return membership !== null;
}
