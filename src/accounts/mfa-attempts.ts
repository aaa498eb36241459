import type { AuditTrail } from '../audit/trail';
import type { ClientSession, Filter } from 'mongodb';
import type { FastifyBaseLogger } from 'fastify';
import { newId } from '../clock';
import type { Store } from '../db/store';
import { badRequest, FhirError, tooManyRequests } from '../errors';
import { readCredentials, setMfaAttempts, writeMfaGuard, type CredentialsDoc, type MfaAttempt, type MfaGuard } from './credentials';
import { PENDING_LOGIN_TTL_MS, readLogin, recordSecurityEvent, updateLogin, type LoginDoc } from './sessions';

/**
 * The limits on TOTP codes: per sign-in (5 wrong codes end its code step) and per account
 * (10 wrong codes in a sliding 15 minutes lock the account's code step, escalating).
 */

// --- Per sign-in ------------------------------------------------------------------------------------

/** After this many wrong codes a login accepts no more codes, ever (sign in again). */
export const MAX_MFA_FAILURES = 5;

const UNDER_LIMIT: Filter<LoginDoc> = { $or: [{ mfaFailures: { $exists: false } }, { mfaFailures: { $lt: MAX_MFA_FAILURES } }] };

export function lockedOut(): FhirError {
  return tooManyRequests(60, 'Too many wrong codes: this sign-in is locked. Sign in again with your password to get a new one');
}

/** Why a sign-in (from /auth/login) cannot take a code now, or undefined when it can. */
export function loginStepProblem(login: LoginDoc | undefined, now: Date): FhirError | undefined {
  if (!login || login.userType !== 'User') {
    return badRequest('This sign-in was not found: sign in again', 'login');
  }
  if ((login.mfaFailures ?? 0) >= MAX_MFA_FAILURES) {
    return lockedOut();
  }
  if (login.revoked) {
    return badRequest('This sign-in was ended: sign in again', 'login');
  }
  if (login.granted || login.mfaVerified) {
    return badRequest('This sign-in already passed the code step: sign in again if needed', 'login');
  }
  if (!login.mfaRequired) {
    return badRequest('This sign-in does not need a code', 'login');
  }
  const started = (login.createdAt ?? login.authTime).getTime();
  if (now.getTime() - started > PENDING_LOGIN_TTL_MS || (login.expiresAt && login.expiresAt.getTime() <= now.getTime())) {
    return badRequest('This sign-in has expired: sign in again with your password', 'login');
  }
  return undefined;
}

/** Reads a sign-in and throws unless it may take a code now. */
export async function loadLoginForStep(deps: Store, loginId: string): Promise<LoginDoc> {
  const login = await readLogin(deps.database, loginId);
  const problem = loginStepProblem(login, deps.clock.now());
  if (problem) {
    throw problem;
  }
  return login as LoginDoc;
}

/**
 * Counts one attempt against the login before the code is checked (so concurrent guesses cannot
 * exceed the limit); a correct code gives it back with `refundAttempt`. Throws 429 once the login
 * has used all its attempts. `pending` restricts to sign-ins still waiting for their code step.
 */
export async function reserveAttempt(deps: Store, loginId: string, pending: boolean): Promise<LoginDoc> {
  const filter: Filter<LoginDoc> = pending ? { ...UNDER_LIMIT, revoked: false, granted: false, mfaVerified: false } : { ...UNDER_LIMIT, revoked: false };
  const reserved = await updateLogin(deps.database, loginId, { inc: { mfaFailures: 1 }, filter, now: deps.clock.now() });
  if (reserved) {
    return reserved;
  }
  const login = await readLogin(deps.database, loginId);
  if (login && (login.mfaFailures ?? 0) >= MAX_MFA_FAILURES) {
    throw lockedOut();
  }
  throw badRequest('This sign-in cannot take a code any more: sign in again', 'login');
}

/** Gives back the attempt a correct code reserved, and optionally marks the login verified. */
export async function refundAttempt(deps: Store, session: ClientSession, loginId: string, verified: boolean): Promise<void> {
  const updated = await updateLogin(deps.database, loginId, {
    inc: { mfaFailures: -1 },
    set: verified ? { mfaVerified: true } : undefined,
    filter: verified ? { revoked: false, granted: false, mfaVerified: false } : { revoked: false },
    session,
    now: deps.clock.now(),
  });
  if (!updated) {
    throw badRequest('This sign-in changed meanwhile: sign in again', 'login');
  }
}

/**
 * The 400 for a wrong code, telling how many tries are left: the fewer of the sign-in's and (when
 * given) the account's (see below).
 */
export function wrongCode(login: LoginDoc, replay: boolean, accountLeft = Infinity): FhirError {
  if (replay) {
    return badRequest('This code was already used: wait for the next code in your authenticator app', 'token');
  }
  const loginLeft = Math.max(0, MAX_MFA_FAILURES - (login.mfaFailures ?? 0));
  const left = Math.min(loginLeft, accountLeft);
  const none = accountLeft <= loginLeft ? 'No tries left: codes for this account are refused for a while' : 'No tries left: sign in again with your password';
  const tail = left === 0 ? none : `${left} ${left === 1 ? 'try' : 'tries'} left`;
  return badRequest(`The code is not correct: enter the 6-digit code your authenticator app shows now (${tail})`, 'token');
}

// --- Per account -------------------------------------------------------------------------------------

/** What the account limit needs: the store and where wrong codes are logged (warn, no secrets). */
export interface LockoutDeps extends Store {
  log?: FastifyBaseLogger;
  /** The audit trail: each wrong code (mfa-failed) and lockout (mfa-locked), without waiting. */
  audit?: AuditTrail;
}

/**
 * The per-ACCOUNT limit on TOTP codes, across every sign-in and session of the user (the per-login
 * limit above alone let a guesser sign in again and again):
 * - at most ACCOUNT_MFA_MAX_FAILURES wrong codes within any ACCOUNT_MFA_WINDOW_MS (a sliding window);
 * - the failure that reaches the limit locks the account's code step for ACCOUNT_MFA_LOCKOUT_MS,
 *   doubled for every earlier lockout within ACCOUNT_MFA_ESCALATION_MS, at most
 *   ACCOUNT_MFA_MAX_LOCKOUT_MS: while locked, every code (even the right one) is refused with 429.
 * Every code check reserves an attempt first (a version-guarded write, so parallel guesses on
 * several instances cannot pass the limit together); a right code gives it back in its transaction.
 * Each failure and each lockout is stored in the security trail and logged at warn (no code, no secret).
 */
export const ACCOUNT_MFA_MAX_FAILURES = 10;
export const ACCOUNT_MFA_WINDOW_MS = 15 * 60_000;
export const ACCOUNT_MFA_LOCKOUT_MS = 15 * 60_000;
export const ACCOUNT_MFA_ESCALATION_MS = 24 * 60 * 60_000;
export const ACCOUNT_MFA_MAX_LOCKOUT_MS = 24 * 60 * 60_000;

/** How many times a guarded write is retried when another request changed the state meanwhile. */
const MAX_WRITE_ATTEMPTS = 50;

/** Which endpoint checked the code (kept in the trail). */
export type MfaCheck = 'verify' | 'login-enroll' | 'enroll' | 'disable';

function stateOf(credentials: CredentialsDoc, now: Date): MfaGuard {
  const t = now.getTime();
  return {
    version: credentials.mfaGuardVersion ?? 0,
    attempts: (credentials.mfaAttempts ?? []).filter((a) => t - a.at.getTime() < ACCOUNT_MFA_WINDOW_MS),
    lockouts: (credentials.mfaLockouts ?? []).filter((at) => t - at.getTime() < ACCOUNT_MFA_ESCALATION_MS),
    lockedUntil: credentials.mfaLockedUntil && credentials.mfaLockedUntil.getTime() > t ? credentials.mfaLockedUntil : undefined,
  };
}

/** Milliseconds until a code may be tried again (0: now). */
function waitMs(state: MfaGuard, now: Date): number {
  const t = now.getTime();
  const locked = state.lockedUntil ? state.lockedUntil.getTime() - t : 0;
  const full = state.attempts.length >= ACCOUNT_MFA_MAX_FAILURES ? state.attempts[0].at.getTime() + ACCOUNT_MFA_WINDOW_MS - t : 0;
  return Math.max(0, locked, full);
}

/** The lock a new lockout gets: doubled for each earlier one in the escalation period. */
export function lockoutMs(earlierLockouts: number): number {
  return Math.min(ACCOUNT_MFA_MAX_LOCKOUT_MS, ACCOUNT_MFA_LOCKOUT_MS * 2 ** Math.min(earlierLockouts, 16));
}

function accountLocked(ms: number): FhirError {
  const minutes = Math.max(1, Math.ceil(ms / 60_000));
  return tooManyRequests(
    ms / 1000,
    `Too many wrong codes for this account: codes are refused for ${minutes} more minute${minutes === 1 ? '' : 's'}. ` +
      'If you did not try these codes, someone knows your password: change it',
  );
}

async function readGuarded(deps: LockoutDeps, userId: string): Promise<CredentialsDoc> {
  const credentials = await readCredentials(deps.database, userId);
  if (!credentials) {
    throw badRequest('This account no longer exists');
  }
  return credentials;
}

function busy(): FhirError {
  const err = new FhirError('FST_UNAVAILABLE', 'Too many codes are being checked for this account at once: try again in a moment');
  err.headers = { 'retry-after': '1' };
  return err;
}

/**
 * Reserves one code check of the account, before the code is looked at; throws 429 while the
 * account is locked or its window is full. Answers the attempt's id (give it back with
 * `refundAccountAttempt` when the code is right).
 */
export async function reserveAccountAttempt(deps: LockoutDeps, userId: string): Promise<string> {
  for (let i = 0; i < MAX_WRITE_ATTEMPTS; i++) {
    const now = deps.clock.now();
    const state = stateOf(await readGuarded(deps, userId), now);
    const wait = waitMs(state, now);
    if (wait > 0) {
      throw accountLocked(wait);
    }
    const attempt: MfaAttempt = { id: newId(), at: now };
    if (await writeMfaGuard(deps.database, userId, { ...state, attempts: [...state.attempts, attempt] })) {
      return attempt.id;
    }
  }
  throw busy();
}

/** Gives back the attempt of a right code, in the transaction that accepts the code. */
export async function refundAccountAttempt(deps: LockoutDeps, session: ClientSession, userId: string, attemptId: string): Promise<void> {
  const credentials = await readCredentials(deps.database, userId, session);
  const attempts = credentials?.mfaAttempts ?? [];
  if (!credentials || !attempts.some((a) => a.id === attemptId)) {
    return;
  }
  await setMfaAttempts(deps.database, session, userId, credentials.mfaGuardVersion ?? 0, attempts.filter((a) => a.id !== attemptId));
}

export interface FailureContext {
  userId: string;
  attemptId: string;
  check: MfaCheck;
  loginId?: string;
  remoteAddress?: string;
}

/**
 * A wrong code: its reserved attempt stays counted. When it fills the window, the account is
 * locked (see the module comment). Stores the failure (and the lockout) in the security trail,
 * logs at warn, and answers how many more wrong codes the account may take now.
 */
export async function recordAccountFailure(deps: LockoutDeps, failure: FailureContext): Promise<number> {
  let lockedUntil: Date | undefined;
  let failures = 0;
  let now = deps.clock.now();
  for (let i = 0; i < MAX_WRITE_ATTEMPTS; i++) {
    now = deps.clock.now();
    const state = stateOf(await readGuarded(deps, failure.userId), now);
    failures = state.attempts.length;
    if (failures < ACCOUNT_MFA_MAX_FAILURES || state.lockedUntil) {
      break;
    }
    const until = new Date(now.getTime() + lockoutMs(state.lockouts.length));
    if (await writeMfaGuard(deps.database, failure.userId, { ...state, lockouts: [...state.lockouts, now], lockedUntil: until })) {
      lockedUntil = until;
      break;
    }
  }
  const where = { userId: failure.userId, loginId: failure.loginId, check: failure.check };
  deps.log?.warn({ ...where, failures }, 'wrong MFA code');
  await recordSecurityEvent(deps.database, { type: 'mfa-failure', at: now, ...trail(failure), failures });
  const audited = { actor: { principal: { reference: `User/${failure.userId}` } }, address: failure.remoteAddress, outcome: '4' as const };
  deps.audit?.record({ ...audited, kind: 'mfa-failed', outcomeDesc: `wrong-code (${failure.check}), ${failures} in the window` });
  if (lockedUntil) {
    deps.audit?.record({ ...audited, kind: 'mfa-locked', outcomeDesc: `locked until ${lockedUntil.toISOString()}` });
    deps.log?.warn({ ...where, lockedUntil: lockedUntil.toISOString() }, 'too many wrong MFA codes: the account code step is locked');
    await recordSecurityEvent(deps.database, { type: 'mfa-lockout', at: now, ...trail(failure), failures, lockedUntil });
  }
  return Math.max(0, ACCOUNT_MFA_MAX_FAILURES - failures);
}

function trail(failure: FailureContext): { userId: string; step: MfaCheck; loginId?: string; remoteAddress?: string } {
  return {
    userId: failure.userId,
    step: failure.check,
    ...(failure.loginId ? { loginId: failure.loginId } : {}),
    ...(failure.remoteAddress ? { remoteAddress: failure.remoteAddress } : {}),
  };
}
