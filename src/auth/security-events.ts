import type { ClientSession } from 'mongodb';
import { newId } from '../clock';
import type { Database } from '../db/database';
import { withWriteLock } from '../db/transaction';

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
