import type { AuditTrail } from '../audit/trail';
import type { ClientSession, Filter } from 'mongodb';
import type { Reference } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import { newId } from '../clock';
import type { Database } from '../db/database';
import type { Store } from '../db/store';
import { withWriteLock } from '../db/transaction';

/**
 * Sign-in sessions (`logins`): their documents, revocation (one, all of a user's, by filter) and
 * the security trail of refusals (`security_events`).
 */
export const LOGINS = 'logins';

/** A sign-in must reach its code (MFA step, profile choice) within this time after the password. */
export const PENDING_LOGIN_TTL_MS = 15 * 60_000;

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

/** Revokes, in the transaction, every open session matching `filter` (a user, a membership, a project, a client). */
export async function revokeLogins(store: Store, session: ClientSession, filter: Filter<LoginDoc>): Promise<void> {
  const now = store.clock.now();
  await store.database.db.collection<LoginDoc>(LOGINS).updateMany({ ...filter, revoked: false }, { $set: { revoked: true, revokedAt: now, updatedAt: now } }, { session });
}

/** Revokes, in the transaction, every sign-in session of the user that is still open; answers their ids. */
export async function revokeUserSessions(database: Database, session: ClientSession, userId: string, now: Date): Promise<string[]> {
  const logins = database.db.collection<LoginDoc>(LOGINS);
  const open = await logins.find({ userId, userType: 'User', revoked: false }, { session }).toArray();
  if (open.length === 0) {
    return [];
  }
  const ids = open.map((l) => l._id);
  await logins.updateMany({ _id: { $in: ids }, revoked: false }, { $set: { revoked: true, revokedAt: now, updatedAt: now } }, { session });
  return ids;
}

/**
 * After a commit that ended a user's sessions (a password set or reset, an account reclaimed):
 * tells this instance's session cache about every login it ended (`revoked`: those the
 * transaction revoked; after an unknown commit outcome, those revoked since `changedAt`), and
 * revokes any login that the transaction did not see (a sign-in with the old password racing it).
 */
export async function endSessionsOnThisInstance(
  deps: Store & { revokeLogin?: (loginId: string) => Promise<void> },
  userId: string,
  revoked: string[],
  changedAt: Date,
): Promise<void> {
  if (!deps.revokeLogin) {
    return;
  }
  const committedBy = deps.clock.now();
  const others = await deps.database.db
    .collection<LoginDoc>(LOGINS)
    .find({ userId, userType: 'User', createdAt: { $lte: committedBy }, $or: [{ revoked: false }, { revokedAt: { $gte: changedAt } }] })
    .toArray();
  for (const loginId of new Set([...revoked, ...others.map((l) => l._id)])) {
    await deps.revokeLogin(loginId);
  }
}

/** The answer to a reused refresh token (as an OAuth invalid_grant). */
export const REUSED_REFRESH_TOKEN = 'Invalid refresh token: it was already used (each refresh token works once). This sign-in has been ended: sign in again';

/**
 * A refresh token was presented after it had been rotated (or twice at once): someone holds a
 * copy. As with a replayed authorization code, the whole sign-in session ends: every access and
 * refresh token issued from it stops working, the newest included. Logged at warn and kept in
 * the security trail, never with the token.
 */
export async function endReusedLogin(
  deps: Store & { log: FastifyBaseLogger; revokeLogin(loginId: string): Promise<void>; audit?: AuditTrail },
  login: LoginDoc,
  remoteAddress: string | undefined,
): Promise<void> {
  await deps.revokeLogin(login._id);
  deps.audit?.record({ kind: 'refresh-token-reuse', outcome: '8', outcomeDesc: 'a rotated refresh token was used again: the sign-in session is revoked', address: remoteAddress, actor: { principal: { reference: `${login.userType}/${login.userId}` } }, project: login.projectId, entities: [{ what: { reference: `${login.userType}/${login.userId}` }, role: login.userType === 'User' ? '11' : '13' }] });
  deps.log.warn({ loginId: login._id, userId: login.userId }, 'a rotated refresh token was used again: the sign-in session is revoked');
  await recordSecurityEvent(deps.database, {
    type: 'refresh-token-reuse',
    at: deps.clock.now(),
    userId: login.userId,
    loginId: login._id,
    ...(remoteAddress ? { remoteAddress } : {}),
  });
}

// --- The security trail ---------------------------------------------------------------------------

/**
 * The trail of security-relevant refusals (wrong TOTP codes, MFA lockouts, reused refresh
 * tokens), one document per event, kept for an audit to be produced from later. No secret is
 * ever stored here: no code, no token, no password.
 */
export const SECURITY_EVENTS = 'security_events';

export type SecurityEventType = 'mfa-failure' | 'mfa-lockout' | 'refresh-token-reuse';

export interface SecurityEventDoc {
  _id: string;
  type: SecurityEventType;
  at: Date;
  /** The account concerned (a User id). */
  userId: string;
  /** The sign-in session concerned, if any. */
  loginId?: string;
  /** Which endpoint or step, e.g. 'verify', 'login-enroll', 'enroll', 'disable'. */
  step?: string;
  remoteAddress?: string;
  /** For a lockout: until when. */
  lockedUntil?: Date;
  /** For MFA: the account's failures counted in the window, this one included. */
  failures?: number;
}

/** Stores one event (in the caller's transaction when `session` is given). */
export async function recordSecurityEvent(database: Database, event: Omit<SecurityEventDoc, '_id'>, session?: ClientSession): Promise<void> {
  const doc: SecurityEventDoc = { _id: newId(), ...event };
  const write = () => database.db.collection<SecurityEventDoc>(SECURITY_EVENTS).insertOne(doc, { session });
  await (session ? write() : withWriteLock(database, write));
}
