import type { ClientSession } from 'mongodb';
import type { Project, ProjectMembership, User } from '@medplum/fhirtypes';
import { createActivation, type CreatedActivation } from '../accounts/activation';
import { actorOf, type AuthContext } from '../accounts/auth-context';
import { membershipRequiresMfa } from '../accounts/memberships';
import { AmbiguousCommitError, DuplicateKeyError, withTransaction } from '../db/transaction';
import { FhirError } from '../errors';
import { idOf, readCurrent, updateResource, type RepoContext } from '../fhir/repository';
import { findAnswer, storeAnswer, type IdempotencyKey, type StoredAnswer } from './idempotency';
import { buildInviteEmail, inviterName } from './invite-email';
import { InviteRefusal, refuseBadRequest, refuseConflict } from './invite-errors';
import { callerMayHoldLink } from './invite-lifecycle';
import type { InviteDeps } from './invite-service';
import { presentInviteStatus, withInviteState, type InviteState } from './invite-status';
import { hasPassword, type StoredUser } from './invite-user';
import { authorizeLifecycle, loadTarget, type LifecycleTarget } from './lifecycle-target';
import { checkResendLimit, countResend } from './resend-limit';

/**
 * ProjectMembership/{id}/$resend-invite: a new activation link for a pending or expired
 * invitation (every earlier link of the account's invitations stops working), mailed through the
 * outbox in the same transaction, the membership's sendCount, lastSentAt and expiresAt updated,
 * at most RESEND_LIMIT per hour. With `sendEmail: false` the link is answered to the caller,
 * when the account-verification rule allows it (callerMayHoldLink); otherwise it is mailed all
 * the same (emailStatus `queued`, no activationUrl). An account that already has a password
 * (activated through another project's invitation) gets the "you were added" mail with the
 * sign-in link instead: it needs no link.
 */

export interface ResendCall {
  caller: AuthContext;
  membershipId: string;
  sendEmail: boolean;
  idempotency?: { key: IdempotencyKey; fingerprint: string };
}

export interface ResendOutcome {
  answer: StoredAnswer;
  replayed: boolean;
}

/** The output values of the answer (the activation link apart, as a secret). */
export interface ResendValues {
  membership: ProjectMembership;
  emailStatus: 'queued' | 'not-sent';
}

const MAX_ATTEMPTS = 3;

function refuseStatus(target: LifecycleTarget): void {
  const label = `ProjectMembership/${target.membership.id}`;
  if (target.status === 'accepted') {
    throw refuseConflict(`${label} was accepted: the member signs in with their password (a forgotten one is reset from the sign-in page)`, 'ProjectMembership.extension');
  }
  if (target.status === 'revoked') {
    throw refuseConflict(`${label} was revoked: to invite this person again, use Project/${target.projectId}/$invite`, 'ProjectMembership.extension');
  }
}

interface Delivery {
  activation?: CreatedActivation;
  mailed: boolean;
  /** The link answered to the caller. */
  activationUrl?: string;
}

/** Issues the new link (or none for an active account) and queues the mail, in the transaction. */
async function deliver(deps: InviteDeps, repo: RepoContext & { session: ClientSession }, target: LifecycleTarget, user: StoredUser, call: ResendCall): Promise<Delivery> {
  const { session } = repo;
  const active = await hasPassword(repo, user.id);
  if (active && !call.sendEmail) {
    throw refuseConflict(
      'This person already has a password: they can sign in to the project (the invitation is accepted when they do). Resend with sendEmail true to remind them by mail',
      'sendEmail',
    );
  }
  if (call.sendEmail && !user.email) {
    throw refuseBadRequest('This member has no email address: resend with sendEmail false to get the activation link', 'sendEmail');
  }
  const mailed = call.sendEmail || !(await callerMayHoldLink(repo, user, target.projectId));
  const activation = active
    ? undefined
    : await createActivation({ ...deps, baseUrl: deps.config.baseUrl, ttlMs: deps.config.activationTtlMs }, session, {
        userId: user.id,
        kind: 'invite',
        delivery: mailed ? 'mail' : 'caller',
        membershipId: target.membership.id,
        projectId: target.projectId,
      });
  if (mailed) {
    const project = (await readCurrent<Project>(repo, 'Project', target.projectId)) as Project & { id: string };
    const inviter = await inviterName(repo, call.caller);
    const mfaRequired = user.mfaRequired === true || membershipRequiresMfa(target.membership);
    const mail = buildInviteEmail(deps.templates, { project, user, to: user.email as string, baseUrl: deps.config.baseUrl, activation, inviter, mfaRequired });
    await deps.email.enqueue(session, mail);
  }
  return { activation, mailed, activationUrl: mailed ? undefined : activation?.url };
}

/** The whole resend in one transaction; answers the output (link kept apart). */
async function resendInSession(deps: InviteDeps, session: ClientSession, call: ResendCall): Promise<StoredAnswer> {
  const repo = { database: deps.database, clock: deps.clock, session, listeners: deps.listeners, actor: actorOf(call.caller), operation: 'resend-invite' as const };
  const target = await loadTarget(repo, call.membershipId, 'resend');
  refuseStatus(target);
  const user = (await readCurrent<User>(repo, 'User', idOf(target.membership.user, 'User'))) as StoredUser | undefined;
  if (!user) {
    throw refuseConflict(`The account of ProjectMembership/${call.membershipId} no longer exists: invite this person again with Project/${target.projectId}/$invite`, 'ProjectMembership.user');
  }
  const recent = await checkResendLimit(deps, session, call.membershipId);
  const { activation, mailed, activationUrl } = await deliver(deps, repo, target, user, call);
  const now = deps.clock.now().toISOString();
  const state: InviteState = { ...target.state, status: 'pending', sendCount: target.state.sendCount + 1, lastSentAt: now };
  if (activation) {
    state.expiresAt = activation.expiresAt.toISOString();
  } else {
    delete state.expiresAt;
  }
  const updated = await updateResource(repo, withInviteState(target.membership, state), { ifMatch: target.membership.meta?.versionId, skipValidation: true });
  await countResend(deps, session, call.membershipId, recent);
  const values: ResendValues = { membership: presentInviteStatus(updated.resource, deps.clock.now()), emailStatus: mailed ? 'queued' : 'not-sent' };
  return { status: 200, body: values, secret: activationUrl };
}

/** A concurrent change got in first (not a decided refusal, and not an unknown commit, which may have landed). */
function retryable(err: unknown): boolean {
  if (err instanceof InviteRefusal) {
    return false;
  }
  return err instanceof DuplicateKeyError || (err instanceof FhirError && err.code === 'FST_PRECONDITION');
}

/**
 * Runs a resend: 404/403 unless the caller administers the membership's project, then (one at a
 * time per membership in this process) replays a stored Idempotency-Key answer or runs the
 * transaction, again when a concurrent change to the membership got in first.
 */
export async function resendInvite(deps: InviteDeps, call: ResendCall): Promise<ResendOutcome> {
  await authorizeLifecycle(deps, call.caller, call.membershipId);
  return deps.lock.run(`invite-lifecycle:${call.membershipId}`, async () => {
    for (let attempt = 1; ; attempt++) {
      if (call.idempotency) {
        const stored = await findAnswer(deps, call.idempotency.key, call.idempotency.fingerprint);
        if (stored) {
          return { answer: stored, replayed: true };
        }
      }
      try {
        const answer = await withTransaction(deps.database, async (session) => {
          const result = await resendInSession(deps, session, call);
          if (call.idempotency) {
            await storeAnswer(deps, session, call.idempotency.key, call.idempotency.fingerprint, result);
          }
          return result;
        });
        return { answer, replayed: false };
      } catch (err) {
        if (attempt < MAX_ATTEMPTS && retryable(err)) {
          continue;
        }
        if (err instanceof AmbiguousCommitError) {
          throw new FhirError('FST_UNAVAILABLE', 'The database did not confirm the resend; read the membership again before retrying (or retry with the same Idempotency-Key)');
        }
        throw err;
      }
    }
  });
}
