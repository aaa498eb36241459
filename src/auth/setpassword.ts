import type { User } from '@medplum/fhirtypes';
import type { ClientSession } from 'mongodb';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import type { KeyedLock } from '../db/keyed-lock';
import { AmbiguousCommitError, withTransaction } from '../db/transaction';
import { badRequest, FhirError } from '../errors';
import { readStored, updateResource, type RepoContext } from '../fhir/repository';
import { loadUsableActivation } from './activation-check';
import { ACTIVATIONS, outstandingOf, type ActivationDoc } from './activation-store';
import { LOGINS, type LoginDoc } from './login-store';
import { credentialsCollection } from './mfa-credentials';
import { hashPassword } from './password-hash';
import { assertPasswordAcceptable } from './password-policy';

export interface SetPasswordDeps {
  database: Database;
  clock: Clock;
  /**
   * Serializes uses of one activation request in this process. The embedded engine does not
   * detect two concurrent transactions changing the same document, so without it two uses at
   * once could both pass the `usedAt` guard; on MongoDB the guard alone suffices (WriteConflict).
   */
  lock?: KeyedLock;
  /**
   * Ends one sign-in session on this instance: the app's `auth.revokeLogin`, which also marks
   * the login ended in this instance's session cache, so its tokens stop working at once (other
   * instances learn it within their cache TTL). Called after the commit for every session the
   * password change ended.
   */
  revokeLogin?: (loginId: string) => Promise<void>;
}

export interface SetPasswordInput {
  id: string;
  secret: string;
  password: string;
}

/**
 * Sets a user's password through an activation (invite or reset) request. The request must
 * exist, match the secret, be unused, not superseded and unexpired. In one transaction: the
 * password hash is stored in `credentials`, the request is marked used (guarded, so exactly one
 * of several concurrent uses wins), the user's other outstanding requests are superseded, every
 * sign-in session of the user is revoked (a stolen refresh or access token dies with a reset)
 * and, only when the link was MAILED to the account's address, the User's email is marked
 * verified (using it proves control of the address; a link handed to an administrator proves
 * nothing). Answers the User id.
 */
export async function setPasswordWithActivation(deps: SetPasswordDeps, input: SetPasswordInput): Promise<string> {
  const run = (): Promise<string> => setPasswordOnce(deps, input);
  return deps.lock ? deps.lock.run(`activation:${input.id}`, run) : run();
}

async function setPasswordOnce(deps: SetPasswordDeps, input: SetPasswordInput): Promise<string> {
  const activation = await loadUsableActivation(deps, input.id, input.secret);
  assertPasswordAcceptable(input.password);
  // Hashing is slow (by design): never inside the transaction.
  const passwordHash = await hashPassword(input.password);
  const changedAt = deps.clock.now();
  let ended: string[] = [];
  try {
    ended = await withTransaction(deps.database, (session) => applyActivation(deps, session, input, passwordHash));
  } catch (err) {
    if (!(err instanceof AmbiguousCommitError)) {
      throw err;
    }
    await settleAmbiguous(deps, activation, passwordHash);
  }
  await endSessionsOnThisInstance(deps, activation.userId, ended, changedAt);
  return activation.userId;
}

/**
 * After the commit: tells this instance's session cache about every login the password change
 * ended (`revoked`: those the transaction revoked; after an ambiguous commit, those revoked since
 * `changedAt`), and revokes any login that the transaction did not see (a sign-in with the old
 * password racing the reset).
 */
export async function endSessionsOnThisInstance(
  deps: Pick<SetPasswordDeps, 'database' | 'clock' | 'revokeLogin'>,
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

async function applyActivation(deps: SetPasswordDeps, session: ClientSession, input: SetPasswordInput, passwordHash: string): Promise<string[]> {
  const activation = await loadUsableActivation(deps, input.id, input.secret, session);
  const now = deps.clock.now();
  const activations = deps.database.db.collection<ActivationDoc>(ACTIVATIONS);
  const claimed = await activations.updateOne(
    { _id: activation._id, usedAt: { $exists: false }, supersededAt: { $exists: false } },
    { $set: { usedAt: now } },
    { session },
  );
  if (claimed.matchedCount !== 1) {
    throw badRequest('This link was already used. Sign in with your password, or ask for a new link if you forgot it', 'id');
  }
  await activations.updateMany({ ...outstandingOf(activation.userId), _id: { $ne: activation._id } }, { $set: { supersededAt: now } }, { session });
  await credentialsCollection(deps.database).updateOne(
    { _id: activation.userId },
    { $set: { passwordHash, passwordChangedAt: now } },
    { upsert: true, session },
  );
  const repo: RepoContext = { database: deps.database, clock: deps.clock, session };
  const stored = await readStored<User>(repo, 'User', activation.userId);
  if (!stored || stored.deleted) {
    throw badRequest('The account this link was sent for no longer exists', 'id');
  }
  if (activation.mailed === true && stored.resource.emailVerified !== true) {
    await updateResource(repo, { ...stored.resource, emailVerified: true }, { skipValidation: true, author: { reference: `User/${activation.userId}` } });
  }
  return revokeUserSessions(deps.database, session, activation.userId, now);
}

/** The commit's outcome is unknown: decide from what the database now holds. */
async function settleAmbiguous(deps: SetPasswordDeps, activation: ActivationDoc, passwordHash: string): Promise<void> {
  const current = await deps.database.db.collection<ActivationDoc>(ACTIVATIONS).findOne({ _id: activation._id });
  const credentials = await credentialsCollection(deps.database).findOne({ _id: activation.userId });
  if (current?.usedAt && credentials?.passwordHash === passwordHash) {
    return;
  }
  throw new FhirError('FST_UNAVAILABLE', 'The password could not be saved just now: try again in a moment');
}
