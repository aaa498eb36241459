import type { ClientSession, Filter } from 'mongodb';
import type { Reference } from '@medplum/fhirtypes';
import type { Database } from '../db/database';
import { withWriteLock } from '../db/transaction';

export const LOGINS = 'logins';

/**
 * One sign-in session. Created after a correct password (or a client_credentials grant); it
 * carries the chosen membership, the hash of the single-use authorization code and the hash of
 * the current refresh secret. Revoking it ends every token issued from it.
 */
export interface LoginDoc {
  _id: string;
  /** The User id (or the ClientApplication id for system clients). */
  userId: string;
  userType: 'User' | 'ClientApplication';
  authMethod: 'password' | 'client';
  /** The project asked for at sign-in; once a membership is chosen, that membership's project. */
  projectId?: string;
  membershipId?: string;
  profile?: Reference;
  projectAdmin?: boolean;
  superAdmin?: boolean;
  /** The ClientApplication the sign-in went through (OAuth clientId), if any. */
  clientId?: string;
  /** Only memberships whose profile has this resource type are considered. */
  profileType?: string;
  scope: string;
  nonce: string;
  codeChallenge?: string;
  codeChallengeMethod?: 'plain' | 'S256';
  /** SHA-256 of the authorization code; set when the code is issued. */
  codeHash?: string;
  codeExpiresAt?: Date;
  /** True once the code was exchanged for tokens (a code works once). */
  granted: boolean;
  /** SHA-256 of the current refresh secret; rotated on every refresh. */
  refreshSecretHash?: string;
  /** A membership chosen before its MFA step (it requires MFA): the code is issued for it once verified. */
  pendingMembershipId?: string;
  /** True when the MFA gate demanded a step: no code until mfaVerified. */
  mfaRequired: boolean;
  mfaVerified: boolean;
  mfaFailures: number;
  revoked: boolean;
  revokedAt?: Date;
  authTime: Date;
  createdAt: Date;
  updatedAt: Date;
  /** After this instant the session is over (extended by each refresh). */
  expiresAt: Date;
  remoteAddress?: string;
  userAgent?: string;
}

/** The fields every new login starts with; the caller adds who, how and for what. */
export function newLoginDoc(
  now: Date,
  ttlSeconds: number,
  fields: Pick<LoginDoc, '_id' | 'userId' | 'userType' | 'authMethod' | 'scope' | 'nonce'> & Partial<LoginDoc>,
  client: { remoteAddress?: string; userAgent?: string } = {},
): LoginDoc {
  return {
    granted: false,
    mfaRequired: false,
    mfaVerified: false,
    mfaFailures: 0,
    revoked: false,
    authTime: now,
    createdAt: now,
    updatedAt: now,
    expiresAt: new Date(now.getTime() + ttlSeconds * 1000),
    ...(client.remoteAddress ? { remoteAddress: client.remoteAddress } : {}),
    ...(client.userAgent ? { userAgent: client.userAgent.slice(0, 512) } : {}),
    ...fields,
  };
}

/** The login, or undefined when there is none. */
export async function readLogin(database: Database, loginId: string, session?: ClientSession): Promise<LoginDoc | undefined> {
  if (typeof loginId !== 'string' || loginId === '') {
    return undefined;
  }
  const doc = await database.db.collection<LoginDoc>(LOGINS).findOne({ _id: loginId }, { session });
  return doc ?? undefined;
}

export interface LoginUpdate {
  /** Fields to set (updatedAt is set automatically when `now` is given). */
  set?: Partial<Omit<LoginDoc, '_id'>>;
  /** Numeric fields to increment atomically, e.g. { mfaFailures: 1 }. */
  inc?: Partial<Record<'mfaFailures', number>>;
  /** Fields to remove. */
  unset?: (keyof LoginDoc)[];
  /** Extra conditions the login must meet for the update to apply (e.g. { revoked: false }). */
  filter?: Filter<LoginDoc>;
  session?: ClientSession;
  now?: Date;
}

/**
 * Updates one login atomically and answers the updated document, or undefined when no login
 * matched (unknown id or `filter` not met).
 */
export async function updateLogin(database: Database, loginId: string, update: LoginUpdate): Promise<LoginDoc | undefined> {
  const set: Record<string, unknown> = { ...(update.set ?? {}) };
  if (update.now) {
    set.updatedAt = update.now;
  }
  const ops: Record<string, unknown> = {};
  if (Object.keys(set).length > 0) {
    ops.$set = set;
  }
  if (update.inc && Object.keys(update.inc).length > 0) {
    ops.$inc = update.inc;
  }
  if (update.unset && update.unset.length > 0) {
    ops.$unset = Object.fromEntries(update.unset.map((k) => [k, '']));
  }
  if (Object.keys(ops).length === 0) {
    return readLogin(database, loginId, update.session);
  }
  const write = () =>
    database.db.collection<LoginDoc>(LOGINS).findOneAndUpdate({ ...(update.filter ?? {}), _id: loginId }, ops, { returnDocument: 'after', session: update.session });
  // Transactions also write `logins` (the MFA refund): a plain write waits for them (withWriteLock).
  const doc = await (update.session ? write() : withWriteLock(database, write));
  return doc ?? undefined;
}

export async function insertLogin(database: Database, login: LoginDoc, session?: ClientSession): Promise<void> {
  const write = () => database.db.collection<LoginDoc>(LOGINS).insertOne(login, { session });
  await (session ? write() : withWriteLock(database, write));
}

/** The login whose authorization code hashes to `codeHash`. */
export async function findLoginByCodeHash(database: Database, codeHash: string): Promise<LoginDoc | undefined> {
  const doc = await database.db.collection<LoginDoc>(LOGINS).findOne({ codeHash });
  return doc ?? undefined;
}
