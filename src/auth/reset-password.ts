import type { User } from '@medplum/fhirtypes';
import type { Clock } from '../clock';
import type { Database } from '../db/database';
import { withTransaction } from '../db/transaction';
import type { EmailServices, MailMessage } from '../email/services';
import { findResources } from '../fhir/repository';
import { defaultUniqueKey } from '../fhir/unique-keys';
import { createActivation, type CreatedActivation } from './activation-store';
import { escapeHtml } from '../html';

export interface ResetPasswordDeps {
  database: Database;
  clock: Clock;
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
export async function findUserForReset(deps: Pick<ResetPasswordDeps, 'database' | 'clock'>, input: ResetPasswordInput): Promise<User | undefined> {
  const email = input.email.trim().toLowerCase();
  const probe = { resourceType: 'User', email, ...(input.projectId ? { project: { reference: `Project/${input.projectId}` } } : {}) } as User;
  const key = defaultUniqueKey(probe);
  if (!key) {
    return undefined;
  }
  const [user] = await findResources<User>({ database: deps.database, clock: deps.clock }, 'User', { uk: key }, 1);
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
    const activation = await createActivation({ database: deps.database, clock: deps.clock, baseUrl: deps.baseUrl, ttlMs: deps.ttlMs }, session, { userId, kind: 'reset', delivery: 'mail' });
    await deps.email.enqueue(session, resetMail(to, activation));
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
