import QRCode from 'qrcode';
import type { User } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import type { KeyedLock } from '../db/keyed-lock';
import { withTransaction } from '../db/transaction';
import { badRequest, forbidden } from '../errors';
import { readStored } from '../fhir/repository';
import { loadLoginForStep, reserveAttempt, refundAttempt, wrongCode } from './mfa-attempts';
import { readUserCredentials } from './mfa-credentials';
import { recordAccountFailure, refundAccountAttempt, reserveAccountAttempt, type MfaCheck } from './mfa-lockout';
import { confirmEnrollment, consumeStep, ensurePendingSecret, isEnrolled, removeEnrollment } from './mfa-store';
import { isTotpInWindow, matchTotp, totpUri } from './totp';

export interface MfaServiceDeps {
  database: Database;
  clock: Clock;
  /** Serializes MFA changes per user in this process (the embedded engine misses write conflicts). */
  lock: KeyedLock;
  /** Where wrong codes and lockouts are logged (warn, no secrets). */
  log?: FastifyBaseLogger;
}

/** What a new enrollment shows: the otpauth URI (it carries the pending secret) and its QR code. */
export interface EnrollmentOffer {
  enrollUri: string;
  enrollQrCode: string;
}

async function readUser(deps: MfaServiceDeps, userId: string): Promise<User> {
  const stored = await readStored<User>({ database: deps.database, clock: deps.clock }, 'User', userId);
  if (!stored || stored.deleted) {
    throw badRequest('This account no longer exists');
  }
  return stored.resource;
}

/** The pending secret's URI and QR code (a data URL), creating the pending secret if needed. */
export async function enrollmentOffer(deps: Pick<MfaServiceDeps, 'database' | 'clock'>, user: User): Promise<EnrollmentOffer> {
  const secret = await ensurePendingSecret(deps, user.id as string);
  const enrollUri = totpUri(secret, user.email ?? (user.id as string));
  return { enrollUri, enrollQrCode: await QRCode.toDataURL(enrollUri) };
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
 * account's (mfa-lockout.ts), each reserved before the code is looked at. A wrong (or replayed)
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
    const before = await readUserCredentials(deps.database, login.userId);
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
    const credentials = await readUserCredentials(deps.database, login.userId);
    if (!isEnrolled(credentials)) {
      throw badRequest('MFA is not set up for this account yet: finish enrollment first (/auth/mfa/login-enroll)', 'login');
    }
    const code = { userId: login.userId, loginId, pending: true, check: 'verify' as const };
    const { step, attemptId } = await checkCode(deps, code, credentials.mfaSecret, token, credentials.mfaLastStep);
    await withTransaction(deps.database, async (session) => {
      await consumeStep(deps, session, login.userId, credentials.mfaSecret, step);
      await refundAttempt(deps, session, loginId, true);
      await refundAccountAttempt(deps, session, login.userId, attemptId);
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
  if (isEnrolled(await readUserCredentials(deps.database, caller.userId))) {
    return { enrolled: true, enrolledMethods: ['totp'], ...common };
  }
  return { enrolled: false, enrolledMethods: [], ...common, ...(await enrollmentOffer(deps, user)) };
}

/** POST /auth/mfa/enroll: a signed-in user confirms the pending secret from /auth/mfa/status. */
export async function enrollSignedIn(deps: MfaServiceDeps, caller: MfaCaller, token: string): Promise<void> {
  requireUser(caller);
  await deps.lock.run(`mfa:${caller.userId}`, async () => {
    const before = await readUserCredentials(deps.database, caller.userId);
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
    const credentials = await readUserCredentials(deps.database, caller.userId);
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
