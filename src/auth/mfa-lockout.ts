import type { FastifyBaseLogger } from 'fastify';
import type { ClientSession, Filter } from 'mongodb';
import { newId, type Clock } from '../clock';
import type { Database } from '../db/database';
import { withWriteLock } from '../db/transaction';
import { badRequest, FhirError, tooManyRequests } from '../errors';
import { credentialsCollection, readUserCredentials, type MfaAttempt, type UserCredentials } from './mfa-credentials';
import { recordSecurityEvent } from './security-events';

/**
 * The per-ACCOUNT limit on TOTP codes, across every sign-in and session of the user (the per-login
 * limit of mfa-attempts.ts alone let a guesser sign in again and again):
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

export interface LockoutDeps {
  database: Database;
  clock: Clock;
  log?: FastifyBaseLogger;
}

/** Which endpoint checked the code (kept in the trail). */
export type MfaCheck = 'verify' | 'login-enroll' | 'enroll' | 'disable';

interface GuardState {
  version: number;
  attempts: MfaAttempt[];
  lockouts: Date[];
  lockedUntil?: Date;
}

function stateOf(credentials: UserCredentials, now: Date): GuardState {
  const t = now.getTime();
  return {
    version: credentials.mfaGuardVersion ?? 0,
    attempts: (credentials.mfaAttempts ?? []).filter((a) => t - a.at.getTime() < ACCOUNT_MFA_WINDOW_MS),
    lockouts: (credentials.mfaLockouts ?? []).filter((at) => t - at.getTime() < ACCOUNT_MFA_ESCALATION_MS),
    lockedUntil: credentials.mfaLockedUntil && credentials.mfaLockedUntil.getTime() > t ? credentials.mfaLockedUntil : undefined,
  };
}

/** Milliseconds until a code may be tried again (0: now). */
function waitMs(state: GuardState, now: Date): number {
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

function guard(userId: string, version: number): Filter<UserCredentials> {
  return version === 0 ? { _id: userId, mfaGuardVersion: { $exists: false } } : { _id: userId, mfaGuardVersion: version };
}

/** A version-guarded write of the guard fields (a plain write: waits for transactions, see withWriteLock). */
async function writeGuard(deps: LockoutDeps, userId: string, state: GuardState, lockedUntil = state.lockedUntil): Promise<boolean> {
  const set: Partial<UserCredentials> = { mfaGuardVersion: state.version + 1, mfaAttempts: state.attempts, mfaLockouts: state.lockouts };
  const update = lockedUntil ? { $set: { ...set, mfaLockedUntil: lockedUntil } } : { $set: set, $unset: { mfaLockedUntil: '' as const } };
  const result = await withWriteLock(deps.database, () => credentialsCollection(deps.database).updateOne(guard(userId, state.version), update));
  return result.matchedCount === 1;
}

async function readGuarded(deps: LockoutDeps, userId: string): Promise<UserCredentials> {
  const credentials = await readUserCredentials(deps.database, userId);
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
    if (await writeGuard(deps, userId, { ...state, attempts: [...state.attempts, attempt] })) {
      return attempt.id;
    }
  }
  throw busy();
}

/** Gives back the attempt of a right code, in the transaction that accepts the code. */
export async function refundAccountAttempt(deps: LockoutDeps, session: ClientSession, userId: string, attemptId: string): Promise<void> {
  const credentials = await readUserCredentials(deps.database, userId, session);
  const attempts = credentials?.mfaAttempts ?? [];
  if (!credentials || !attempts.some((a) => a.id === attemptId)) {
    return;
  }
  const version = credentials.mfaGuardVersion ?? 0;
  await credentialsCollection(deps.database).updateOne(
    guard(userId, version),
    { $set: { mfaGuardVersion: version + 1, mfaAttempts: attempts.filter((a) => a.id !== attemptId) } },
    { session },
  );
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
    if (await writeGuard(deps, failure.userId, { ...state, lockouts: [...state.lockouts, now] }, until)) {
      lockedUntil = until;
      break;
    }
  }
  const where = { userId: failure.userId, loginId: failure.loginId, check: failure.check };
  deps.log?.warn({ ...where, failures }, 'wrong MFA code');
  await recordSecurityEvent(deps.database, { type: 'mfa-failure', at: now, ...trail(failure), failures });
  if (lockedUntil) {
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
