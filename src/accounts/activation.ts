import type { ClientSession, Filter } from 'mongodb';
import type { Project } from '@medplum/fhirtypes';
import { recordWrite } from '../db/commit-ledger';
import type { Store } from '../db/store';
import { badRequest, type FhirError } from '../errors';
import { readCurrent } from '../fhir/repository';
import { matchesHash, randomSecret, sha256Hex } from './passwords';

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
  /** An invitation link: the ProjectMembership it invites into, and its project. */
  membershipId?: string;
  projectId?: string;
  /** The invitation was withdrawn ($revoke-invite): the link stops working and says so. */
  revokedAt?: Date;
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
  /** For an invitation link: the membership it invites into and its project. */
  membershipId?: string;
  projectId?: string;
}

/** How an activation secret is stored (SHA-256 hex, like every high-entropy secret). */
export const hashSecret = sha256Hex;

/** The user's requests that could still be used (neither used, superseded nor revoked). */
export function outstandingOf(userId: string): Filter<ActivationDoc> {
  return { userId, usedAt: { $exists: false }, supersededAt: { $exists: false }, revokedAt: { $exists: false } };
}

/** Writes a new activation request in the caller's transaction and answers its link. */
export async function createActivation(
  deps: Store & { baseUrl: string; ttlMs: number },
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
  const doc: ActivationDoc = { _id: id, userId: input.userId, kind: input.kind, secretHash: hashSecret(secret), mailed: input.delivery === 'mail', createdAt: now, expiresAt };
  if (input.membershipId) {
    doc.membershipId = input.membershipId;
  }
  if (input.projectId) {
    doc.projectId = input.projectId;
  }
  await collection.insertOne(doc, { session });
  recordWrite(session, { collection: ACTIVATIONS, id });
  return { id, secret, url: `${deps.baseUrl}setpassword/${id}/${secret}`, expiresAt };
}

/** Deletes every activation request of an account (the account is deleted). */
export async function deleteActivations(store: Store, session: ClientSession, userId: string): Promise<void> {
  await store.database.db.collection<ActivationDoc>(ACTIVATIONS).deleteMany({ userId }, { session });
}

/** The kinds of activation request that may set a password. */
const PASSWORD_KINDS: ReadonlySet<ActivationDoc['kind']> = new Set(['invite', 'reset']);

/** A hash nobody's secret has, compared against when the id is unknown (same work either way). */
const NO_SUCH_HASH = hashSecret('no such activation request');

/**
 * Marks the unused links of an invitation revoked (its membership's, or every one of `userId`
 * when the account goes with it), in the caller's transaction: they stop working at once, and
 * say that the invitation was withdrawn. Answers how many.
 */
export async function revokeInvitationLinks(store: Store, session: ClientSession, filter: { membershipId: string } | { userId: string }, now: Date): Promise<number> {
  const result = await store.database.db
    .collection<ActivationDoc>(ACTIVATIONS)
    .updateMany({ ...filter, usedAt: { $exists: false }, revokedAt: { $exists: false } }, { $set: { revokedAt: now } }, { session });
  return result.modifiedCount;
}

/**
 * Why an activation link cannot be used, as a 400 a person understands, or undefined when it can.
 * The secret is checked first (in constant time) so that nobody without it learns anything about
 * the request (used, expired...). `projectName`: the project an invitation link is for, named
 * when it was withdrawn or expired (who to ask), nothing else about it.
 */
export function activationProblem(activation: ActivationDoc | null | undefined, secret: string, now: Date, projectName?: string): FhirError | undefined {
  const matches = matchesHash(secret, activation?.secretHash ?? NO_SUCH_HASH);
  if (!activation) {
    return badRequest('This link is not valid: check that you opened the whole link from the email', 'id');
  }
  if (!matches) {
    return badRequest('This link is not valid: check that you opened the whole link from the email', 'secret');
  }
  if (!PASSWORD_KINDS.has(activation.kind)) {
    return badRequest('This link cannot be used to set a password', 'id');
  }
  if (activation.usedAt) {
    return badRequest('This link was already used. Sign in with your password, or ask for a new link if you forgot it', 'id');
  }
  if (activation.revokedAt) {
    const project = projectName ?? 'the project';
    return badRequest(`This invitation to ${project} was withdrawn. If you think you should have access, ask an administrator of ${project}`, 'id');
  }
  if (activation.supersededAt) {
    return badRequest('A newer link was sent for this account: use the link in the most recent email', 'id');
  }
  if (activation.expiresAt.getTime() <= now.getTime()) {
    if (activation.projectId) {
      const project = projectName ?? 'the project';
      return badRequest(`This invitation to ${project} has expired. Ask an administrator of ${project} to send you a new one`, 'id');
    }
    return badRequest('This link has expired: request a password reset, or ask your administrator to invite you again', 'id');
  }
  return undefined;
}

/**
 * activationProblem, naming the project of an invitation link that was withdrawn or expired (read
 * only then, and only once the secret matched: nobody without the link learns the project).
 */
export async function activationProblemNamed(store: Store, activation: ActivationDoc | null | undefined, secret: string, session?: ClientSession): Promise<FhirError | undefined> {
  const now = store.clock.now();
  const problem = activationProblem(activation, secret, now);
  const named = activation?.projectId && (activation.revokedAt || activation.expiresAt.getTime() <= now.getTime()) && matchesHash(secret, activation.secretHash);
  if (!problem || !named) {
    return problem;
  }
  const project = await readCurrent<Project>({ ...store, session }, 'Project', activation.projectId);
  return activationProblem(activation, secret, now, project?.name || undefined);
}

/** Reads an activation request and throws the person-readable 400 unless it may be used now. */
export async function loadUsableActivation(deps: Store, id: string, secret: string, session?: ClientSession): Promise<ActivationDoc> {
  const activation = await deps.database.db.collection<ActivationDoc>(ACTIVATIONS).findOne({ _id: id }, { session });
  const problem = await activationProblemNamed(deps, activation, secret, session);
  if (problem) {
    throw problem;
  }
  return activation as ActivationDoc;
}
