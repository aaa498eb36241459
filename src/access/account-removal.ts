import type { ClientApplication, ProjectMembership, Resource, User } from '@medplum/fhirtypes';
import { deleteActivations } from '../accounts/activation';
import { deleteCredentials } from '../accounts/credentials';
import { revokeLogins as revokeOpenLogins } from '../accounts/sessions';
import { deleteResource, idOf, readStored, type StoredResource } from '../fhir/repository';
import { currentCollection } from '../fhir/resource-types';
import { guardAdminMembership, type SessionRepo } from './admin-guard';

/**
 * What deleting or deactivating an administrative resource takes with it, in the transaction of
 * that write (so a refusal or a failure leaves everything as it was):
 *
 * - a ProjectMembership deactivated or deleted: every sign-in session through it is revoked; a
 *   deleted one that was the last membership of a project-scoped User deletes that User too
 *   (a project-scoped user lives and dies with its membership), with its account data;
 * - a User deleted: its memberships (in every project) are deleted, each guarded like a DELETE
 *   (the project owner's or last administrator's membership is refused, 409), with its account data;
 * - a ClientApplication deleted: its memberships are deleted, its secret and sessions removed,
 *   and the sessions users opened through it as an OAuth client revoked;
 * - a Project deleted: every session into it is revoked. Its resources, memberships and users
 *   stay stored (the super administrator can still read them); its memberships no longer grant
 *   anything (checkGrant refuses a deleted project), so nobody can sign in to it.
 *
 * "Account data" is the credentials document (password hash, MFA secret, client secret hash),
 * the activation requests and the sign-in sessions (revoked, kept for the audit trail).
 */

function revokeLogins(repo: SessionRepo, filter: Record<string, unknown>): Promise<void> {
  return revokeOpenLogins(repo, repo.session, filter);
}

/** Removes the secrets, activation requests and sessions of a User or ClientApplication. */
async function removeAccountData(repo: SessionRepo, principalId: string, keepActivations = false): Promise<void> {
  await deleteCredentials(repo.database, repo.session, principalId);
  if (!keepActivations) {
    await deleteActivations(repo, repo.session, principalId);
  }
  await revokeLogins(repo, { userId: principalId });
}

/**
 * Removes a project-scoped User that lives and dies with an invitation (one withdrawn before it
 * was accepted): the User and its account data, in the caller's transaction. Its memberships are
 * the caller's to decide. `keepActivations`: its activation requests stay (the caller marked them
 * revoked, so that a link still says why it stopped working; they can no longer set anything).
 */
export async function removeUserAccount(repo: SessionRepo, userId: string, keepActivations = false): Promise<void> {
  await deleteResource(repo, 'User', userId);
  await removeAccountData(repo, userId, keepActivations);
}

/** The memberships (not deleted) whose `user` is this reference, in every project. */
async function membershipDocsOf(repo: SessionRepo, userReference: string): Promise<StoredResource<ProjectMembership>[]> {
  return repo.database.db
    .collection<StoredResource<ProjectMembership>>(currentCollection('ProjectMembership'))
    .find({ 'resource.user.reference': userReference, deleted: false }, { session: repo.session, limit: 1000 })
    .toArray();
}

/** Deletes every membership of a User or ClientApplication, each guarded like a DELETE. */
async function deleteMembershipsOf(repo: SessionRepo, userReference: string): Promise<void> {
  for (const doc of await membershipDocsOf(repo, userReference)) {
    await guardAdminMembership(repo, doc.resource, undefined);
    await revokeLogins(repo, { membershipId: doc._id });
    await deleteResource(repo, 'ProjectMembership', doc._id);
  }
}

/** A membership is deleted (`after` undefined) or changed: the guard, then its consequences. */
export async function membershipChanging(repo: SessionRepo, before: ProjectMembership, after: ProjectMembership | undefined): Promise<void> {
  await guardAdminMembership(repo, before, after);
  const ends = !after || (before.active !== false && after.active === false) || after.user?.reference !== before.user?.reference;
  if (ends) {
    await revokeLogins(repo, { membershipId: before.id });
  }
  if (after) {
    return;
  }
  const userRef = before.user?.reference;
  const userId = idOf(before.user, 'User');
  const projectId = before.meta?.project;
  if (!userRef || !userId || !projectId) {
    return;
  }
  const user = await readStored<User>(repo, 'User', userId);
  const scopedHere = user && !user.deleted && user.resource.project?.reference === `Project/${projectId}`;
  if (!scopedHere) {
    return;
  }
  const remaining = (await membershipDocsOf(repo, userRef)).filter((m) => m._id !== before.id);
  if (remaining.length === 0) {
    await deleteResource(repo, 'User', userId);
    await removeAccountData(repo, userId);
  }
}

/** A User, ClientApplication or Project is deleted: its consequences (see above). */
export async function principalDeleting(repo: SessionRepo, resource: Resource): Promise<void> {
  const id = resource.id as string;
  if (resource.resourceType === 'User') {
    await deleteMembershipsOf(repo, `User/${id}`);
    await removeAccountData(repo, id);
  } else if (resource.resourceType === 'ClientApplication') {
    await deleteMembershipsOf(repo, `ClientApplication/${(resource as ClientApplication).id}`);
    await removeAccountData(repo, id);
    await revokeLogins(repo, { clientId: id });
  } else if (resource.resourceType === 'Project') {
    await revokeLogins(repo, { projectId: id });
  }
}
