import type { Extension, ProjectMembership } from '@medplum/fhirtypes';

/**
 * Where the Users tab reads a member's invite status: the invite-lifecycle extension on the
 * ProjectMembership. The lifecycle defines the extension (its StructureDefinition in
 * fhir-profiles/); this is the ONE place the pages and GET /admin/projects/{id} name it, so
 * that work changes only these constants and this reader if its shape differs.
 *
 * Shape read: a complex extension at INVITE_STATUS_URL with a `status` sub-extension
 * (valueCode pending | accepted | expired | revoked) and an `expiresAt` sub-extension
 * (valueDateTime); a stored `pending` whose `expiresAt` has passed reads as `expired`.
 * A simple extension with a valueCode at that URL is read as the status too.
 */
export const INVITE_STATUS_URL = 'https://fhir-invite-server.example/fhir/StructureDefinition/invite-status';

export const INVITE_STATUSES = ['pending', 'accepted', 'expired', 'revoked'] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];

/** Statuses for which "Resend invite" and "Revoke" apply. */
export const RESENDABLE_STATUSES: readonly InviteStatus[] = ['pending', 'expired'];

function isStatus(value: unknown): value is InviteStatus {
  return typeof value === 'string' && (INVITE_STATUSES as readonly string[]).includes(value);
}

function sub(extension: Extension, url: string): Extension | undefined {
  return extension.extension?.find((e) => e.url === url);
}

/** The invite status of a membership at `now`, or undefined when it carries none. */
export function inviteStatusOf(membership: Pick<ProjectMembership, 'extension'>, now: Date): InviteStatus | undefined {
  const extension = membership.extension?.find((e) => e.url === INVITE_STATUS_URL);
  if (!extension) {
    return undefined;
  }
  const stored = extension.valueCode ?? sub(extension, 'status')?.valueCode;
  if (!isStatus(stored)) {
    return undefined;
  }
  const expiresAt = sub(extension, 'expiresAt')?.valueDateTime;
  if (stored === 'pending' && expiresAt && Date.parse(expiresAt) <= now.getTime()) {
    return 'expired';
  }
  return stored;
}
