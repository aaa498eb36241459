import type { ProjectMembership } from '@medplum/fhirtypes';
import type { AuthContext } from '../accounts/auth-context';
import { assertCurrentProjectAdmin } from '../accounts/memberships';
import type { Store } from '../db/store';
import { FhirError } from '../errors';
import { idOf, readStored, type RepoContext } from '../fhir/repository';
import { refuseConflict, refuseNotFound } from './invite-errors';
import { inviteStatusOf, readInviteState, type InviteState, type InviteStatus } from './invite-status';

/**
 * Whom $resend-invite and $revoke-invite act on, and who may: the membership as stored, for an
 * administrator of its project (checked against the stored membership of the caller's token) or
 * the super administrator. An unknown or deleted membership, and one of a project the caller
 * does not administer through this token, are 404 alike (nothing tells whether it exists); a
 * member of that very project who is not its administrator is 403.
 */

export type StoredMembership = ProjectMembership & { id: string };

const NOT_ADMIN = 'Only an administrator of this project may resend or revoke its invitations';

/** The project a membership belongs to. */
export function projectIdOf(membership: ProjectMembership): string | undefined {
  return membership.meta?.project ?? idOf(membership.project, 'Project');
}

/** Checks the caller against the membership's project (403 / 404 as above); answers its project id. */
export async function authorizeLifecycle(store: Store, caller: AuthContext, membershipId: string): Promise<string> {
  const doc = await readStored<ProjectMembership>(store, 'ProjectMembership', membershipId);
  const projectId = doc && !doc.deleted ? projectIdOf(doc.resource) : undefined;
  if (!projectId) {
    throw refuseNotFound(`ProjectMembership/${membershipId} not found`);
  }
  try {
    await assertCurrentProjectAdmin(store, caller, projectId, NOT_ADMIN);
  } catch (err) {
    if (err instanceof FhirError && err.code === 'FST_FORBIDDEN' && projectId !== caller.projectId) {
      throw refuseNotFound(`ProjectMembership/${membershipId} not found`);
    }
    throw err;
  }
  return projectId;
}

export interface LifecycleTarget {
  membership: StoredMembership;
  projectId: string;
  state: InviteState;
  status: InviteStatus;
}

/**
 * The membership read again inside the operation's transaction, with its invite status at now;
 * 404 when it went meanwhile, 409 when it carries no invitation.
 */
export async function loadTarget(repo: RepoContext, membershipId: string, what: string): Promise<LifecycleTarget> {
  const doc = await readStored<ProjectMembership>(repo, 'ProjectMembership', membershipId);
  const projectId = doc && !doc.deleted ? projectIdOf(doc.resource) : undefined;
  if (!doc || doc.deleted || !projectId) {
    throw refuseNotFound(`ProjectMembership/${membershipId} not found`);
  }
  const membership = doc.resource as StoredMembership;
  const state = readInviteState(membership);
  const status = inviteStatusOf(membership, repo.clock.now());
  if (!state || !status) {
    throw refuseConflict(`ProjectMembership/${membershipId} did not come from an invitation: there is no invitation to ${what}`, 'ProjectMembership.extension');
  }
  return { membership, projectId, state, status };
}
