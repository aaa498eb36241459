import type { Project, ProjectMembership, Reference, Resource, User } from '@medplum/fhirtypes';
import { guardAdminMembership } from '../access/admin-guard';
import { FhirError } from '../errors';
import { createResource, updateResource, type RepoContext, type StoredResource } from '../fhir/repository';
import { defaultUniqueKey } from '../fhir/unique-keys';
import { withMfaRequired } from '../accounts/memberships';
import type { MembershipAccess } from './invite-access';
import type { InviteRequest } from './invite-request';
import type { ProfileResource } from './invite-profile';
import { membershipsOfUser, type StoredUser } from './invite-user';
import { refuseConflict } from './invite-errors';
import { isReopenable } from './invite-lifecycle';
import { withInviteState, type InviteState } from './invite-status';

export type StoredMembership = ProjectMembership & { id: string };

/** What the invite will do with memberships, decided before anything is written. */
export type MembershipPlan = { action: 'create' } | { action: 'extra' } | { action: 'update'; current: StoredMembership; reopen?: boolean };

/** The user's current memberships in the project, the primary one (default unique key) first. */
export async function findMemberships(repo: RepoContext, projectId: string, userId: string): Promise<StoredMembership[]> {
  const docs = await repo.database.db
    .collection<StoredResource<ProjectMembership>>('ProjectMembership')
    .find({ ...membershipsOfUser(projectId, `User/${userId}`), deleted: false }, { session: repo.session, limit: 50 })
    .toArray();
  const primaryKey = `ProjectMembership|Project/${projectId}|User/${userId}`;
  return docs.sort((a, b) => Number(b.uk === primaryKey) - Number(a.uk === primaryKey)).map((d) => d.resource as StoredMembership);
}

/**
 * Already a member → 409, unless upsert (update the primary membership) or forceNewMembership.
 * An invitation that was revoked or expired is reopened (the same membership, pending again):
 * the primary membership when it is one, or `removed`, the revoked membership of a
 * project-scoped account its revocation removed (see findRevokedOfRemovedUser).
 */
export function planMembership(request: InviteRequest, existing: StoredMembership[], now: Date, removed?: StoredMembership): MembershipPlan {
  if (existing.length === 0) {
    return removed ? { action: 'update', current: removed, reopen: true } : { action: 'create' };
  }
  if (request.forceNewMembership) {
    return { action: 'extra' };
  }
  if (isReopenable(existing[0], request, now)) {
    return { action: 'update', current: existing[0], reopen: true };
  }
  if (request.upsert) {
    return { action: 'update', current: existing[0] };
  }
  throw refuseConflict('User is already a member of this project (use upsert to update the membership, or forceNewMembership for another one)');
}

/** An externalId names one member of a project: another member using it → 409. */
export async function refuseTakenExternalId(repo: RepoContext, projectId: string, externalId: string | undefined, userId: string | undefined): Promise<void> {
  if (!externalId) {
    return;
  }
  const holder = await repo.database.db
    .collection<StoredResource<ProjectMembership>>('ProjectMembership')
    .findOne({ project: projectId, deleted: false, 'resource.externalId': externalId, 'resource.user.reference': { $ne: `User/${userId ?? ''}` } }, { session: repo.session });
  if (holder) {
    throw refuseConflict(`Another member of this project already has the externalId "${externalId}"`, 'externalId');
  }
}

function reference<T extends Resource>(ref: string, display?: string): Reference<T> {
  return display ? { reference: ref, display } : { reference: ref };
}

function displayName(first?: string, last?: string): string | undefined {
  const text = [first, last].filter(Boolean).join(' ').trim();
  return text || undefined;
}

/**
 * Copies the template fields that are set (never project, user or profile). `mfaRequired: true`
 * marks the membership: signing in to it demands MFA (see auth/membership-mfa.ts).
 */
function templateFields(request: InviteRequest, current?: ProjectMembership): Partial<ProjectMembership> {
  const { admin, externalId, userName } = request.membership;
  const fields: Partial<ProjectMembership> = {};
  if (request.mfaRequired) {
    fields.extension = withMfaRequired(current?.extension);
  }
  if (admin !== undefined) {
    fields.admin = admin;
  }
  if (externalId !== undefined) {
    fields.externalId = externalId;
  }
  if (userName !== undefined) {
    fields.userName = userName;
  }
  return fields;
}

export interface MembershipInput {
  /** The id of a new membership (an update keeps the current one). */
  id: string;
  project: Project & { id: string };
  user: StoredUser;
  profile: ProfileResource;
  invitedBy: Reference<User>;
  access: MembershipAccess;
  /** The invite status the membership carries after this invite (invite-lifecycle.ts). */
  inviteState: InviteState;
}

/** An upsert with `admin: false` must not demote the project owner or its last administrator (409). */
async function refuseAdminRemoval(repo: RepoContext, current: StoredMembership, updated: ProjectMembership): Promise<void> {
  try {
    await guardAdminMembership(repo, current, updated);
  } catch (err) {
    if (err instanceof FhirError && err.code === 'FST_CONFLICT') {
      throw refuseConflict(err.message, 'membership.admin');
    }
    throw err;
  }
}

/**
 * Writes the membership of the plan. An update keeps id, project, user and the first inviter and
 * refuses another profile (409); an extra membership gets its own unique key.
 */
export async function writeMembership(repo: RepoContext, request: InviteRequest, plan: MembershipPlan, input: MembershipInput): Promise<{ membership: StoredMembership; created: boolean }> {
  const { project, user, profile } = input;
  const links = {
    project: reference<Project>(`Project/${project.id}`, project.name),
    user: reference<User>(`User/${user.id}`, user.email ?? displayName(user.firstName, user.lastName)),
    profile: reference<ProfileResource>(`${profile.resourceType}/${profile.id}`, displayName(profile.name?.[0]?.given?.join(' '), profile.name?.[0]?.family)),
  };
  if (plan.action === 'update') {
    const current = plan.current;
    if (current.profile?.reference !== links.profile.reference) {
      throw refuseConflict('User is already a member of this project with a different profile', 'membership.profile');
    }
    const access = request.membership.accessPolicy || request.membership.access ? input.access : {};
    const updated: ProjectMembership = withInviteState({
      ...current,
      ...templateFields(request, current),
      ...access,
      resourceType: 'ProjectMembership',
      id: current.id,
      project: links.project,
      user: links.user,
      profile: links.profile,
      invitedBy: current.invitedBy ?? input.invitedBy,
      // A reopened invitation (revoked or expired) is active again.
      ...(plan.reopen ? { active: true } : {}),
    }, input.inviteState);
    await refuseAdminRemoval(repo, current, updated);
    const result = await updateResource<ProjectMembership>(repo, updated, { ifMatch: current.meta?.versionId });
    return { membership: result.resource as StoredMembership, created: false };
  }
  const resource: ProjectMembership = withInviteState({
    resourceType: 'ProjectMembership',
    ...links,
    invitedBy: input.invitedBy,
    ...templateFields(request),
    ...input.access,
  }, input.inviteState);
  const id = input.id;
  const options = plan.action === 'extra' ? { project: project.id, uniqueKey: `${defaultUniqueKey(resource)}|${id}` } : { project: project.id };
  const membership = await createResource<ProjectMembership>(repo, resource, options, id);
  return { membership: membership as StoredMembership, created: true };
}
