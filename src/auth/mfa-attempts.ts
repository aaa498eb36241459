import type { ClientSession, Filter } from 'mongodb';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { badRequest, tooManyRequests, type FhirError } from '../errors';
import { readLogin, updateLogin, type LoginDoc } from './login-store';

/** After this many wrong codes a login accepts no more codes, ever (sign in again). */
export const MAX_MFA_FAILURES = 5;
/** How long after the password a sign-in may complete its code step. */
export const MFA_STEP_TTL_MS = 15 * 60_000;

export interface AttemptDeps {
  database: Database;
  clock: Clock;
}

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
  if (now.getTime() - started > MFA_STEP_TTL_MS || (login.expiresAt && login.expiresAt.getTime() <= now.getTime())) {
    return badRequest('This sign-in has expired: sign in again with your password', 'login');
  }
  return undefined;
}

/** Reads a sign-in and throws unless it may take a code now. */
export async function loadLoginForStep(deps: AttemptDeps, loginId: string): Promise<LoginDoc> {
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
export async function reserveAttempt(deps: AttemptDeps, loginId: string, pending: boolean): Promise<LoginDoc> {
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
export async function refundAttempt(deps: AttemptDeps, session: ClientSession, loginId: string, verified: boolean): Promise<void> {
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
 * given) the account's (see mfa-lockout.ts).
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
