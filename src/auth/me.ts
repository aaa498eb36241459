import type { AccessPolicy, Project, ProjectMembership, Resource, User, UserConfiguration } from '@medplum/fhirtypes';
import type { AppContext } from '../app-context';
import type { AuthContext } from './auth-context';
import { unauthenticated } from './services';
import { grantsSuperAdmin, idOf, readCurrent } from './memberships';

/** The resource types a membership's profile may be (what /auth/me is willing to show). */
const PROFILE_TYPES: ReadonlySet<string> = new Set(['Patient', 'Practitioner', 'RelatedPerson', 'ClientApplication']);

/** The session details MedplumClient reads from GET /auth/me (its `SessionDetails`). */
export interface SessionDetails {
  user?: Pick<User, 'resourceType' | 'id' | 'email' | 'identifier'>;
  project: Pick<Project, 'resourceType' | 'id' | 'name' | 'description' | 'strictMode' | 'superAdmin'>;
  membership: Pick<ProjectMembership, 'resourceType' | 'id' | 'identifier' | 'user' | 'profile' | 'admin' | 'accessPolicy'>;
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
export async function sessionDetails(ctx: AppContext, auth: AuthContext): Promise<SessionDetails> {
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
    result.user = { resourceType: 'User', id: user.id, email: user.email, identifier: user.identifier };
  }
  const policy = await readCurrent<AccessPolicy>(ctx, 'AccessPolicy', idOf(membership.accessPolicy, 'AccessPolicy'));
  // Same rule as the profile: only a policy of this project is shown.
  if (policy && policy.meta?.project === auth.projectId) {
    result.accessPolicy = policy;
  }
  return result;
}
