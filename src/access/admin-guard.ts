import type { ClientSession } from 'mongodb';
import type { Project, ProjectMembership, User } from '@medplum/fhirtypes';
import { conflict } from '../errors';
import { readStored, type RepoContext, type StoredResource } from '../fhir/repository';
import { currentCollection } from '../fhir/resource-types';

/** A repository context inside a transaction. */
export type SessionRepo = RepoContext & { session: ClientSession };

/**
 * One small document per project that every write removing an administrator increments, in its
 * transaction, before it counts the administrators left. Why: two administrators demoting each
 * other at once each write a DIFFERENT membership, so under snapshot isolation (real MongoDB)
 * both could count one other admin and both commit (write skew), leaving none. Writing this
 * common document makes the two transactions conflict: MongoDB aborts one with a transient
 * WriteConflict, `withTransaction` runs it again, and the re-run counts again and refuses (409).
 * On the embedded engine transactions already run one at a time per database (see
 * src/db/transaction.ts), so the second simply counts after the first committed; the write is
 * harmless there. Several instances on one MongoDB are covered the same way.
 */
export const ADMIN_GUARDS = 'admin_guards';

interface GuardDoc {
  _id: string;
  changes: number;
  updatedAt: Date;
}

/** A membership that makes a person an administrator of its project: active, admin, held by a User. */
function activeAdmin(membership: ProjectMembership | undefined): boolean {
  return membership !== undefined && membership.admin === true && membership.active !== false && membership.user?.reference?.startsWith('User/') === true;
}

/** The field a change to a membership touched, as a FHIRPath for the 409 (the resource for a delete). */
function changedField(before: ProjectMembership, after: ProjectMembership | undefined): string {
  if (!after) {
    return 'ProjectMembership';
  }
  if (after.active === false) {
    return 'ProjectMembership.active';
  }
  if (after.admin !== true) {
    return 'ProjectMembership.admin';
  }
  return after.user?.reference !== before.user?.reference ? 'ProjectMembership.user' : 'ProjectMembership.project';
}

/** The other active administrator memberships of the project whose User still exists. */
async function otherAdmins(repo: RepoContext, projectId: string, membershipId: string): Promise<ProjectMembership[]> {
  const docs = await repo.database.db
    .collection<StoredResource<ProjectMembership>>(currentCollection('ProjectMembership'))
    .find({ project: projectId, deleted: false, 'resource.admin': true, _id: { $ne: membershipId } }, { session: repo.session, limit: 200 })
    .toArray();
  const admins: ProjectMembership[] = [];
  for (const doc of docs) {
    const membership = doc.resource;
    if (!activeAdmin(membership)) {
      continue;
    }
    const user = await readStored<User>(repo, 'User', (membership.user?.reference as string).slice('User/'.length));
    if (user && !user.deleted) {
      admins.push(membership);
    }
  }
  return admins;
}

/**
 * Called inside the transaction of any write that changes or deletes a ProjectMembership (FHIR
 * DELETE and PUT, an invite's upsert, the cascade of a deleted User), with the membership as
 * stored now (`before`) and as it will be (`after`; undefined for a delete). Refuses with 409
 * when the write would take away the administrator membership of the project's owner
 * (Project.owner), or of its last active administrator: removing, deactivating, demoting, or
 * moving it to another user. Anyone is refused, the super administrator too (who may first
 * change Project.owner or promote someone). A deleted project is not guarded. Run it in the
 * write's transaction (`repo.session`): the count and the write must commit together.
 */
export async function guardAdminMembership(repo: RepoContext, before: ProjectMembership, after: ProjectMembership | undefined): Promise<void> {
  if (!activeAdmin(before)) {
    return;
  }
  if (after && activeAdmin(after) && after.user?.reference === before.user?.reference && after.project?.reference === before.project?.reference) {
    return;
  }
  const projectId = before.meta?.project ?? before.project?.reference?.replace(/^Project\//, '');
  if (!projectId) {
    return;
  }
  const now = repo.clock.now();
  await repo.database.db
    .collection<GuardDoc>(ADMIN_GUARDS)
    .updateOne({ _id: projectId }, { $inc: { changes: 1 }, $set: { updatedAt: now } }, { upsert: true, session: repo.session });
  const project = await readStored<Project>(repo, 'Project', projectId);
  if (!project || project.deleted) {
    return;
  }
  const others = await otherAdmins(repo, projectId, before.id as string);
  const expression = changedField(before, after);
  const label = `ProjectMembership/${before.id}`;
  const owner = project.resource.owner?.reference;
  if (owner && before.user?.reference === owner && !others.some((m) => m.user?.reference === owner)) {
    throw conflict(
      `${label} is the administrator membership of the project owner (Project.owner): it cannot be removed, deactivated or demoted. ` +
        'Ask the super administrator to make someone else the owner first',
      expression,
    );
  }
  if (others.length === 0) {
    throw conflict(`${label} is the last active administrator of Project/${projectId}: make another member an administrator first`, expression);
  }
}
