import type { Project } from '@medplum/fhirtypes';
import type { MailMessage } from '../email/mail';
import { renderInviteEmail, type InviteEmailKind, type InviteTemplates } from './invite-templates';
import type { StoredUser } from './invite-user';

export interface InviteEmailInput {
  project: Project & { id: string };
  user: StoredUser;
  to: string;
  baseUrl: string;
  /** The activation link (a new or never-activated account); absent: the sign-in link is sent. */
  activation?: { url: string; expiresAt: Date };
}

function formatInstant(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * The invitation mail: a welcome with the activation link for an account that has no password
 * yet, or "you were added to {project}" with the sign-in link for an existing one.
 */
export function buildInviteEmail(templates: InviteTemplates, input: InviteEmailInput): MailMessage {
  const kind: InviteEmailKind = input.activation ? 'invite-new-user' : 'invite-existing-user';
  const link = input.activation?.url ?? `${input.baseUrl}signin`;
  const values = {
    projectName: input.project.name ?? `Project ${input.project.id}`,
    firstName: input.user.firstName ?? '',
    lastName: input.user.lastName ?? '',
    email: input.to,
    link,
    expiresAt: input.activation ? formatInstant(input.activation.expiresAt) : '',
  };
  const rendered = renderInviteEmail(templates, kind, input.project, values);
  return { to: input.to, ...rendered, kind, links: [link] };
}
