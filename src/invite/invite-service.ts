import type { ClientSession } from 'mongodb';
import type { Project, Reference, User } from '@medplum/fhirtypes';
import { createActivation } from '../accounts/activation';
import { actorOf, type AuthContext } from '../accounts/auth-context';
import { hashPassword } from '../accounts/passwords';
import { endSessionsOnThisInstance } from '../accounts/sessions';
import type { AppConfig } from '../config';
import type { Store } from '../db/store';
import type { KeyedLock } from '../db/keyed-lock';
import { AmbiguousCommitError, DuplicateKeyError, withTransaction } from '../db/transaction';
import type { EmailServices } from '../email/mail';
import { conflict, FhirError } from '../errors';
import type { ChangeListener } from '../fhir/changes';
import { idOf, type RepoContext } from '../fhir/repository';
import { newId } from '../clock';
import { findAnswer, storeAnswer, type IdempotencyKey, type StoredAnswer } from './idempotency';
import { resolveAccess } from './invite-access';
import { authorizeInvite, projectOrNotFound } from './invite-authorize';
import { buildInviteEmail, inviterName } from './invite-email';
import { InviteRefusal } from './invite-errors';
import { findMemberships, planMembership, refuseTakenExternalId, writeMembership, type StoredMembership } from './invite-membership';
import { checkPatient, resolveProfile, type ProfileResource } from './invite-profile';
import type { InviteRequest } from './invite-request';
import type { InviteTemplates } from './invite-templates';
import { ensureUser, findInviteUsers, resolveInvitee, type StoredUser } from './invite-user';
import { clearUnverifiedCredentials, mustReclaim } from './invite-account';
import { callerMayHoldLink, findRevokedOfRemovedUser, stateAfterInvite } from './invite-lifecycle';

/*
 * invite/ — domain layer: the invite and only the invite (its input rules, the membership,
 * profile and user steps, idempotency, the mail templates), written through the repository in one
 * transaction. It imports accounts/, access/, email/, storage and the base; the routes that call it
 * are in fhir-api/operations/ and admin/.
 */

/** What the invite needs; all created once per app. */
export interface InviteDeps extends Store {
  /** The repository's change listeners (see fhir/changes.ts): the invite writes through the repository. */
  listeners?: readonly ChangeListener[];
  config: Pick<AppConfig, 'baseUrl' | 'activationTtlMs'>;
  email: Pick<EmailServices, 'enqueue'>;
  templates: InviteTemplates;
  /** One per app: serializes invites of the same person in this process. */
  lock: KeyedLock;
  /** The app's cache of access scopes, cleared when an invite changed an existing membership. */
  accessScopes?: { clear(): void };
  /** Ends a sign-in session on this instance (the app's `auth.revokeLogin`), after the commit. */
  revokeLogin?: (loginId: string) => Promise<void>;
}

export interface InviteResult {
  project: Project & { id: string };
  user: StoredUser;
  profile: ProfileResource;
  membership: StoredMembership;
  /** A membership was created (201) rather than updated (200). */
  membershipCreated: boolean;
  userCreated: boolean;
  emailStatus: 'queued' | 'skipped';
  /** Only when sendEmail is false and the User was created. */
  activationUrl?: string;
  /** An unverified account was reclaimed for its owner (see invite-account.ts). */
  reclaimed: boolean;
  /** The sign-in sessions the reclaim ended. */
  endedLogins: string[];
}

export interface InviteCall {
  caller: AuthContext;
  projectId: string;
  request: InviteRequest;
  idempotency?: { key: IdempotencyKey; fingerprint: string };
  /** Turns the result into the answer stored under the Idempotency-Key (secret kept apart). */
  answer(result: InviteResult): StoredAnswer;
}

export interface InviteOutcome {
  answer: StoredAnswer;
  /** The answer was stored by an earlier request with the same Idempotency-Key. */
  replayed: boolean;
}

const MAX_ATTEMPTS = 3;

/** The whole invite inside one transaction: every read and write joins `session`. */
export async function inviteInSession(deps: InviteDeps, session: ClientSession, call: InviteCall, passwordHash: string | undefined): Promise<InviteResult> {
  const { request, projectId, caller } = call;
  const repo: RepoContext = { database: deps.database, clock: deps.clock, session, listeners: deps.listeners, actor: actorOf(caller), operation: 'invite' };
  const project = await projectOrNotFound(repo, projectId);
  const access = await resolveAccess(repo, project, request);
  await checkPatient(repo, projectId, request);
  const users = await findInviteUsers(repo, projectId, request);
  const existingUser = await resolveInvitee(repo, projectId, request, users);

  const memberships = existingUser ? await findMemberships(repo, projectId, existingUser.id) : [];
  const removed = memberships.length === 0 ? await findRevokedOfRemovedUser(repo, projectId, request) : undefined;
  const plan = planMembership(request, memberships, repo.clock.now(), removed);
  await refuseTakenExternalId(repo, projectId, request.membership.externalId, existingUser?.id ?? idOf(removed?.user, 'User'));
  const preferred = plan.action === 'update' ? plan.current.profile : undefined;
  const { profile } = await resolveProfile(repo, projectId, request, preferred);
  const { user, created: userCreated, pending } = await ensureUser(repo, project, request, existingUser, passwordHash);
  const invitedBy = { reference: `${caller.userType}/${caller.userId}` } as Reference<User>;
  const membershipId = plan.action === 'update' ? plan.current.id : newId();
  const reopen = plan.action === 'update' && plan.reopen === true;

  // An unverified server-scoped account joining another project is reclaimed for the owner of
  // its email: credentials cleared, sessions ended, every earlier link superseded, a link mailed.
  const reclaim = !userCreated && Boolean(request.email) && mustReclaim(user, memberships.length > 0);
  const endedLogins = reclaim ? await clearUnverifiedCredentials(repo, user.id) : [];
  const accountActive = !pending && !reclaim;
  // A reopened invitation of an account not yet active gets a fresh link: mailed, or answered to
  // the caller when sendEmail is false and the account-verification rule allows it.
  const reopenDelivery = reopen && !userCreated && !accountActive ? await reopenLinkDelivery(repo, user, projectId, request) : undefined;
  const mail = reopenDelivery ? reopenDelivery === 'mail' : Boolean(request.email) && (request.sendEmail || reclaim);
  // A new account gets an activation link when someone can receive it (the email, or the caller
  // when sendEmail is false); a never-activated one gets a fresh link (superseding) with the mail.
  const activate = reopenDelivery !== undefined || (userCreated ? mail || !request.sendEmail : (pending || reclaim) && mail);
  const activation = activate
    ? await createActivation({ ...deps, baseUrl: deps.config.baseUrl, ttlMs: deps.config.activationTtlMs }, session, {
        userId: user.id,
        kind: 'invite',
        delivery: mail ? 'mail' : 'caller',
        supersedeAll: reclaim,
        membershipId,
        projectId,
      })
    : undefined;
  const activationUrl = (userCreated || reopenDelivery) && !mail ? activation?.url : undefined;
  const current = plan.action === 'update' ? plan.current : undefined;
  const inviteState = stateAfterInvite({ current, reopen, now: repo.clock.now(), accountActive, sent: mail || activationUrl !== undefined, expiresAt: activation?.expiresAt, invitedBy: caller.profile });
  // The audit trail's invite event is written with the membership: it says what the membership does not.
  const detail = { scope: request.scope, mfaRequired: request.mfaRequired, emailStatus: mail ? 'queued' : 'skipped', userCreated };
  const { membership, created } = await writeMembership({ ...repo, detail }, request, plan, { id: membershipId, project, user, profile, invitedBy, access, inviteState });
  if (mail) {
    const mailInput = { project, user, to: user.email ?? (request.email as string), baseUrl: deps.config.baseUrl, activation, inviter: await inviterName(repo, caller), mfaRequired: request.mfaRequired };
    await deps.email.enqueue(session, buildInviteEmail(deps.templates, mailInput));
  }
  return {
    project,
    user,
    profile,
    membership,
    membershipCreated: created,
    userCreated,
    emailStatus: mail ? 'queued' : 'skipped',
    activationUrl,
    reclaimed: reclaim,
    endedLogins,
  };
}

/** Where a reopened invitation's fresh link goes (see callerMayHoldLink). */
async function reopenLinkDelivery(repo: RepoContext, user: StoredUser, projectId: string, request: InviteRequest): Promise<'mail' | 'caller'> {
  if (request.sendEmail && user.email) {
    return 'mail';
  }
  return (await callerMayHoldLink(repo, user, projectId)) || !user.email ? 'caller' : 'mail';
}

/** Worth running again: the state changed under us (a concurrent invite), not a decided refusal. */
function retryable(err: unknown): boolean {
  if (err instanceof InviteRefusal) {
    return false;
  }
  if (err instanceof DuplicateKeyError || err instanceof AmbiguousCommitError) {
    return true;
  }
  return err instanceof FhirError && (err.statusCode === 409 || err.statusCode === 412);
}

function finalError(err: unknown): unknown {
  if (err instanceof DuplicateKeyError) {
    return conflict('Another request changed this account or membership at the same time; try again');
  }
  if (err instanceof AmbiguousCommitError) {
    return new FhirError('FST_UNAVAILABLE', 'The database did not confirm the invite; send it again (with the same Idempotency-Key to be safe)');
  }
  return err;
}

/**
 * After a committed invite that reclaimed an account: this instance's session cache learns at once
 * that its sessions ended (others within their cache TTL), including a sign-in that raced the
 * transaction with the old password.
 */
async function afterCommit(deps: InviteDeps, result: InviteResult, startedAt: Date): Promise<void> {
  if (result.reclaimed) {
    await endSessionsOnThisInstance(deps, result.user.id, result.endedLogins, startedAt);
  }
}

async function userMayExist(deps: InviteDeps, call: InviteCall): Promise<boolean> {
  return (await findInviteUsers(deps, call.projectId, call.request)).invited !== undefined;
}

/**
 * Runs an invite: 403 unless the caller may, then (one at a time per invitee in this process)
 * replays a stored Idempotency-Key answer or runs the transaction, retrying when a concurrent
 * invite got in first (unique-key clash, unknown commit outcome) so that the answer reflects
 * what is really stored: 409 "already a member", the upserted membership, or the replay.
 */
export async function runInvite(deps: InviteDeps, call: InviteCall): Promise<InviteOutcome> {
  await authorizeInvite(deps, call.caller, call.projectId);
  const { request } = call;
  const lockKey = request.email ? `invite:email:${request.email}` : `invite:ext:${call.projectId}:${request.externalId}`;
  let updatedMembership = false;
  return deps.lock.run(lockKey, async () => {
    let passwordHash: string | undefined;
    for (let attempt = 1; ; attempt++) {
      if (call.idempotency) {
        const stored = await findAnswer(deps, call.idempotency.key, call.idempotency.fingerprint);
        if (stored) {
          return { answer: stored, replayed: true };
        }
      }
      // Hash only for an account about to be created, and before the transaction.
      if (request.password && passwordHash === undefined && !(await userMayExist(deps, call))) {
        passwordHash = await hashPassword(request.password);
      }
      const startedAt = deps.clock.now();
      const landed: { result?: InviteResult } = {};
      try {
        // All or nothing, also when the commit's outcome is unknown (withTransaction settles it).
        const answer = await withTransaction(deps.database, async (session) => {
          const result = await inviteInSession(deps, session, call, passwordHash);
          updatedMembership ||= !result.membershipCreated;
          const stored = call.answer(result);
          if (call.idempotency) {
            await storeAnswer(deps, session, call.idempotency.key, call.idempotency.fingerprint, stored);
          }
          landed.result = result;
          return stored;
        });
        await afterCommit(deps, landed.result as InviteResult, startedAt);
        return { answer, replayed: false };
      } catch (err) {
        if (attempt < MAX_ATTEMPTS && retryable(err)) {
          continue;
        }
        throw finalError(err);
      }
    }
  }).finally(() => {
    // An updated membership (upsert) may change its member's access: forget the cached scopes.
    if (updatedMembership) {
      deps.accessScopes?.clear();
    }
  });
}
