import type { ClientSession } from 'mongodb';
import type { Database } from '../db/database';
import { withWriteLock } from '../db/transaction';

export const CREDENTIALS = 'credentials';

/**
 * The secrets of one account, kept apart from its FHIR resource so they can never leak through
 * the FHIR API: `_id` is the User id (password, MFA) or the ClientApplication id (client secret).
 * Other fields may be added by the activation and MFA code.
 */
export interface CredentialsDoc {
  _id: string;
  /** Argon2id hash of the user's password (see password-hash.ts). */
  passwordHash?: string;
  /** SHA-256 (hex) of a ClientApplication's generated secret. */
  clientSecretHash?: string;
  [field: string]: unknown;
}

export async function readCredentials(database: Database, id: string, session?: ClientSession): Promise<CredentialsDoc | undefined> {
  const doc = await database.db.collection<CredentialsDoc>(CREDENTIALS).findOne({ _id: id }, { session });
  return doc ?? undefined;
}

/** Sets fields on an account's credentials, creating the document if needed. */
export async function setCredentials(database: Database, id: string, fields: Omit<CredentialsDoc, '_id'>, session?: ClientSession): Promise<void> {
  const write = () => database.db.collection<CredentialsDoc>(CREDENTIALS).updateOne({ _id: id }, { $set: fields }, { upsert: true, session });
  // Transactions also write `credentials`: without a session, wait for them (withWriteLock).
  await (session ? write() : withWriteLock(database, write));
}
