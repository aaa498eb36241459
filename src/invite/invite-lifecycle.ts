import type { ProjectMembership, Reference, User } from '@medplum/fhirtypes';
import { byId } from '../clock';
import { findResources, type RepoContext, type StoredResource } from '../fhir/repository';
import { currentCollection } from '../fhir/resource-types';
import type { InviteRequest } from './invite-request';
import { inviteStatusOf, readInviteState, type InviteState } from './invite-status';
import type { StoredUser } from './invite-user';

/**
 * The invite lifecycle's rules shared by Project/$invite and ProjectMembership/$resend-invite:
 * the status an invite leaves on its membership, which memberships a new invite reopens, and
 * who may receive an activation link.
 */

type StoredMembership = ProjectMembership & { id: string };

/** A membership an invite of this request reopens: revoked or expired, with a profile of the requested type. */
export function isReopenable(membership: ProjectMembership, request: InviteRequest, now: Date): boolean {
  const status = inviteStatusOf(membership, now);
  return (status === 'revoked' || status === 'expired') && membership.profile?.reference?.startsWith(`${request.resourceType}/`) === true;
}

/**
 * The revoked membership of a project-scoped account that its revocation removed (the User is
 * deleted, the membership stays, revoked): re-inviting the same email (or externalId) into the
 * same project reopens it on the new account instead of adding another membership.
 */
export async function findRevokedOfRemovedUser(repo: RepoContext, projectId: string, request: InviteRequest): Promise<StoredMembership | undefined> {
  if (request.scope !== 'project') {
    return undefined;
  }
  let userRefs: string[];
  if (request.email) {
    const removed = await repo.database.db
      .collection<StoredResource<User>>(currentCollection('User'))
      .find({ project: projectId, deleted: true, 'resource.email': request.email }, { session: repo.session, limit: 20 })
      .toArray();
    userRefs = removed.map((doc) => `User/${doc._id}`);
  } else {
    const byExternalId = await findResources<ProjectMembership>(repo, 'ProjectMembership', { project: projectId, 'resource.externalId': request.externalId }, 20);
    userRefs = byExternalId.map((m) => m.user?.reference).filter((ref): ref is string => typeof ref === 'string');
  }
  if (userRefs.length === 0) {
    return undefined;
  }
  const candidates = await findResources<ProjectMembership>(repo, 'ProjectMembership', { project: projectId, 'resource.user.reference': { $in: userRefs } }, 20);
  const now = repo.clock.now();
  const found = candidates.filter((m) => inviteStatusOf(m, now) === 'revoked' && isReopenable(m, request, now)).sort(byId);
  return found[0] as StoredMembership | undefined;
}

/**
 * Whether an activation link for this account may be answered to an administrator (instead of
 * mailed to the account's address). The account-verification rule: a link handed to an
 * administrator sets a password but verifies nothing, so it may only open what that
 * administrator's project already controls. Allowed for a User scoped to this project, and for
 * an unverified server-scoped User none of whose memberships is in another project (nothing
 * beyond this project could be opened with it); otherwise the link is mailed.
 */
export async function callerMayHoldLink(repo: RepoContext, user: StoredUser, projectId: string): Promise<boolean> {
  if (user.project) {
    return user.project.reference === `Project/${projectId}`;
  }
  if (user.emailVerified === true) {
    return false;
  }
  const elsewhere = await findResources<ProjectMembership>(repo, 'ProjectMembership', { 'resource.user.reference': `User/${user.id}`, project: { $ne: projectId } }, 1);
  return elsewhere.length === 0;
}

export interface InviteStatusInput {
  /** The membership an invite updates (upsert) or reopens; none for a new membership. */
  current?: ProjectMembership;
  reopen: boolean;
  now: Date;
  /** The account has a password after this invite (it was activated, or given one now). */
  accountActive: boolean;
  /** A mail was queued or a link handed back. */
  sent: boolean;
  /** When the link issued now expires, if one was. */
  expiresAt?: Date;
  /** The inviter's profile. */
  invitedBy: Reference;
}

/**
 * The invite state an invite leaves on its membership. A new (or reopened) invitation is
 * `pending` with who and when, its link's expiry and one more send; the invite of an account that
 * is already active (it has a password) is `accepted` at once. An upsert of a membership keeps
 * its history (first inviter, counts, an acceptance).
 */
export function stateAfterInvite(input: InviteStatusInput): InviteState {
  const previous = input.current ? readInviteState(input.current) : undefined;
  const now = input.now.toISOString();
  const fresh = !previous || input.reopen;
  const state: InviteState = fresh
    ? { status: 'pending', invitedBy: input.invitedBy, invitedAt: now, sendCount: previous?.sendCount ?? 0 }
    : { ...previous, invitedBy: previous.invitedBy ?? input.invitedBy, invitedAt: previous.invitedAt ?? now };
  if (input.sent) {
    state.sendCount += 1;
    state.lastSentAt = now;
  }
  if (input.expiresAt) {
    state.expiresAt = input.expiresAt.toISOString();
  }
  const keptAcceptance = !fresh && previous?.status === 'accepted';
  if (input.accountActive || keptAcceptance) {
    state.status = 'accepted';
    state.acceptedAt = (keptAcceptance ? previous?.acceptedAt : undefined) ?? now;
    delete state.expiresAt;
  }
  return state;
}
