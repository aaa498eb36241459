import type { ClientSession } from 'mongodb';
import type { Project, ProjectMembership, User } from '@medplum/fhirtypes';
import { insertCredentials, readCredentials } from '../accounts/credentials';
import { createResource, findResources, idOf, readCurrent, updateResource, type RepoContext, type StoredResource } from '../fhir/repository';
import { defaultUniqueKey } from '../fhir/unique-keys';
import { storedField } from '../fhir/search/supported-params';
import { newId } from '../clock';
import type { InviteRequest, UserScope } from './invite-request';
import { refuseConflict } from './invite-errors';

export type StoredUser = User & { id: string };

/**
 * The filter of a project's memberships of a user: by the derived `user` search field, whose
 * index ({ project, sp.user }) finds them, and the reference exactly as stored.
 */
export function membershipsOfUser(projectId: string, userReference: string): Record<string, unknown> {
  return { project: projectId, [storedField('reference', 'user')]: userReference, 'resource.user.reference': userReference };
}

export interface ResolvedUser {
  user: StoredUser;
  created: boolean;
  /** No password yet: the account was never activated. */
  pending: boolean;
}

function projectRef(projectId: string): { reference: string } {
  return { reference: `Project/${projectId}` };
}

/** The unique key of the User with this email in a scope (see unique-keys.ts). */
export function userKey(scope: UserScope, projectId: string, email: string): string {
  const probe: User = { resourceType: 'User', firstName: '', lastName: '', email };
  if (scope === 'project') {
    probe.project = projectRef(projectId);
  }
  return defaultUniqueKey(probe) as string;
}

/** A project-scoped User known by externalId: through a membership of the project, or on the User. */
async function findByExternalId(repo: RepoContext, projectId: string, externalId: string): Promise<StoredUser | undefined> {
  const memberships = await findResources<ProjectMembership>(repo, 'ProjectMembership', { project: projectId, 'resource.externalId': externalId }, 2);
  const userId = memberships.map((m) => idOf(m.user, 'User')).find((id) => id !== undefined);
  const user = await readCurrent<User>(repo, 'User', userId);
  if (user) {
    return user as StoredUser;
  }
  const users = await findResources<User>(repo, 'User', { project: projectId, 'resource.externalId': externalId, 'resource.project.reference': `Project/${projectId}` }, 1);
  return users[0] as StoredUser | undefined;
}

export interface InviteUsers {
  /** The existing User this invite is for. */
  invited?: StoredUser;
  /** For an email invite: the User with that email in the other scope (server or project). */
  otherScope?: StoredUser;
}

const otherScopeOf = (scope: UserScope): UserScope => (scope === 'server' ? 'project' : 'server');

/** The Users an invite needs to know about; for an email, both scopes in one indexed read (unique keys). */
export async function findInviteUsers(repo: RepoContext, projectId: string, request: InviteRequest): Promise<InviteUsers> {
  if (!request.email) {
    return { invited: await findByExternalId(repo, projectId, request.externalId as string) };
  }
  const invitedKey = userKey(request.scope, projectId, request.email);
  const otherKey = userKey(otherScopeOf(request.scope), projectId, request.email);
  const docs = await repo.database.db
    .collection<StoredResource<User>>('User')
    .find({ uk: { $in: [invitedKey, otherKey] }, deleted: false }, { session: repo.session, limit: 2 })
    .toArray();
  const byKey = (uk: string): StoredUser | undefined => docs.find((d) => d.uk === uk)?.resource as StoredUser | undefined;
  return { invited: byKey(invitedKey), otherScope: byKey(otherKey) };
}

/** Whether a User has a non-deleted membership in the project. */
async function isMember(repo: RepoContext, projectId: string, userId: string): Promise<boolean> {
  const found = await findResources(repo, 'ProjectMembership', membershipsOfUser(projectId, `User/${userId}`), 1);
  return found.length > 0;
}

/**
 * The existing User this invite is for, given the Users with its email in both scopes
 * (findInviteUsers). The same email already a member of this project under the other scope →
 * 409, except for `forceNewMembership` without an explicit scope: that person gets another
 * membership on the account they already have here (e.g. a server-scoped Practitioner invited
 * again as a Patient, whose default scope is project).
 */
export async function resolveInvitee(repo: RepoContext, projectId: string, request: InviteRequest, users: InviteUsers): Promise<StoredUser | undefined> {
  const other = users.otherScope;
  if (!request.email || !other || !(await isMember(repo, projectId, other.id))) {
    return users.invited;
  }
  if (!users.invited && request.forceNewMembership && !request.scopeGiven) {
    return other;
  }
  const otherScope = otherScopeOf(request.scope);
  throw refuseConflict(
    `User is already a member of this project (as a ${otherScope}-scoped user with this email); invite them with scope "${otherScope}"`,
    'scope',
  );
}

/**
 * Whether an invite into `projectId` may change the account-level settings (names, mfaRequired,
 * password) of an existing User: only of a project-scoped User of that very project. A
 * server-scoped account belongs to its owner, whichever projects it joins.
 */
export function controlsAccount(user: User, projectId: string): boolean {
  return user.project?.reference === `Project/${projectId}`;
}

/** Whether the account has a password (it was activated, or given one at its invite). */
export async function hasPassword(repo: RepoContext, userId: string): Promise<boolean> {
  const credentials = await readCredentials(repo.database, userId, repo.session);
  return typeof credentials?.passwordHash === 'string' && credentials.passwordHash.length > 0;
}

/**
 * Reuses the User or creates one: project-scoped (in the project, visible to its admins) or
 * server-scoped. A new User gets a password only when one was given (hashed before the
 * transaction; only project-scoped ones may get one, see invite-request.ts) and `mfaRequired`.
 * An existing one keeps its names and password; `mfaRequired: true` is applied to it only when
 * the inviting project controls the account (controlsAccount); otherwise it goes on the
 * membership alone (invite-membership.ts).
 */
export async function ensureUser(repo: RepoContext, project: Project & { id: string }, request: InviteRequest, existing: StoredUser | undefined, passwordHash: string | undefined): Promise<ResolvedUser> {
  if (existing) {
    let user = existing;
    if (request.mfaRequired && !user.mfaRequired && controlsAccount(user, project.id)) {
      const updated = await updateResource<User>(repo, { ...user, mfaRequired: true }, { ifMatch: user.meta?.versionId });
      user = updated.resource as StoredUser;
    }
    return { user, created: false, pending: !(await hasPassword(repo, user.id)) };
  }
  const resource: User = { resourceType: 'User', firstName: request.firstName, lastName: request.lastName };
  if (request.email) {
    resource.email = request.email;
  } else {
    resource.externalId = request.externalId;
  }
  if (request.scope === 'project') {
    resource.project = project.name ? { ...projectRef(project.id), display: project.name } : projectRef(project.id);
  }
  if (request.mfaRequired) {
    resource.mfaRequired = true;
  }
  const id = newId();
  const user = (await createResource<User>(repo, resource, { project: request.scope === 'project' ? project.id : undefined }, id)) as StoredUser;
  if (passwordHash) {
    await insertCredentials(repo.database, repo.session as ClientSession, { _id: id, passwordHash });
  }
  return { user, created: true, pending: !passwordHash };
}
