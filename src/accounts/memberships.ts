import type { Filter } from 'mongodb';
import type { AccessPolicy, ClientApplication, Extension, Project, ProjectMembership, Resource, User, UserConfiguration } from '@medplum/fhirtypes';
import type { FastifyBaseLogger } from 'fastify';
import type { Store } from '../db/store';
import { byId } from '../clock';
import { forbidden } from '../errors';
import { findResources, idOf, readCurrent, type StoredResource } from '../fhir/repository';
import { unauthenticated, type AuthContext } from './auth-context';

/**
 * Memberships as the accounts domain reads them: a principal's memberships, the project they
 * grant, whether they make their holder the super administrator or require MFA, whether a
 * sign-in's grant still holds, and the session details of GET /auth/me.
 */

const MAX_MEMBERSHIPS = 100;

export interface MembershipQuery {
  /** Only memberships in this project. */
  projectId?: string;
  /** Only memberships whose profile is of this resource type (e.g. 'Patient'). */
  profileType?: string;
}

/** The current memberships of a User or ClientApplication (`userRef` like 'User/123'). */
export async function membershipsOf(store: Store, userRef: string, query: MembershipQuery = {}): Promise<ProjectMembership[]> {
  const filter: Record<string, unknown> = { 'resource.user.reference': userRef };
  if (query.projectId) {
    filter['resource.project.reference'] = `Project/${query.projectId}`;
  }
  const memberships = await findResources<ProjectMembership>(store, 'ProjectMembership', filter as Filter<StoredResource>, MAX_MEMBERSHIPS);
  const wanted = query.profileType ? `${query.profileType}/` : undefined;
  return memberships
    .filter((m) => m.active !== false)
    .filter((m) => !wanted || m.profile?.reference?.startsWith(wanted))
    .sort(byId);
}

/** The project of a membership, or undefined when it is gone. */
export async function projectOf(store: Store, membership: ProjectMembership): Promise<Project | undefined> {
  return readCurrent<Project>(store, 'Project', idOf(membership.project, 'Project'));
}

/**
 * Whether a membership makes its holder the super administrator: an ADMINISTRATOR of a project
 * marked `superAdmin`. A plain member of that project is an ordinary member of it (Medplum's
 * rule too). The one place this is decided: sign-in, refresh and client authentication use it.
 */
export function grantsSuperAdmin(project: Project | undefined, membership: ProjectMembership | undefined): boolean {
  return project?.superAdmin === true && membership?.admin === true;
}

/**
 * Refuses (403 with `message`) unless the caller, as the database holds it NOW, administers
 * `projectId`: the token's claims (`projectAdmin`, `superAdmin`) are not trusted, since the
 * membership may have been demoted, deleted or deactivated since sign-in. The caller's stored
 * membership must exist, be active, belong to the caller and to the token's project, and have
 * `admin: true`; it then grants `projectId` itself, or every project when it makes the caller
 * the super administrator (grantsSuperAdmin). The invite authorization could use it too.
 */
export async function assertCurrentProjectAdmin(store: Store, auth: AuthContext, projectId: string, message: string): Promise<void> {
  const membership = await readCurrent<ProjectMembership>(store, 'ProjectMembership', auth.membershipId);
  const ownProject = idOf(membership?.project, 'Project');
  if (
    !membership ||
    membership.active === false ||
    membership.admin !== true ||
    ownProject === undefined ||
    ownProject !== auth.projectId ||
    membership.user?.reference !== `${auth.userType}/${auth.userId}`
  ) {
    throw forbidden(message);
  }
  if (ownProject === projectId) {
    return;
  }
  if (!grantsSuperAdmin(await projectOf(store, membership), membership)) {
    throw forbidden(message);
  }
}

// --- MFA required by a membership -----------------------------------------------------------

/**
 * MFA required by one membership: an invite with `mfaRequired: true` of a person whose account
 * the inviting project does not control (an existing server-scoped User) records the requirement
 * on the membership only. Signing in to THAT membership then demands MFA (enrolment or a code)
 * before its authorization code is issued; the person's other memberships are not affected.
 */
export const MEMBERSHIP_MFA_REQUIRED_URL = 'https://fhir-invite-server.example/fhir/StructureDefinition/membership-mfa-required';

/** Whether signing in to this membership needs MFA. */
export function membershipRequiresMfa(membership: Pick<ProjectMembership, 'extension'>): boolean {
  return membership.extension?.some((e) => e.url === MEMBERSHIP_MFA_REQUIRED_URL && e.valueBoolean === true) === true;
}

/** The membership's extensions with the MFA requirement set (any earlier value replaced). */
export function withMfaRequired(extensions: readonly Extension[] | undefined): Extension[] {
  return [...(extensions ?? []).filter((e) => e.url !== MEMBERSHIP_MFA_REQUIRED_URL), { url: MEMBERSHIP_MFA_REQUIRED_URL, valueBoolean: true }];
}

// --- Whether a grant still holds ---------------------------------------------------------------

/**
 * What a sign-in session (or an HTTP Basic client) acts as: a principal (User or
 * ClientApplication) through one ProjectMembership in one Project, possibly signed in through an
 * OAuth client. A token carries these ids; whether they still grant anything is decided by
 * `checkGrant` against the database, never by the token.
 */
export interface Grant {
  userType: 'User' | 'ClientApplication';
  userId: string;
  projectId: string;
  membershipId: string;
  /** The ClientApplication a user signed in through (OAuth `client_id`), if any. */
  clientId?: string;
}

/** The grant holds: its membership and project as stored now. */
export interface GrantHeld {
  ok: true;
  membership: ProjectMembership;
  project: Project;
}

/** The grant no longer holds; `reason` is a sentence the caller can act on (it names no one else). */
export interface GrantEnded {
  ok: false;
  reason: string;
}

export type GrantStatus = GrantHeld | GrantEnded;

const ended = (reason: string): GrantEnded => ({ ok: false, reason });

/** A ClientApplication that may act: not deleted, not turned off. */
function clientUsable(client: ClientApplication | undefined): client is ClientApplication {
  return client !== undefined && (!client.status || client.status === 'active');
}

/**
 * Re-checks a grant against what the database holds NOW (at most four reads): the membership
 * exists, is active and still joins this principal to this project; the project exists; the
 * principal exists (a User not deleted, and when project-scoped, scoped to this project; a
 * ClientApplication not deleted, not turned off, and of this project); and the OAuth client a
 * user signed in through still exists. Used on every authenticated request (cached briefly, see
 * services.ts), on refresh, on the code exchange and when a sign-in picks its membership.
 */
export async function checkGrant(store: Store, grant: Grant): Promise<GrantStatus> {
  const membership = await readCurrent<ProjectMembership>(store, 'ProjectMembership', grant.membershipId);
  if (!membership || idOf(membership.project, 'Project') !== grant.projectId || membership.user?.reference !== `${grant.userType}/${grant.userId}`) {
    return ended('The project membership of this sign-in no longer exists: sign in again');
  }
  if (membership.active === false) {
    return ended('The project membership of this sign-in is not active: ask a project administrator');
  }
  const project = await readCurrent<Project>(store, 'Project', grant.projectId);
  if (!project) {
    return ended('The project of this sign-in no longer exists: sign in to another project');
  }
  if (grant.userType === 'User') {
    const user = await readCurrent<User>(store, 'User', grant.userId);
    const scopedTo = user?.project ? idOf(user.project, 'Project') : undefined;
    if (!user || (user.project && scopedTo !== grant.projectId)) {
      return ended('The account of this sign-in no longer exists: sign in again');
    }
  } else {
    const client = await readCurrent<ClientApplication>(store, 'ClientApplication', grant.userId);
    if (!clientUsable(client) || client.meta?.project !== grant.projectId) {
      return ended('This client application no longer exists or is turned off');
    }
  }
  if (grant.clientId && grant.clientId !== grant.userId) {
    const client = await readCurrent<ClientApplication>(store, 'ClientApplication', grant.clientId);
    if (!clientUsable(client)) {
      return ended('The client application this sign-in went through no longer exists or is turned off');
    }
  }
  return { ok: true, membership, project };
}

// --- GET /auth/me ---------------------------------------------------------------------------------

/** The resource types a membership's profile may be (what /auth/me is willing to show). */
const PROFILE_TYPES: ReadonlySet<string> = new Set(['Patient', 'Practitioner', 'RelatedPerson', 'ClientApplication']);

/** The session details MedplumClient reads from GET /auth/me (its `SessionDetails`). */
export interface SessionDetails {
  user?: Pick<User, 'resourceType' | 'id' | 'firstName' | 'lastName' | 'email' | 'identifier'>;
  project: Pick<Project, 'resourceType' | 'id' | 'name' | 'description' | 'strictMode' | 'superAdmin'>;
  membership: Pick<ProjectMembership, 'resourceType' | 'id' | 'identifier' | 'project' | 'user' | 'profile' | 'admin' | 'accessPolicy'>;
  /**
   * The membership's profile; absent when the membership points at something that cannot be a
   * profile of this session (another type, or a resource of another project).
   */
  profile?: Resource;
  config: UserConfiguration;
  accessPolicy?: AccessPolicy;
}

function userConfiguration(project: Project, membership: ProjectMembership): UserConfiguration {
  const menu: NonNullable<UserConfiguration['menu']> = [
    { title: 'Favorites', link: ['Patient', 'Practitioner', 'RelatedPerson'].map((name) => ({ name, target: `/${name}` })) },
  ];
  if (membership.admin) {
    menu.push({ title: 'Admin', link: [{ name: 'Project', target: '/admin/project' }, { name: 'AccessPolicy', target: '/AccessPolicy' }] });
  }
  if (grantsSuperAdmin(project, membership)) {
    menu.push({ title: 'Super Admin', link: [{ name: 'Projects', target: '/Project' }] });
  }
  return { resourceType: 'UserConfiguration', menu };
}

/**
 * GET /auth/me: who the caller is, built field by field from an allow-list (so nothing secret
 * can slip through even if it were ever stored on a resource).
 */
export async function sessionDetails(ctx: Store & { log: FastifyBaseLogger }, auth: AuthContext): Promise<SessionDetails> {
  const membership = await readCurrent<ProjectMembership>(ctx, 'ProjectMembership', auth.membershipId);
  const project = await readCurrent<Project>(ctx, 'Project', auth.projectId);
  if (!membership || !project) {
    throw unauthenticated('The membership of this session no longer exists: sign in again');
  }
  if (membership.active === false) {
    throw unauthenticated('The project membership of this sign-in is not active: ask a project administrator');
  }
  const profileRef = membership.profile?.reference ?? auth.profile.reference ?? '';
  const [profileType, profileId] = profileRef.split('/');
  const profile = PROFILE_TYPES.has(profileType) ? await readCurrent<Resource>(ctx, profileType, profileId) : undefined;
  if (PROFILE_TYPES.has(profileType) && !profile) {
    throw unauthenticated('The profile of this session no longer exists: sign in again');
  }
  // A project administrator writes memberships: one pointing at another project's resource (or
  // at a resource that is no profile) must not reveal that resource. The session still works,
  // without a profile.
  const shown = profile && profile.meta?.project === auth.projectId ? profile : undefined;
  if (!shown) {
    ctx.log.warn({ membership: membership.id, profileType }, 'The membership profile is not a profile of its project: /auth/me answers no profile');
  }

  const result: SessionDetails = {
    project: { resourceType: 'Project', id: project.id, name: project.name, description: project.description, strictMode: project.strictMode, superAdmin: project.superAdmin },
    membership: {
      resourceType: 'ProjectMembership',
      id: membership.id,
      identifier: membership.identifier,
      project: membership.project,
      user: membership.user,
      profile: membership.profile,
      admin: membership.admin,
      accessPolicy: membership.accessPolicy,
    },
    config: userConfiguration(project, membership),
  };
  if (shown) {
    result.profile =
      shown.resourceType === 'ClientApplication' ? ({ resourceType: 'ClientApplication', id: shown.id, meta: shown.meta, name: (shown as { name?: string }).name } as Resource) : shown;
  }
  const userId = auth.userType === 'User' ? idOf(membership.user, 'User') : undefined;
  const user = await readCurrent<User>(ctx, 'User', userId);
  if (user) {
    // The names are required elements of a User: with them the answer is a valid User resource.
    result.user = { resourceType: 'User', id: user.id, firstName: user.firstName, lastName: user.lastName, email: user.email, identifier: user.identifier };
  }
  const policy = await readCurrent<AccessPolicy>(ctx, 'AccessPolicy', idOf(membership.accessPolicy, 'AccessPolicy'));
  // Same rule as the profile: only a policy of this project is shown.
  if (policy && policy.meta?.project === auth.projectId) {
    result.accessPolicy = policy;
  }
  return result;
}
