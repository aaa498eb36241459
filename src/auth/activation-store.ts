import type { ClientSession } from 'mongodb';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { randomSecret, sha256Hex } from './secrets';

/**
 * Single-use activation (set-password) requests. The secret is returned once and stored only
 * as a SHA-256 hash. A new request for the same user and kind supersedes the older ones.
 */
export interface ActivationDoc {
  _id: string;
  userId: string;
  kind: 'invite' | 'reset';
  secretHash: string;
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

/** How an activation secret is stored (SHA-256 hex, like every high-entropy secret). */
export const hashSecret = sha256Hex;

/** Writes a new activation request in the caller's transaction and answers its link. */
export async function createActivation(
  deps: { database: Database; clock: Clock; baseUrl: string; ttlMs: number },
  session: ClientSession,
  input: { userId: string; kind: ActivationDoc['kind'] },
): Promise<CreatedActivation> {
  const now = deps.clock.now();
  const id = randomSecret(16);
  const secret = randomSecret(32);
  const collection = deps.database.db.collection<ActivationDoc>(ACTIVATIONS);
  await collection.updateMany(
    { userId: input.userId, kind: input.kind, usedAt: { $exists: false }, supersededAt: { $exists: false } },
    { $set: { supersededAt: now } },
    { session },
  );
  const expiresAt = new Date(now.getTime() + deps.ttlMs);
  await collection.insertOne({ _id: id, userId: input.userId, kind: input.kind, secretHash: hashSecret(secret), createdAt: now, expiresAt }, { session });
  return { id, secret, url: `${deps.baseUrl}setpassword/${id}/${secret}`, expiresAt };
}
