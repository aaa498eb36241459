import type { FastifyBaseLogger } from 'fastify';
import type { ClientSession } from 'mongodb';
import type { AccessScope } from '../access/access-scope';
import { resolveAccessScope, type AccessServices } from '../access/resolve';
import type { AuthContext } from '../accounts/auth-context';
import type { Store } from '../db/store';
import { forbidden } from '../errors';
import type { Actor } from '../fhir/changes';
import { idOf } from '../fhir/repository';
import { owners, type OwnerDoc } from './outbox';

/**
 * Whose access a Subscription's notifications get: the membership of the caller that last wrote
 * the Subscription (as Medplum takes its last author). Its scope is resolved as a request of that
 * member would be (the membership must still exist and be active; its access policies, project
 * administration and super administration as stored now), so a notification never carries what
 * that member could not read.
 */

export interface OwnerContext extends Store {
  log: FastifyBaseLogger;
  access: AccessServices;
}

/** The owner record for a Subscription version written by `actor` in `project`; 403 when the writer is no project member. */
export function ownerFromActor(subscriptionId: string, version: number, actor: Actor | undefined): OwnerDoc {
  const membershipId = idOf(actor?.membership, 'ProjectMembership');
  const principal = actor?.principal.reference ?? '';
  const [userType, userId] = principal.split('/');
  if (!membershipId || !actor?.project || !userId || (userType !== 'User' && userType !== 'ClientApplication')) {
    throw forbidden('A Subscription is written by a member of its project: sign in to the project first');
  }
  return { _id: subscriptionId, version, membershipId, userType, userId, projectId: actor.project, ...(actor.profile?.reference ? { profile: actor.profile.reference } : {}) };
}

/** Records who the Subscription acts for, in the transaction of its write. */
export async function saveOwner(ctx: OwnerContext, session: ClientSession, owner: OwnerDoc): Promise<void> {
  await owners(ctx.database).replaceOne({ _id: owner._id }, owner, { session, upsert: true });
}

export async function readOwner(ctx: OwnerContext, subscriptionId: string, session?: ClientSession): Promise<OwnerDoc | undefined> {
  return (await owners(ctx.database).findOne({ _id: subscriptionId }, { session })) ?? undefined;
}

/**
 * The owner's access as a request of theirs would resolve it (the app's scope cache included).
 * The super administrator flag is only an upper bound there, checked against the membership as
 * stored, so it is always offered. Throws 401/403 when the owner can no longer act.
 */
export function ownerScope(ctx: OwnerContext, owner: OwnerDoc): Promise<AccessScope> {
  const auth: AuthContext = {
    userId: owner.userId,
    userType: owner.userType,
    loginId: `subscription:${owner._id}`,
    projectId: owner.projectId,
    membershipId: owner.membershipId,
    profile: { reference: owner.profile },
    projectAdmin: false,
    superAdmin: true,
  };
  return resolveAccessScope(ctx, auth);
}
