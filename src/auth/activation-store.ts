import type { ClientSession, Filter } from 'mongodb';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { randomSecret, sha256Hex } from './secrets';

/**
 * Single-use activation (set-password) requests. The secret is returned once and stored only
 * as a SHA-256 hash. A new request for the same user and kind supersedes the older ones.
 *
 * `mailed` is the server-side proof behind the account-verification rule: only a link that was
 * mailed to the account's address proves, when used, that its user controls that address (and
 * so marks the email verified). A link handed back to an administrator (an invite with
 * `sendEmail: false`) can set a password but verifies nothing.
 */
export interface ActivationDoc {
  _id: string;
  userId: string;
  kind: 'invite' | 'reset';
  secretHash: string;
  /** The link went out by mail to the account's address (absent on older records: not mailed). */
  mailed?: boolean;
  createdAt: Date;
  expiresAt: Date;
  usedAt?: Date;
  supersededAt?: Date;
}

export const ACTIVATIONS = 'activations';

export interface CreatedActivation {
  id: string;
  secret: string;
  url: string;
  expiresAt: Date;
}

export interface ActivationInput {
  userId: string;
  kind: ActivationDoc['kind'];
  /** 'mail': the link is mailed to the account's address; 'caller': it is answered to an administrator. */
  delivery: 'mail' | 'caller';
  /** Supersede every outstanding request of the user, of any kind (default: only of this kind). */
  supersedeAll?: boolean;
}

/** How an activation secret is stored (SHA-256 hex, like every high-entropy secret). */
export const hashSecret = sha256Hex;

/** The user's requests that could still be used (neither used nor superseded). */
export function outstandingOf(userId: string): Filter<ActivationDoc> {
  return { userId, usedAt: { $exists: false }, supersededAt: { $exists: false } };
}

/** Writes a new activation request in the caller's transaction and answers its link. */
export async function createActivation(
  deps: { database: Database; clock: Clock; baseUrl: string; ttlMs: number },
  session: ClientSession,
  input: ActivationInput,
): Promise<CreatedActivation> {
  const now = deps.clock.now();
  const id = randomSecret(16);
  const secret = randomSecret(32);
  const collection = deps.database.db.collection<ActivationDoc>(ACTIVATIONS);
  const older = input.supersedeAll ? outstandingOf(input.userId) : { ...outstandingOf(input.userId), kind: input.kind };
  await collection.updateMany(older, { $set: { supersededAt: now } }, { session });
  const expiresAt = new Date(now.getTime() + deps.ttlMs);
  await collection.insertOne(
    { _id: id, userId: input.userId, kind: input.kind, secretHash: hashSecret(secret), mailed: input.delivery === 'mail', createdAt: now, expiresAt },
    { session },
  );
  return { id, secret, url: `${deps.baseUrl}setpassword/${id}/${secret}`, expiresAt };
}
