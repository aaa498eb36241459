import type { ClientSession } from 'mongodb';
import type { User } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { KeyedLock } from '../db/keyed-lock';
import type { Store } from '../db/store';
import { withTransaction } from '../db/transaction';
import { badRequest, forbidden } from '../errors';
import type { AuditTrail } from '../audit/trail';
import type { ChangeListener } from '../fhir/changes';
import { readStored, updateResource, type RepoContext } from '../fhir/repository';
import { confirmTotpSecret, offerTotpSecret, readCredentials, removeTotpSecret, useTotpStep, type CredentialsDoc } from './credentials';
import { loadLoginForStep, recordAccountFailure, refundAccountAttempt, refundAttempt, reserveAccountAttempt, reserveAttempt, wrongCode, type MfaCheck } from './mfa-attempts';
import type { LoginDoc } from './sessions';
import { generateTotpSecret, isTotpInWindow, matchTotp, totpUri } from './totp';

/**
 * TOTP multi-factor authentication: the gate after a correct password, enrollment (during a
 * sign-in or signed in), the code step, status and turning it off. Every change of the MFA state
 * is a guarded write of the credentials (credentials.ts): a TOTP step is accepted only when it is
 * later than the last accepted one (no code works twice), and enrolling or disabling only applies
 * to the state it was checked against. The limits on wrong codes are in mfa-attempts.ts.
 */

/**
 * The MFA step after a correct password. Answers the response body of that step, or undefined
 * when no MFA step is needed and the sign-in continues to the code:
 * - enrolled (a confirmed TOTP secret) → `{ login, mfaRequired: true }`, finished by /auth/mfa/verify;
 * - `User.mfaRequired` (or `mfaEnrolled` without a stored secret) but not enrolled →
 *   `{ login, mfaEnrollRequired: true, enrollUri, enrollQrCode }`
 *   (the only response that carries the pending secret), finished by /auth/mfa/login-enroll.
 * `credentials` is the account's credentials document as the sign-in read it (read once per sign-in).
 * The login document is already stored when this runs; the caller marks it `mfaRequired` when a
 * body is returned, and `continueLogin` (login.ts) refuses to issue a code until `mfaVerified`.
 * `required`: MFA is demanded by the chosen membership (memberships.ts), not by the User.
 */
export async function mfaGate(
  store: Store,
  login: LoginDoc,
  user: User,
  credentials: CredentialsDoc | undefined,
  required = false,
): Promise<Record<string, unknown> | undefined> {
  if (login.userType !== 'User' || !user.id) {
    return undefined;
  }
  if (isEnrolled(credentials)) {
    return { login: login._id, mfaRequired: true };
  }
  // A User marked enrolled without a stored secret (e.g. imported) fails closed: it must enroll.
  if (required || user.mfaRequired || user.mfaEnrolled) {
    return { login: login._id, mfaEnrollRequired: true, ...(await enrollmentOffer(store, user)) };
  }
  return undefined;
}

/** Whether the user has confirmed a TOTP secret (the credentials are the source of truth). */
export function isEnrolled(credentials: CredentialsDoc | undefined): credentials is CredentialsDoc & { mfaSecret: string } {
  return typeof credentials?.mfaSecret === 'string' && credentials.mfaSecret !== '';
}

/**
 * The secret offered for enrollment: the pending one when there is one (so a code from an app
 * that already scanned it keeps working), else a new one. Race-safe: one secret wins.
 */
export async function ensurePendingSecret(deps: Store, userId: string): Promise<string> {
  const existing = await readCredentials(deps.database, userId);
  if (existing?.mfaPendingSecret) {
    return existing.mfaPendingSecret;
  }
  await offerTotpSecret(deps.database, userId, generateTotpSecret());
  const stored = await readCredentials(deps.database, userId);
  if (!stored?.mfaPendingSecret) {
    throw new Error('pending MFA secret was not stored');
  }
  return stored.mfaPendingSecret;
}

async function setUserEnrolled(deps: Store & { listeners?: readonly ChangeListener[] }, session: ClientSession, userId: string, enrolled: boolean): Promise<void> {
  const repo: RepoContext = { database: deps.database, clock: deps.clock, session, listeners: deps.listeners, actor: { principal: { reference: `User/${userId}` } }, operation: 'account' };
  const stored = await readStored<User>(repo, 'User', userId);
  if (!stored || stored.deleted) {
    throw badRequest('This account no longer exists');
  }
  if (Boolean(stored.resource.mfaEnrolled) !== enrolled) {
    await updateResource(repo, { ...stored.resource, mfaEnrolled: enrolled }, { skipValidation: true, author: { reference: `User/${userId}` } });
  }
}

/**
 * Confirms the pending secret with a code of time step `step`: it becomes the MFA secret and the
 * User is marked enrolled, in the caller's transaction. 400 when the state changed meanwhile.
 */
export async function confirmEnrollment(deps: MfaServiceDeps, session: ClientSession, userId: string, secret: string, step: number): Promise<void> {
  if (!(await confirmTotpSecret(deps.database, session, userId, secret, step, deps.clock.now()))) {
    throw badRequest('This code was already used, or MFA is already set up for this account', 'token');
  }
  await setUserEnrolled(deps, session, userId, true);
}

/** Records that the code of time step `step` was used; 400 when it (or a later one) already was. */
export async function consumeStep(deps: Store, session: ClientSession, userId: string, secret: string, step: number): Promise<void> {
  if (!(await useTotpStep(deps.database, session, userId, secret, step))) {
    throw badRequest('This code was already used: wait for the next code in your authenticator app', 'token');
  }
}

/** Removes the MFA secret (after a valid code of step `step`) and marks the User not enrolled. */
export async function removeEnrollment(deps: MfaServiceDeps, session: ClientSession, userId: string, secret: string, step: number): Promise<void> {
  if (!(await removeTotpSecret(deps.database, session, userId, secret, step))) {
    throw badRequest('This code was already used: wait for the next code in your authenticator app', 'token');
  }
  await setUserEnrolled(deps, session, userId, false);
}

export interface MfaServiceDeps extends Store {
  /** Serializes MFA changes per user in this process (the embedded engine misses write conflicts). */
  lock: KeyedLock;
  /** Where wrong codes and lockouts are logged (warn, no secrets). */
  log?: FastifyBaseLogger;
  /** The repository's change listeners (the User's mfaEnrolled changes). */
  listeners?: readonly ChangeListener[];
  /** The audit trail (a verified code; wrong codes and lockouts through mfa-attempts.ts). */
  audit?: AuditTrail;
}

/** What a new enrollment shows: the otpauth URI (it carries the pending secret) and its QR code. */
export interface EnrollmentOffer {
  enrollUri: string;
  enrollQrCode: string;
}

async function readUser(deps: MfaServiceDeps, userId: string): Promise<User> {
  const stored = await readStored<User>(deps, 'User', userId);
  if (!stored || stored.deleted) {
    throw badRequest('This account no longer exists');
  }
  return stored.resource;
}

/** The pending secret's URI and QR code (a data URL), creating the pending secret if needed. */
export async function enrollmentOffer(deps: Store, user: User): Promise<EnrollmentOffer> {
  const secret = await ensurePendingSecret(deps, user.id as string);
  const enrollUri = totpUri(secret, user.email ?? (user.id as string));
  return { enrollUri, enrollQrCode: await (await import('qrcode')).toDataURL(enrollUri) };
}

interface CodeCheck {
  userId: string;
  loginId: string;
  /** Only sign-ins still waiting for their code step (login-enroll, verify). */
  pending: boolean;
  check: MfaCheck;
}

/**
 * Checks a code against a secret under both limits: the sign-in's (mfa-attempts.ts) and the
 * account's (mfa-attempts.ts), each reserved before the code is looked at. A wrong (or replayed)
 * code keeps both reservations, is recorded, and throws the 400; a right one answers its time
 * step and the account attempt to give back in the transaction that accepts it.
 */
async function checkCode(deps: MfaServiceDeps, code: CodeCheck, secret: string, token: string, lastStep: number | undefined): Promise<{ step: number; attemptId: string }> {
  const reserved = await reserveAttempt(deps, code.loginId, code.pending);
  const attemptId = await reserveAccountAttempt(deps, code.userId);
  const now = deps.clock.now();
  const step = matchTotp(secret, token, now, lastStep);
  if (step === undefined) {
    const accountLeft = await recordAccountFailure(deps, { userId: code.userId, attemptId, check: code.check, loginId: code.loginId, remoteAddress: reserved.remoteAddress });
    throw wrongCode(reserved, isTotpInWindow(secret, token, now), accountLeft);
  }
  return { step, attemptId };
}

/**
 * POST /auth/mfa/login-enroll: a user who must enroll confirms the pending secret with a code
 * during sign-in. The caller then continues the sign-in (continueLogin).
 */
export async function loginEnroll(deps: MfaServiceDeps, loginId: string, token: string): Promise<void> {
  const login = await loadLoginForStep(deps, loginId);
  await deps.lock.run(`mfa:${login.userId}`, async () => {
    const before = await readCredentials(deps.database, login.userId);
    if (isEnrolled(before)) {
      throw badRequest('MFA is already set up for this account: enter the code from your authenticator app instead (/auth/mfa/verify)', 'login');
    }
    if (!before?.mfaPendingSecret) {
      throw badRequest('No enrollment is in progress for this account: sign in again to get a new QR code', 'login');
    }
    const secret = before.mfaPendingSecret;
    const { step, attemptId } = await checkCode(deps, { userId: login.userId, loginId, pending: true, check: 'login-enroll' }, secret, token, before.mfaLastStep);
    await withTransaction(deps.database, async (session) => {
      await confirmEnrollment(deps, session, login.userId, secret, step);
      await refundAttempt(deps, session, loginId, true);
      await refundAccountAttempt(deps, session, login.userId, attemptId);
    });
  });
}

/** POST /auth/mfa/verify: an enrolled user's code during sign-in. */
export async function loginVerify(deps: MfaServiceDeps, loginId: string, token: string): Promise<void> {
  const login = await loadLoginForStep(deps, loginId);
  await deps.lock.run(`mfa:${login.userId}`, async () => {
    const credentials = await readCredentials(deps.database, login.userId);
    if (!isEnrolled(credentials)) {
      throw badRequest('MFA is not set up for this account yet: finish enrollment first (/auth/mfa/login-enroll)', 'login');
    }
    const code = { userId: login.userId, loginId, pending: true, check: 'verify' as const };
    const { step, attemptId } = await checkCode(deps, code, credentials.mfaSecret, token, credentials.mfaLastStep);
    await withTransaction(deps.database, async (session) => {
      await consumeStep(deps, session, login.userId, credentials.mfaSecret, step);
      await refundAttempt(deps, session, loginId, true);
      await refundAccountAttempt(deps, session, login.userId, attemptId);
      await deps.audit?.write(session, { kind: 'mfa-verified', actor: { principal: { reference: `User/${login.userId}` } }, project: login.projectId, address: login.remoteAddress });
    });
  });
}

/** Who is signed in, for the signed-in MFA endpoints. */
export interface MfaCaller {
  userId: string;
  userType: 'User' | 'ClientApplication';
  loginId: string;
}

function requireUser(caller: MfaCaller): void {
  if (caller.userType !== 'User') {
    throw forbidden('MFA applies to user accounts, not to client applications');
  }
}

/**
 * GET /auth/mfa/status, in the field names of Medplum's server: `enrolled`, `enrolledMethods`,
 * `allowedMethods` (TOTP only here) and, when not enrolled, the pending secret's `enrollUri` and
 * `enrollQrCode`. Plus `mfaRequired`: MFA is mandatory for this account (`User.mfaRequired`), so
 * every sign-in asks for a code (or enrollment) and it cannot be turned off (see disableSignedIn).
 */
export type MfaStatus = { mfaRequired: boolean; enrolledMethods: 'totp'[]; allowedMethods: 'totp'[] } & ({ enrolled: true } | ({ enrolled: false } & EnrollmentOffer));

/** Whether MFA is mandatory for the user: it cannot be turned off, and sign-ins need a code. */
export function mfaRequiredFor(user: User): boolean {
  return user.mfaRequired === true;
}

/** GET /auth/mfa/status: enrolled, or not enrolled with a pending secret's URI and QR code. */
export async function mfaStatus(deps: MfaServiceDeps, caller: MfaCaller): Promise<MfaStatus> {
  requireUser(caller);
  const user = await readUser(deps, caller.userId);
  const common = { mfaRequired: mfaRequiredFor(user), allowedMethods: ['totp' as const] };
  if (isEnrolled(await readCredentials(deps.database, caller.userId))) {
    return { enrolled: true, enrolledMethods: ['totp'], ...common };
  }
  return { enrolled: false, enrolledMethods: [], ...common, ...(await enrollmentOffer(deps, user)) };
}

/** POST /auth/mfa/enroll: a signed-in user confirms the pending secret from /auth/mfa/status. */
export async function enrollSignedIn(deps: MfaServiceDeps, caller: MfaCaller, token: string): Promise<void> {
  requireUser(caller);
  await deps.lock.run(`mfa:${caller.userId}`, async () => {
    const before = await readCredentials(deps.database, caller.userId);
    if (isEnrolled(before)) {
      throw badRequest('MFA is already set up for this account');
    }
    if (!before?.mfaPendingSecret) {
      throw badRequest('Open the MFA status (GET /auth/mfa/status) first to get the QR code to scan', 'token');
    }
    const secret = before.mfaPendingSecret;
    const code = { userId: caller.userId, loginId: caller.loginId, pending: false, check: 'enroll' as const };
    const { step, attemptId } = await checkCode(deps, code, secret, token, before.mfaLastStep);
    await withTransaction(deps.database, async (session) => {
      await confirmEnrollment(deps, session, caller.userId, secret, step);
      await refundAttempt(deps, session, caller.loginId, false);
      await refundAccountAttempt(deps, session, caller.userId, attemptId);
    });
  });
}

/** POST /auth/mfa/disable: needs a valid code; refused (403) while MFA is required for the user. */
export async function disableSignedIn(deps: MfaServiceDeps, caller: MfaCaller, token: string): Promise<void> {
  requireUser(caller);
  const user = await readUser(deps, caller.userId);
  if (mfaRequiredFor(user)) {
    throw forbidden('MFA is required for this account: it cannot be turned off (ask your administrator)');
  }
  await deps.lock.run(`mfa:${caller.userId}`, async () => {
    const credentials = await readCredentials(deps.database, caller.userId);
    if (!isEnrolled(credentials)) {
      throw badRequest('MFA is not set up for this account');
    }
    const code = { userId: caller.userId, loginId: caller.loginId, pending: false, check: 'disable' as const };
    const { step, attemptId } = await checkCode(deps, code, credentials.mfaSecret, token, credentials.mfaLastStep);
    await withTransaction(deps.database, async (session) => {
      await removeEnrollment(deps, session, caller.userId, credentials.mfaSecret, step);
      await refundAttempt(deps, session, caller.loginId, false);
      await refundAccountAttempt(deps, session, caller.userId, attemptId);
    });
  });
}
