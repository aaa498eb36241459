import type { ClientSession, Filter } from 'mongodb';
import type { User } from '@medplum/fhirtypes';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { isDuplicateKey, withWriteLock } from '../db/transaction';
import { badRequest } from '../errors';
import { readStored, updateResource } from '../fhir/repository';
import { credentialsCollection, readUserCredentials, type UserCredentials } from './mfa-credentials';
import { generateTotpSecret } from './totp';

/**
 * MFA state in the credentials document. Every change is a guarded update: a TOTP step is
 * accepted only when it is later than the last accepted one (no code works twice), and enrolling
 * or disabling only applies to the state it was checked against.
 */
export interface MfaDeps {
  database: Database;
  clock: Clock;
}

/** Matches a credentials document whose last accepted step is before `step`. */
function stepUnused(step: number): Filter<UserCredentials> {
  return { $or: [{ mfaLastStep: { $exists: false } }, { mfaLastStep: { $lt: step } }] };
}

/** Whether the user has confirmed a TOTP secret (the credentials are the source of truth). */
export function isEnrolled(credentials: UserCredentials | undefined): credentials is UserCredentials & { mfaSecret: string } {
  return typeof credentials?.mfaSecret === 'string' && credentials.mfaSecret !== '';
}

/**
 * The secret offered for enrollment: the pending one when there is one (so a code from an app
 * that already scanned it keeps working), else a new one. Race-safe: one secret wins.
 */
export async function ensurePendingSecret(deps: MfaDeps, userId: string): Promise<string> {
  const existing = await readUserCredentials(deps.database, userId);
  if (existing?.mfaPendingSecret) {
    return existing.mfaPendingSecret;
  }
  try {
    const secret = generateTotpSecret();
    // A plain write to `credentials`, which transactions also write: wait for them (withWriteLock).
    await withWriteLock(deps.database, () =>
      credentialsCollection(deps.database).updateOne({ _id: userId, mfaPendingSecret: { $exists: false } }, { $set: { mfaPendingSecret: secret } }, { upsert: true }),
    );
  } catch (err) {
    // Another request created the document with its own secret first: use that one.
    if (!isDuplicateKey(err)) {
      throw err;
    }
  }
  const stored = await readUserCredentials(deps.database, userId);
  if (!stored?.mfaPendingSecret) {
    throw new Error('pending MFA secret was not stored');
  }
  return stored.mfaPendingSecret;
}

async function setUserEnrolled(deps: MfaDeps, session: ClientSession, userId: string, enrolled: boolean): Promise<void> {
  const repo = { database: deps.database, clock: deps.clock, session };
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
export async function confirmEnrollment(deps: MfaDeps, session: ClientSession, userId: string, secret: string, step: number): Promise<void> {
  const result = await credentialsCollection(deps.database).updateOne(
    { _id: userId, mfaPendingSecret: secret, mfaSecret: { $exists: false }, ...stepUnused(step) },
    { $set: { mfaSecret: secret, mfaEnrolledAt: deps.clock.now(), mfaLastStep: step }, $unset: { mfaPendingSecret: '' } },
    { session },
  );
  if (result.matchedCount !== 1) {
    throw badRequest('This code was already used, or MFA is already set up for this account', 'token');
  }
  await setUserEnrolled(deps, session, userId, true);
}

/** Records that the code of time step `step` was used; 400 when it (or a later one) already was. */
export async function consumeStep(deps: MfaDeps, session: ClientSession, userId: string, secret: string, step: number): Promise<void> {
  const result = await credentialsCollection(deps.database).updateOne(
    { _id: userId, mfaSecret: secret, ...stepUnused(step) },
    { $set: { mfaLastStep: step } },
    { session },
  );
  if (result.matchedCount !== 1) {
    throw badRequest('This code was already used: wait for the next code in your authenticator app', 'token');
  }
}

/** Removes the MFA secret (after a valid code of step `step`) and marks the User not enrolled. */
export async function removeEnrollment(deps: MfaDeps, session: ClientSession, userId: string, secret: string, step: number): Promise<void> {
  const result = await credentialsCollection(deps.database).updateOne(
    { _id: userId, mfaSecret: secret, ...stepUnused(step) },
    { $unset: { mfaSecret: '', mfaEnrolledAt: '', mfaPendingSecret: '', mfaLastStep: '' } },
    { session },
  );
  if (result.matchedCount !== 1) {
    throw badRequest('This code was already used: wait for the next code in your authenticator app', 'token');
  }
  await setUserEnrolled(deps, session, userId, false);
}
