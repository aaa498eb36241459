import type { ClientSession } from 'mongodb';
import type { ProjectMembership, User } from '@medplum/fhirtypes';
import { membershipChanging, removeUserAccount } from '../access/account-removal';
import { revokeInvitationLinks } from '../accounts/activation';
import { actorOf, type AuthContext } from '../accounts/auth-context';
import { AmbiguousCommitError, withTransaction } from '../db/transaction';
import { FhirError } from '../errors';
import { findResources, idOf, readStored, updateResource } from '../fhir/repository';
import { InviteRefusal, refuseConflict } from './invite-errors';
import type { InviteDeps } from './invite-service';
import { inviteStatusOf, presentInviteStatus, withInviteState } from './invite-status';
import { hasPassword } from './invite-user';
import { authorizeLifecycle, loadTarget } from './lifecycle-target';

/**
 * ProjectMembership/{id}/$revoke-invite: withdraws a pending or expired invitation, in one
 * transaction: the membership becomes `revoked` and inactive (sessions through it end), every
 * unused link of it stops working at once (marked revoked, so that it says so), and a
 * project-scoped account that was never activated and has no other live invitation here is
 * removed (the User and its account data; the revoked membership stays as the record, and a new
 * invite of the same person reopens it). A server-scoped account keeps its account and its other
 * memberships. An accepted membership is removed with DELETE instead (409 here).
 */

export interface RevokeCall {
  caller: AuthContext;
  membershipId: string;
}

const MAX_ATTEMPTS = 3;

/** Removes the invitee's project-scoped account when this invitation was all it had. */
async function removeUnactivatedAccount(repo: Parameters<typeof membershipChanging>[0], membership: ProjectMembership, projectId: string): Promise<void> {
  const userId = idOf(membership.user, 'User');
  const user = userId ? await readStored<User>(repo, 'User', userId) : undefined;
  if (!userId || !user || user.deleted || user.resource.project?.reference !== `Project/${projectId}` || (await hasPassword(repo, userId))) {
    return;
  }
  const now = repo.clock.now();
  const others = await findResources<ProjectMembership>(repo, 'ProjectMembership', { 'resource.user.reference': `User/${userId}`, _id: { $ne: membership.id } }, 50);
  if (others.some((m) => inviteStatusOf(m, now) !== 'revoked')) {
    return;
  }
  await revokeInvitationLinks(repo, repo.session, { userId }, now);
  await removeUserAccount(repo, userId, true);
}

async function revokeInSession(deps: InviteDeps, session: ClientSession, call: RevokeCall): Promise<ProjectMembership> {
  const repo = { database: deps.database, clock: deps.clock, session, listeners: deps.listeners, actor: actorOf(call.caller), operation: 'revoke-invite' as const };
  const target = await loadTarget(repo, call.membershipId, 'revoke');
  const label = `ProjectMembership/${call.membershipId}`;
  if (target.status === 'accepted') {
    throw refuseConflict(
      `${label} was accepted: its holder is a member now. To remove them, DELETE ${label} (that also ends their sessions in this project)`,
      'ProjectMembership.extension',
    );
  }
  if (target.status === 'revoked') {
    throw refuseConflict(`${label} was already revoked`, 'ProjectMembership.extension');
  }
  const state = { ...target.state, status: 'revoked' as const };
  const after = withInviteState({ ...target.membership, active: false }, state);
  // The guard (the project's owner or last administrator cannot be removed) and the sessions through it.
  await membershipChanging(repo, target.membership, after);
  const updated = await updateResource(repo, after, { ifMatch: target.membership.meta?.versionId, skipValidation: true });
  const now = deps.clock.now();
  await revokeInvitationLinks(repo, session, { membershipId: call.membershipId }, now);
  await removeUnactivatedAccount(repo, target.membership, target.projectId);
  return presentInviteStatus(updated.resource, now);
}

/** Runs a revoke (404/403 first, then one at a time per membership in this process). */
export async function revokeInvite(deps: InviteDeps, call: RevokeCall): Promise<ProjectMembership> {
  await authorizeLifecycle(deps, call.caller, call.membershipId);
  return deps.lock.run(`invite-lifecycle:${call.membershipId}`, async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await withTransaction(deps.database, (session) => revokeInSession(deps, session, call));
      } catch (err) {
        // A concurrent change to the membership got in first: read it again. (An unknown commit
        // is not run again: it may have landed.)
        const again = !(err instanceof InviteRefusal) && err instanceof FhirError && err.code === 'FST_PRECONDITION';
        if (attempt < MAX_ATTEMPTS && again) {
          continue;
        }
        if (err instanceof AmbiguousCommitError) {
          throw new FhirError('FST_UNAVAILABLE', 'The database did not confirm the revocation; read the membership again before retrying');
        }
        throw err;
      }
    }
  }).finally(() => deps.accessScopes?.clear());
}
