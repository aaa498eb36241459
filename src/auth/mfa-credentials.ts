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
}

export function credentialsCollection(database: Database): Collection<UserCredentials> {
  return database.db.collection<UserCredentials>(CREDENTIALS);
}

export async function readUserCredentials(database: Database, userId: string, session?: ClientSession): Promise<UserCredentials | undefined> {
  return (await credentialsCollection(database).findOne({ _id: userId }, { session })) ?? undefined;
}
