import type { ClientApplication, HumanName, Project, Resource, User } from '@medplum/fhirtypes';
import type { AuthContext } from '../accounts/auth-context';
import type { MailMessage } from '../email/mail';
import { readStored, type RepoContext } from '../fhir/repository';
import { renderInviteEmail, type InviteEmailKind, type InviteTemplates } from './invite-templates';
import type { StoredUser } from './invite-user';

export interface InviteEmailInput {
  project: Project & { id: string };
  user: StoredUser;
  to: string;
  baseUrl: string;
  /** The activation link (a new or never-activated account); absent: the sign-in link is sent. */
  activation?: { url: string; expiresAt: Date };
  /** Who invited them, as the mail names them (see inviterName); absent: not named. */
  inviter?: string;
  /** The invite requires MFA: the mail says an authenticator app will be set up at first sign-in. */
  mfaRequired?: boolean;
}

const PROFILE_TYPES: ReadonlySet<string> = new Set(['Practitioner', 'Patient', 'RelatedPerson', 'ClientApplication']);

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const twoDigits = (n: number): string => String(n).padStart(2, '0');

/**
 * "Thursday, 22 January 2026 at 12:00 UTC": what Intl.DateTimeFormat('en-GB') writes, built by
 * hand because ICU's date-format data costs ~5 MB of resident memory for this one line.
 */
export function formatInstant(date: Date): string {
  const time = `${twoDigits(date.getUTCHours())}:${twoDigits(date.getUTCMinutes())}`;
  return `${WEEKDAYS[date.getUTCDay()]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} at ${time} UTC`;
}

function humanName(names: HumanName[] | undefined): string | undefined {
  const name = names?.[0];
  const text = name?.text ?? [...(name?.given ?? []), name?.family].filter(Boolean).join(' ');
  return text?.trim() || undefined;
}

/**
 * The name the invitation gives for who sent it: the caller's profile name (a Practitioner's,
 * a client's), else the first and last name of their account. Never their email address.
 */
export async function inviterName(repo: RepoContext, caller: AuthContext): Promise<string | undefined> {
  const [type, id] = (caller.profile.reference ?? '').split('/');
  if (PROFILE_TYPES.has(type) && id) {
    const profile = await readStored<Resource>(repo, type, id);
    const resource = profile && !profile.deleted ? (profile.resource as { name?: HumanName[] | string }) : undefined;
    const name = typeof resource?.name === 'string' ? resource.name : humanName(resource?.name);
    if (name) {
      return name;
    }
  }
  if (caller.userType === 'User') {
    const user = await readStored<User>(repo, 'User', caller.userId);
    const name = [user?.resource.firstName, user?.resource.lastName].filter(Boolean).join(' ').trim();
    return name || undefined;
  }
  const client = await readStored<ClientApplication>(repo, 'ClientApplication', caller.userId);
  return client?.resource.name || undefined;
}

/**
 * The invitation mail: a welcome with the activation link for an account that has no password
 * yet, or "you were added to {project}" with the sign-in link for an existing one. Both name the
 * project and the inviter, say what comes next (an authenticator app when MFA is required) and,
 * for the welcome, when the link expires.
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
    inviterName: input.inviter ?? '',
    mfaRequired: input.mfaRequired ? 'yes' : '',
  };
  const rendered = renderInviteEmail(templates, kind, input.project, values);
  return { to: input.to, ...rendered, kind, links: [link] };
}
