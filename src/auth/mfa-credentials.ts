import type { ClientSession, Collection } from 'mongodb';
import type { Database } from '../db/database';
import { CREDENTIALS } from './credentials';

/**
 * The fields of a user's credentials document (credentials.ts) that passwords and MFA use.
 * Never sent in a response: read it only to check a secret.
 */
export interface UserCredentials {
  _id: string;
  passwordHash?: string;
  passwordChangedAt?: Date;
  /** The TOTP secret (base32) of an enrolled user. */
  mfaSecret?: string;
  mfaEnrolledAt?: Date;
  /** A TOTP secret shown for enrollment (in an otpauth URI / QR code) but not confirmed yet. */
  mfaPendingSecret?: string;
  /** The last TOTP time step accepted for this user: a code is never accepted twice. */
  mfaLastStep?: number;
  /** The per-account limit on codes (mfa-lockout.ts): bumped by every write of the fields below. */
  mfaGuardVersion?: number;
  /** Code checks within the window: failures, and checks still in progress. */
  mfaAttempts?: MfaAttempt[];
  /** While in the future, every code is refused (429). */
  mfaLockedUntil?: Date;
  /** When the account's recent lockouts began (each one makes the next one longer). */
  mfaLockouts?: Date[];
}

/** One code check of an account: reserved before the code is looked at, given back when it is right. */
export interface MfaAttempt {
  id: string;
  at: Date;
}

export function credentialsCollection(database: Database): Collection<UserCredentials> {
  return database.db.collection<UserCredentials>(CREDENTIALS);
}

export async function readUserCredentials(database: Database, userId: string, session?: ClientSession): Promise<UserCredentials | undefined> {
  return (await credentialsCollection(database).findOne({ _id: userId }, { session })) ?? undefined;
}
