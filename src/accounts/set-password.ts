import type { AuditTrail } from '../audit/trail';
import type { User } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { ClientSession } from 'mongodb';
import { KeyedLock } from '../db/keyed-lock';
import type { Store } from '../db/store';
import { AmbiguousCommitError, withTransaction } from '../db/transaction';
import type { EmailServices, MailMessage } from '../email/mail';
import { badRequest, FhirError } from '../errors';
import type { ChangeListener } from '../fhir/changes';
import { findResources, readStored, updateResource, type RepoContext } from '../fhir/repository';
import { defaultUniqueKey } from '../fhir/unique-keys';
import { escapeHtml } from '../html';
import { ACTIVATIONS, createActivation, loadUsableActivation, outstandingOf, type ActivationDoc, type CreatedActivation } from './activation';
import { readCredentials, setCredentials } from './credentials';
import { assertPasswordAcceptable, hashPassword } from './passwords';
import { endSessionsOnThisInstance, revokeUserSessions } from './sessions';

/**
 * Setting a password through an activation link (POST /auth/setpassword) and asking for a reset
 * link (POST /auth/resetpassword, whose work runs after the answer, see BackgroundTasks).
 */

export interface SetPasswordDeps extends Store {
  /** The repository's change listeners (the User's emailVerified change). */
  listeners?: readonly ChangeListener[];
  /** The audit trail: the activation or completed reset, in the password's transaction. */
  audit?: AuditTrail;
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
  /**
   * Called in the transaction of the password set, after it (the repository context carries its
   * session, actor and operation `activation`): the invite lifecycle marks the link's membership
   * accepted there, so the status and the password commit together.
   */
  onActivated?: (repo: RepoContext & { session: ClientSession }, activation: ActivationDoc) => Promise<void>;
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

async function applyActivation(deps: SetPasswordDeps, session: ClientSession, input: SetPasswordInput, passwordHash: string): Promise<string[]> {
  const activation = await loadUsableActivation(deps, input.id, input.secret, session);
  const now = deps.clock.now();
  const activations = deps.database.db.collection<ActivationDoc>(ACTIVATIONS);
  const claimed = await activations.updateOne(
    { _id: activation._id, usedAt: { $exists: false }, supersededAt: { $exists: false }, revokedAt: { $exists: false } },
    { $set: { usedAt: now } },
    { session },
  );
  if (claimed.matchedCount !== 1) {
    throw badRequest('This link was already used. Sign in with your password, or ask for a new link if you forgot it', 'id');
  }
  await activations.updateMany({ ...outstandingOf(activation.userId), _id: { $ne: activation._id } }, { $set: { supersededAt: now } }, { session });
  await setCredentials(deps.database, activation.userId, { passwordHash, passwordChangedAt: now }, session);
  const repo: RepoContext = { database: deps.database, clock: deps.clock, session, listeners: deps.listeners, actor: { principal: { reference: `User/${activation.userId}` } }, operation: 'activation' };
  const stored = await readStored<User>(repo, 'User', activation.userId);
  if (!stored || stored.deleted) {
    throw badRequest('The account this link was sent for no longer exists', 'id');
  }
  if (activation.mailed === true && stored.resource.emailVerified !== true) {
    await updateResource(repo, { ...stored.resource, emailVerified: true }, { skipValidation: true, author: { reference: `User/${activation.userId}` } });
  }
  await deps.onActivated?.({ ...repo, session }, activation);
  const project = activation.projectId ?? stored.project;
  const entities = [{ what: { reference: `User/${activation.userId}` }, role: '11' as const, detail: { membership: activation.membershipId && `ProjectMembership/${activation.membershipId}`, emailVerified: activation.mailed === true } }];
  await deps.audit?.write(session, { kind: activation.kind === 'reset' ? 'password-reset-completed' : 'activation', actor: repo.actor, project, entities });
  return revokeUserSessions(deps.database, session, activation.userId, now);
}

/** The commit's outcome is unknown: decide from what the database now holds. */
async function settleAmbiguous(deps: SetPasswordDeps, activation: ActivationDoc, passwordHash: string): Promise<void> {
  const current = await deps.database.db.collection<ActivationDoc>(ACTIVATIONS).findOne({ _id: activation._id });
  const credentials = await readCredentials(deps.database, activation.userId);
  if (current?.usedAt && credentials?.passwordHash === passwordHash) {
    return;
  }
  throw new FhirError('FST_UNAVAILABLE', 'The password could not be saved just now: try again in a moment');
}

// --- Password reset ---------------------------------------------------------------------------

export interface ResetPasswordDeps extends Store {
  /** The audit trail: the request, in the transaction of its link (only when the account exists). */
  audit?: AuditTrail;
  baseUrl: string;
  /** Lifetime of the emailed link. */
  ttlMs: number;
  email: Pick<EmailServices, 'enqueue'>;
}

export interface ResetPasswordInput {
  email: string;
  /** Look for a project-scoped user of this project; absent: a server-scoped user. */
  projectId?: string;
}

/** The same answer whether or not the account exists (no account enumeration). */
export const RESET_ANSWER = 'If the account exists, an email was sent with a link to set a new password';

/** The user a reset is for: by email among server-scoped users, or within one project. */
export async function findUserForReset(deps: Store, input: ResetPasswordInput): Promise<User | undefined> {
  const email = input.email.trim().toLowerCase();
  const probe = { resourceType: 'User', email, ...(input.projectId ? { project: { reference: `Project/${input.projectId}` } } : {}) } as User;
  const key = defaultUniqueKey(probe);
  if (!key) {
    return undefined;
  }
  const [user] = await findResources<User>(deps, 'User', { uk: key }, 1);
  return user;
}

/**
 * Writes a `reset` activation request and its email in one transaction when the account exists;
 * does nothing otherwise. Answers whether a mail was queued (for tests; never tell the caller).
 */
export async function requestPasswordReset(deps: ResetPasswordDeps, input: ResetPasswordInput): Promise<boolean> {
  const user = await findUserForReset(deps, input);
  if (!user?.id || !user.email) {
    return false;
  }
  const userId = user.id;
  const to = user.email;
  await withTransaction(deps.database, async (session) => {
    const activation = await createActivation(deps, session, { userId, kind: 'reset', delivery: 'mail' });
    await deps.email.enqueue(session, resetMail(to, activation));
    await deps.audit?.write(session, { kind: 'password-reset-requested', project: user.project?.reference?.split('/')[1], entities: [{ what: { reference: `User/${userId}` }, role: '11' }] });
  });
  return true;
}

function resetMail(to: string, activation: CreatedActivation): MailMessage {
  const expires = activation.expiresAt.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const text = [
    'Someone asked to set a new password for your account.',
    '',
    'To choose a new password, open this link:',
    '',
    activation.url,
    '',
    `The link works once and expires on ${expires}.`,
    'If you did not ask for this, ignore this email: your password stays as it is.',
    '',
  ].join('\n');
  const url = escapeHtml(activation.url);
  const html = [
    '<p>Someone asked to set a new password for your account.</p>',
    `<p><a href="${url}">Choose a new password</a></p>`,
    `<p>Or copy this link into your browser: ${url}</p>`,
    `<p>The link works once and expires on ${escapeHtml(expires)}.</p>`,
    '<p>If you did not ask for this, ignore this email: your password stays as it is.</p>',
  ].join('\n');
  return { to, subject: 'Set a new password', text, html, kind: 'password-reset', links: [activation.url] };
}


/**
 * Work a request starts but does not wait for (e.g. the password reset, done after its answer so
 * the answer's timing tells nothing). Tasks with the same key run one after another; a task's
 * error is logged (its name and error class only: messages can carry addresses) and never
 * reaches the caller. `drain()` waits for everything started so far: the app calls it when it
 * closes, tests call it to see the work's effects.
 */
export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();
  private readonly lock = new KeyedLock();

  constructor(private readonly log: FastifyBaseLogger) {}

  run(name: string, key: string, work: () => Promise<unknown>): void {
    const task = this.lock
      .run(key, work)
      .then(() => undefined)
      .catch((err: unknown) => {
        const { name: type, code } = (err ?? {}) as { name?: string; code?: unknown };
        this.log.error({ task: name, error: type ?? 'Error', ...(code !== undefined ? { code } : {}) }, `background task "${name}" failed`);
      })
      .finally(() => this.running.delete(task));
    this.running.add(task);
  }

  /** Resolves once every task started before (and while) waiting has settled. */
  async drain(): Promise<void> {
    while (this.running.size > 0) {
      await Promise.all([...this.running]);
    }
  }
}
