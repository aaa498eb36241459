import type { ClientSession } from 'mongodb';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { badRequest, type FhirError } from '../errors';
import { ACTIVATIONS, hashSecret, type ActivationDoc } from './activation-store';
import { matchesHash } from './secrets';

/** The kinds of activation request that may set a password. */
const PASSWORD_KINDS: ReadonlySet<ActivationDoc['kind']> = new Set(['invite', 'reset']);

/** A hash nobody's secret has, compared against when the id is unknown (same work either way). */
const NO_SUCH_HASH = hashSecret('no such activation request');

/**
 * Why an activation link cannot be used, as a 400 a person understands, or undefined when it can.
 * The secret is checked first (in constant time) so that nobody without it learns anything about
 * the request (used, expired...).
 */
export function activationProblem(activation: ActivationDoc | null | undefined, secret: string, now: Date): FhirError | undefined {
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
  if (activation.supersededAt) {
    return badRequest('A newer link was sent for this account: use the link in the most recent email', 'id');
  }
  if (activation.expiresAt.getTime() <= now.getTime()) {
    return badRequest('This link has expired: request a password reset, or ask your administrator to invite you again', 'id');
  }
  return undefined;
}

export interface ActivationDeps {
  database: Database;
  clock: Clock;
}

/** Reads an activation request and throws the person-readable 400 unless it may be used now. */
export async function loadUsableActivation(deps: ActivationDeps, id: string, secret: string, session?: ClientSession): Promise<ActivationDoc> {
  const activation = await deps.database.db.collection<ActivationDoc>(ACTIVATIONS).findOne({ _id: id }, { session });
  const problem = activationProblem(activation, secret, deps.clock.now());
  if (problem) {
    throw problem;
  }
  return activation as ActivationDoc;
}
