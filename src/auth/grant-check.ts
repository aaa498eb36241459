import type { ClientApplication, Project, ProjectMembership, User } from '@medplum/fhirtypes';
import { idOf, readCurrent, type ReadContext } from './memberships';

/**
 * What a sign-in session (or an HTTP Basic client) acts as: a principal (User or
 * ClientApplication) through one ProjectMembership in one Project, possibly signed in through an
 * OAuth client. A token carries these ids; whether they still grant anything is decided by
 * `checkGrant` against the database, never by the token.
 */
export interface Grant {
  userType: 'User' | 'ClientApplication';
  userId: string;
  projectId: string;
  membershipId: string;
  /** The ClientApplication a user signed in through (OAuth `client_id`), if any. */
  clientId?: string;
}

/** The grant holds: its membership and project as stored now. */
export interface GrantHeld {
  ok: true;
  membership: ProjectMembership;
  project: Project;
}

/** The grant no longer holds; `reason` is a sentence the caller can act on (it names no one else). */
export interface GrantEnded {
  ok: false;
  reason: string;
}

export type GrantStatus = GrantHeld | GrantEnded;

const ended = (reason: string): GrantEnded => ({ ok: false, reason });

/** A ClientApplication that may act: not deleted, not turned off. */
function clientUsable(client: ClientApplication | undefined): client is ClientApplication {
  return client !== undefined && (!client.status || client.status === 'active');
}

/**
 * Re-checks a grant against what the database holds NOW (at most four reads): the membership
 * exists, is active and still joins this principal to this project; the project exists; the
 * principal exists (a User not deleted, and when project-scoped, scoped to this project; a
 * ClientApplication not deleted, not turned off, and of this project); and the OAuth client a
 * user signed in through still exists. Used on every authenticated request (cached briefly, see
 * services.ts), on refresh, on the code exchange and when a sign-in picks its membership.
 */
export async function checkGrant(ctx: ReadContext, grant: Grant): Promise<GrantStatus> {
  const membership = await readCurrent<ProjectMembership>(ctx, 'ProjectMembership', grant.membershipId);
  if (!membership || idOf(membership.project, 'Project') !== grant.projectId || membership.user?.reference !== `${grant.userType}/${grant.userId}`) {
    return ended('The project membership of this sign-in no longer exists: sign in again');
  }
  if (membership.active === false) {
    return ended('The project membership of this sign-in is not active: ask a project administrator');
  }
  const project = await readCurrent<Project>(ctx, 'Project', grant.projectId);
  if (!project) {
    return ended('The project of this sign-in no longer exists: sign in to another project');
  }
  if (grant.userType === 'User') {
    const user = await readCurrent<User>(ctx, 'User', grant.userId);
    const scopedTo = user?.project ? idOf(user.project, 'Project') : undefined;
    if (!user || (user.project && scopedTo !== grant.projectId)) {
      return ended('The account of this sign-in no longer exists: sign in again');
    }
  } else {
    const client = await readCurrent<ClientApplication>(ctx, 'ClientApplication', grant.userId);
    if (!clientUsable(client) || client.meta?.project !== grant.projectId) {
      return ended('This client application no longer exists or is turned off');
    }
  }
  if (grant.clientId && grant.clientId !== grant.userId) {
    const client = await readCurrent<ClientApplication>(ctx, 'ClientApplication', grant.clientId);
    if (!clientUsable(client)) {
      return ended('The client application this sign-in went through no longer exists or is turned off');
    }
  }
  return { ok: true, membership, project };
}
