import type { FastifyBaseLogger } from 'fastify';
import type { Database } from '../db/database';
import { withWriteLock } from '../db/transaction';
import { credentialsCollection } from './mfa-credentials';
import { hashPassword, needsRehash } from './password-hash';

/**
 * After a successful sign-in with `password` against `storedHash`: when that hash was made with
 * weaker parameters than PASSWORD_HASH_PARAMS, stores a new hash of the same password. The write
 * is guarded on the old hash, so a password changed meanwhile is never overwritten. A failure is
 * logged (without secrets) and never fails the sign-in: the old hash still works.
 */
export async function upgradePasswordHash(
  deps: { database: Database; log: FastifyBaseLogger },
  userId: string,
  storedHash: string,
  password: string,
): Promise<boolean> {
  if (!needsRehash(storedHash)) {
    return false;
  }
  try {
    const passwordHash = await hashPassword(password);
    // A plain write to `credentials`, which transactions also write: wait for them (withWriteLock).
    const result = await withWriteLock(deps.database, () =>
      credentialsCollection(deps.database).updateOne({ _id: userId, passwordHash: storedHash }, { $set: { passwordHash } }),
    );
    return result.modifiedCount === 1;
  } catch (err) {
    deps.log.warn({ userId, err: (err as Error).name }, 'could not re-hash a password with the current argon2 parameters');
    return false;
  }
}
