import type { ClientSession, Collection, Filter, UpdateFilter } from 'mongodb';
import { recordWrite } from '../db/commit-ledger';
import type { Database } from '../db/database';
import { isDuplicateKey, withWriteLock } from '../db/transaction';

/**
 * The secrets of one account, in the `credentials` collection, kept apart from its FHIR resource
 * so they can never leak through the FHIR API: `_id` is the User id (password, MFA) or the
 * ClientApplication id (client secret). Never sent in a response: read it only to check a secret.
 *
 * This module is the only writer of the collection: every change to an account's secrets is one
 * of the functions below (each a single guarded write, in the caller's transaction when it takes
 * a session; a plain write otherwise waits for running transactions, see withWriteLock).
 */
export const CREDENTIALS = 'credentials';

/** One code check of an account: reserved before the code is looked at, given back when it is right. */
export interface MfaAttempt {
  id: string;
  at: Date;
}

export interface CredentialsDoc {
  _id: string;
  /** Argon2id hash of the user's password (see passwords.ts). */
  passwordHash?: string;
  passwordChangedAt?: Date;
  /** SHA-256 (hex) of a ClientApplication's generated secret. */
  clientSecretHash?: string;
  /** The TOTP secret (base32) of an enrolled user. */
  mfaSecret?: string;
  mfaEnrolledAt?: Date;
  /** A TOTP secret shown for enrollment (in an otpauth URI / QR code) but not confirmed yet. */
  mfaPendingSecret?: string;
  /** The last TOTP time step accepted for this user: a code is never accepted twice. */
  mfaLastStep?: number;
  /** The per-account limit on codes (mfa-attempts.ts): bumped by every write of the fields below. */
  mfaGuardVersion?: number;
  /** Code checks within the window: failures, and checks still in progress. */
  mfaAttempts?: MfaAttempt[];
  /** While in the future, every code is refused (429). */
  mfaLockedUntil?: Date;
  /** When the account's recent lockouts began (each one makes the next one longer). */
  mfaLockouts?: Date[];
}

function credentials(database: Database): Collection<CredentialsDoc> {
  return database.db.collection<CredentialsDoc>(CREDENTIALS);
}

/** A plain write, waiting for running transactions (which also write `credentials`). */
function plain<T>(database: Database, write: () => Promise<T>): Promise<T> {
  return withWriteLock(database, write);
}

export async function readCredentials(database: Database, id: string, session?: ClientSession): Promise<CredentialsDoc | undefined> {
  return (await credentials(database).findOne({ _id: id }, { session })) ?? undefined;
}

/** Sets fields on an account's credentials, creating the document if needed. */
export async function setCredentials(database: Database, id: string, fields: Omit<CredentialsDoc, '_id'>, session?: ClientSession): Promise<void> {
  const write = () => credentials(database).updateOne({ _id: id }, { $set: fields }, { upsert: true, session });
  await (session ? write() : plain(database, write));
}

/** The credentials of a new account (User with a password, ClientApplication with a secret), in its transaction. */
export async function insertCredentials(database: Database, session: ClientSession, doc: CredentialsDoc): Promise<void> {
  await credentials(database).insertOne(doc, { session });
  recordWrite(session, { collection: CREDENTIALS, id: doc._id });
}

/** Replaces `storedHash` by `passwordHash` unless the password changed meanwhile; answers whether it did. */
export async function replacePasswordHash(database: Database, userId: string, storedHash: string, passwordHash: string): Promise<boolean> {
  const result = await plain(database, () => credentials(database).updateOne({ _id: userId, passwordHash: storedHash }, { $set: { passwordHash } }));
  return result.modifiedCount === 1;
}

/** Removes the password and every MFA secret (an account reclaimed for the owner of its email). */
export async function clearSecrets(database: Database, session: ClientSession, userId: string): Promise<void> {
  const unset = { passwordHash: '', passwordChangedAt: '', mfaSecret: '', mfaPendingSecret: '', mfaEnrolledAt: '', mfaLastStep: '' } as const;
  await credentials(database).updateOne({ _id: userId }, { $unset: unset }, { session });
}

/** Deletes an account's secrets (the account is deleted). */
export async function deleteCredentials(database: Database, session: ClientSession, id: string): Promise<void> {
  await credentials(database).deleteOne({ _id: id }, { session });
}

// --- TOTP -------------------------------------------------------------------------------------

/** Matches a credentials document whose last accepted step is before `step`. */
function stepUnused(step: number): Filter<CredentialsDoc> {
  return { $or: [{ mfaLastStep: { $exists: false } }, { mfaLastStep: { $lt: step } }] };
}

/** Stores `secret` as the pending TOTP secret unless one is pending already (race-safe: one wins). */
export async function offerTotpSecret(database: Database, userId: string, secret: string): Promise<void> {
  try {
    await plain(database, () => credentials(database).updateOne({ _id: userId, mfaPendingSecret: { $exists: false } }, { $set: { mfaPendingSecret: secret } }, { upsert: true }));
  } catch (err) {
    // Another request created the document with its own secret first: that one stays.
    if (!isDuplicateKey(err)) {
      throw err;
    }
  }
}

/** The pending secret becomes the TOTP secret (code of time step `step`); false when the state changed. */
export async function confirmTotpSecret(database: Database, session: ClientSession, userId: string, secret: string, step: number, now: Date): Promise<boolean> {
  const result = await credentials(database).updateOne(
    { _id: userId, mfaPendingSecret: secret, mfaSecret: { $exists: false }, ...stepUnused(step) },
    { $set: { mfaSecret: secret, mfaEnrolledAt: now, mfaLastStep: step }, $unset: { mfaPendingSecret: '' } },
    { session },
  );
  return result.matchedCount === 1;
}

/** Records that the code of time step `step` was used; false when it (or a later one) already was. */
export async function useTotpStep(database: Database, session: ClientSession, userId: string, secret: string, step: number): Promise<boolean> {
  const result = await credentials(database).updateOne({ _id: userId, mfaSecret: secret, ...stepUnused(step) }, { $set: { mfaLastStep: step } }, { session });
  return result.matchedCount === 1;
}

/** Removes the TOTP secret (after a valid code of step `step`); false when the state changed. */
export async function removeTotpSecret(database: Database, session: ClientSession, userId: string, secret: string, step: number): Promise<boolean> {
  const result = await credentials(database).updateOne(
    { _id: userId, mfaSecret: secret, ...stepUnused(step) },
    { $unset: { mfaSecret: '', mfaEnrolledAt: '', mfaPendingSecret: '', mfaLastStep: '' } },
    { session },
  );
  return result.matchedCount === 1;
}

/** The per-account code guard as stored, for a version-guarded write. */
export interface MfaGuard {
  version: number;
  attempts: MfaAttempt[];
  lockouts: Date[];
  lockedUntil?: Date;
}

function guardFilter(userId: string, version: number): Filter<CredentialsDoc> {
  return version === 0 ? { _id: userId, mfaGuardVersion: { $exists: false } } : { _id: userId, mfaGuardVersion: version };
}

/**
 * Writes the guard fields if nobody changed them since `state.version` was read (the version is
 * bumped); false otherwise. A plain write: it waits for running transactions.
 */
export async function writeMfaGuard(database: Database, userId: string, state: MfaGuard): Promise<boolean> {
  const set: Partial<CredentialsDoc> = { mfaGuardVersion: state.version + 1, mfaAttempts: state.attempts, mfaLockouts: state.lockouts };
  const update: UpdateFilter<CredentialsDoc> = state.lockedUntil ? { $set: { ...set, mfaLockedUntil: state.lockedUntil } } : { $set: set, $unset: { mfaLockedUntil: '' } };
  const result = await plain(database, () => credentials(database).updateOne(guardFilter(userId, state.version), update));
  return result.matchedCount === 1;
}

/** Sets the guard's attempts (a right code gives its attempt back), in the transaction that accepts the code. */
export async function setMfaAttempts(database: Database, session: ClientSession, userId: string, version: number, attempts: MfaAttempt[]): Promise<void> {
  await credentials(database).updateOne(guardFilter(userId, version), { $set: { mfaGuardVersion: version + 1, mfaAttempts: attempts } }, { session });
}
