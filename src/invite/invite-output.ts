import type { AuthContext } from '../accounts/auth-context';
import { KeyedLock } from '../db/keyed-lock';
import { fingerprint, idempotencyKey, type StoredAnswer } from './idempotency';
import type { InviteRequest } from './invite-request';
import { runInvite, type InviteDeps, type InviteOutcome, type InviteResult } from './invite-service';
import { loadInviteTemplates } from './invite-templates';

/**
 * The invite as its two routes call it (POST /fhir/R4/Project/{id}/$invite and POST
 * /admin/projects/{id}/invite): the app's invite dependencies, the call with its
 * Idempotency-Key, and the answer each form stores.
 */

/** The invite dependencies of one app: one lock, shared by both forms (invites of one person run one at a time). */
export function createInviteDeps(deps: Omit<InviteDeps, 'templates' | 'lock'>): InviteDeps {
  return { ...deps, templates: loadInviteTemplates(), lock: new KeyedLock() };
}

export interface InviteCallInput {
  caller: AuthContext;
  projectId: string;
  /** The Idempotency-Key header as received (absent, or 1 to 255 printable characters; 400 otherwise). */
  idempotencyHeader: unknown;
  form: 'operation' | 'admin';
  request: InviteRequest;
  answer: (result: InviteResult) => StoredAnswer;
}

/** Runs an invite for a caller, with its Idempotency-Key (scoped to the caller, the form and the request). */
export async function inviteForCaller(deps: InviteDeps, call: InviteCallInput): Promise<InviteOutcome> {
  const { caller, projectId, form, request } = call;
  const key = idempotencyKey(call.idempotencyHeader, `${caller.userType}/${caller.userId}`);
  const idempotency = key ? { key, fingerprint: fingerprint(key, { form, projectId, request }) } : undefined;
  return runInvite(deps, { caller, projectId, request, idempotency, answer: call.answer });
}

/** 201 when a membership was created, 200 when an existing one was updated (upsert). */
const statusOf = (result: InviteResult): number => (result.membershipCreated ? 201 : 200);

/**
 * The $invite answer, kept as the named output values; the activation link (a secret) is kept
 * apart so that it is never stored in the clear (see idempotency.ts).
 */
export function operationAnswer(result: InviteResult): StoredAnswer {
  const values = {
    membership: result.membership,
    profile: result.profile,
    user: { reference: `User/${result.user.id}`, display: result.user.email ?? `${result.user.firstName} ${result.user.lastName}` },
    emailStatus: result.emailStatus,
  };
  return { status: statusOf(result), body: values, secret: result.activationUrl };
}

/** POST /admin/projects/{id}/invite answers the ProjectMembership itself. */
export function adminAnswer(result: InviteResult): StoredAnswer {
  return { status: statusOf(result), body: result.membership };
}
