import type { ClientSession } from 'mongodb';
import type { ProjectMembership } from '@medplum/fhirtypes';
import type { ActivationDoc } from '../accounts/activation';
import type { Store } from '../db/store';
import { withTransaction } from '../db/transaction';
import { FhirError } from '../errors';
import type { ChangeListener } from '../fhir/changes';
import { readStored, updateResource, type RepoContext } from '../fhir/repository';
import { readInviteState, withInviteState } from './invite-status';
import { hasPassword } from './invite-user';

/**
 * The `accepted` transition of an invitation: when the invitee sets a password through the
 * link of that membership (in the password's own transaction), or signs in to that project
 * (token issuance for the membership) while it is pending or expired, with an active account.
 * Never from revoked: a revoked membership is inactive, so no sign-in reaches it, and its links
 * are refused.
 */

/** Marks the membership accepted when it is still pending (expired included) for this user. */
async function acceptIfPending(repo: RepoContext & { session: ClientSession }, membershipId: string, userId: string): Promise<boolean> {
  const doc = await readStored<ProjectMembership>(repo, 'ProjectMembership', membershipId);
  const membership = doc && !doc.deleted ? doc.resource : undefined;
  const state = membership ? readInviteState(membership) : undefined;
  if (!membership || state?.status !== 'pending' || membership.user?.reference !== `User/${userId}` || membership.active === false) {
    return false;
  }
  const now = repo.clock.now().toISOString();
  const accepted = { ...state, status: 'accepted' as const, acceptedAt: now };
  delete accepted.expiresAt;
  await updateResource(repo, withInviteState(membership, accepted), { ifMatch: membership.meta?.versionId, skipValidation: true });
  return true;
}

/**
 * Called by set-password inside its transaction (repository context with operation
 * `activation`): an invitation link's membership becomes accepted with the password.
 */
export async function acceptOnActivation(repo: RepoContext & { session: ClientSession }, activation: ActivationDoc): Promise<void> {
  if (activation.kind === 'invite' && activation.membershipId) {
    await acceptIfPending(repo, activation.membershipId, activation.userId);
  }
}

/**
 * Called when a User is issued tokens for a membership (the authorization code exchange): a
 * pending or expired invitation becomes accepted, in its own transaction (operation `account`,
 * the user as actor), when the account is active (it has a password). Cheap when there is
 * nothing to do (one read of what the caller already holds).
 */
export async function acceptOnSignIn(deps: Store & { listeners?: readonly ChangeListener[] }, membership: ProjectMembership, userId: string): Promise<void> {
  if (readInviteState(membership)?.status !== 'pending' || !membership.id) {
    return;
  }
  const membershipId = membership.id;
  for (let attempt = 1; ; attempt++) {
    try {
      await withTransaction(deps.database, async (session) => {
        const repo = { database: deps.database, clock: deps.clock, session, listeners: deps.listeners, actor: { principal: { reference: `User/${userId}` }, membership: { reference: `ProjectMembership/${membershipId}` } }, operation: 'account' as const };
        if (await hasPassword(repo, userId)) {
          await acceptIfPending(repo, membershipId, userId);
        }
      });
      return;
    } catch (err) {
      // Someone changed the membership meanwhile (a resend, an admin's edit): read it again.
      if (attempt < 3 && err instanceof FhirError && err.code === 'FST_PRECONDITION') {
        continue;
      }
      throw err;
    }
  }
}
