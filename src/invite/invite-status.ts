import type { Extension, ProjectMembership, Reference, Resource } from '@medplum/fhirtypes';

/**
 * The invite status of a ProjectMembership that came from Project/$invite: the complex extension
 * defined in fhir-profiles/structure-definition-invite-status.json (searchable with the
 * ProjectMembership search parameter `invite-status`). This module is the one place that names
 * the extension and reads or writes its shape; everything else (the lifecycle operations, the
 * REST reads, the admin members list, the pages) goes through it.
 *
 * Stored statuses are `pending`, `accepted` and `revoked`. `expired` is never stored: a pending
 * invitation whose `expiresAt` has passed is presented as expired when read (inviteStatusOf,
 * presentInviteStatus) and searched as expired (the SearchParameter's expiring code).
 */
export const INVITE_STATUS_URL = 'https://fhir-invite-server.example/fhir/StructureDefinition/invite-status';

export const INVITE_STATUSES = ['pending', 'accepted', 'expired', 'revoked'] as const;
export type InviteStatus = (typeof INVITE_STATUSES)[number];
export type StoredInviteStatus = Exclude<InviteStatus, 'expired'>;

/** Statuses for which `$resend-invite` and `$revoke-invite` apply (the Users tab's buttons). */
export const RESENDABLE_STATUSES: readonly InviteStatus[] = ['pending', 'expired'];

/** The extension's content, as stored (instants as FHIR dateTime strings). */
export interface InviteState {
  status: StoredInviteStatus;
  /** The profile of who sent the latest invitation. */
  invitedBy?: Reference;
  invitedAt?: string;
  lastSentAt?: string;
  /** Invitation mails queued and links handed out, in all. */
  sendCount: number;
  /** When the latest activation link expires; absent when none is outstanding. */
  expiresAt?: string;
  acceptedAt?: string;
}

const STORED: ReadonlySet<string> = new Set(['pending', 'accepted', 'revoked']);

function extensionOf(membership: Pick<ProjectMembership, 'extension'>): Extension | undefined {
  return membership.extension?.find((e) => e.url === INVITE_STATUS_URL);
}

function part(extension: Extension, url: string): Extension | undefined {
  return extension.extension?.find((e) => e.url === url);
}

/** The stored invite state of a membership, or undefined when it did not come from an invite. */
export function readInviteState(membership: Pick<ProjectMembership, 'extension'>): InviteState | undefined {
  const extension = extensionOf(membership);
  const status = extension ? part(extension, 'status')?.valueCode : undefined;
  if (!extension || !status || !STORED.has(status)) {
    return undefined;
  }
  const instant = (url: string): string | undefined => part(extension, url)?.valueDateTime;
  const count = part(extension, 'sendCount');
  const state: InviteState = { status: status as StoredInviteStatus, sendCount: count?.valueUnsignedInt ?? count?.valueInteger ?? 0 };
  const invitedBy = part(extension, 'invitedBy')?.valueReference;
  if (invitedBy) {
    state.invitedBy = invitedBy;
  }
  for (const key of ['invitedAt', 'lastSentAt', 'expiresAt', 'acceptedAt'] as const) {
    const value = instant(key);
    if (value) {
      state[key] = value;
    }
  }
  return state;
}

/** A pending state whose link's time is up at `now`. */
export function hasExpired(state: InviteState, now: Date): boolean {
  return state.status === 'pending' && state.expiresAt !== undefined && Date.parse(state.expiresAt) <= now.getTime();
}

/** The invite status of a membership at `now` (expired computed), or undefined when it carries none. */
export function inviteStatusOf(membership: Pick<ProjectMembership, 'extension'>, now: Date): InviteStatus | undefined {
  const state = readInviteState(membership);
  if (!state) {
    return undefined;
  }
  return hasExpired(state, now) ? 'expired' : state.status;
}

/** The extension for a state (sub-extensions in the StructureDefinition's order). */
function inviteExtension(state: InviteState, shown: InviteStatus = state.status): Extension {
  const parts: Extension[] = [{ url: 'status', valueCode: shown }];
  if (state.invitedBy) {
    parts.push({ url: 'invitedBy', valueReference: state.invitedBy });
  }
  if (state.invitedAt) {
    parts.push({ url: 'invitedAt', valueDateTime: state.invitedAt });
  }
  if (state.lastSentAt) {
    parts.push({ url: 'lastSentAt', valueDateTime: state.lastSentAt });
  }
  parts.push({ url: 'sendCount', valueUnsignedInt: state.sendCount });
  if (state.expiresAt) {
    parts.push({ url: 'expiresAt', valueDateTime: state.expiresAt });
  }
  if (state.acceptedAt) {
    parts.push({ url: 'acceptedAt', valueDateTime: state.acceptedAt });
  }
  return { url: INVITE_STATUS_URL, extension: parts };
}

/** The membership's extensions with the invite status replaced (kept in place) or added. */
function replaceExtension(extensions: readonly Extension[] | undefined, extension: Extension | undefined): Extension[] | undefined {
  const list = [...(extensions ?? [])];
  const index = list.findIndex((e) => e.url === INVITE_STATUS_URL);
  if (index >= 0) {
    list.splice(index, 1, ...(extension ? [extension] : []));
  } else if (extension) {
    list.push(extension);
  }
  return list.length > 0 ? list : undefined;
}

function withExtensions<T extends ProjectMembership>(membership: T, extensions: Extension[] | undefined): T {
  const copy = { ...membership };
  if (extensions) {
    copy.extension = extensions;
  } else {
    delete copy.extension;
  }
  return copy;
}

/** A copy of the membership carrying this invite state. */
export function withInviteState<T extends ProjectMembership>(membership: T, state: InviteState): T {
  return withExtensions(membership, replaceExtension(membership.extension, inviteExtension(state)));
}

/**
 * The resource as a reader sees it at `now`: a ProjectMembership whose pending invitation has
 * expired shows `expired`; anything else is returned as it is (the same object).
 */
export function presentInviteStatus<T extends Resource>(resource: T, now: Date): T {
  if (resource.resourceType !== 'ProjectMembership') {
    return resource;
  }
  const membership = resource as unknown as ProjectMembership;
  const state = readInviteState(membership);
  if (!state || !hasExpired(state, now)) {
    return resource;
  }
  return withExtensions(membership, replaceExtension(membership.extension, inviteExtension(state, 'expired'))) as unknown as T;
}

/**
 * The invite status is the server's: a membership written through the REST API keeps the stored
 * one (`stored`: the version it replaces; none for a create), whatever the body says (a status
 * read as `expired` and sent back stays the stored `pending`).
 */
export function keepStoredInviteStatus<T extends ProjectMembership>(candidate: T, stored: ProjectMembership | undefined): T {
  const kept = stored ? extensionOf(stored) : undefined;
  if (!extensionOf(candidate) && !kept) {
    return candidate;
  }
  return withExtensions(candidate, replaceExtension(candidate.extension, kept));
}
