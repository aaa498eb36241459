import type { Filter } from 'mongodb';
import type { Project, ProjectMembership, Reference, Resource } from '@medplum/fhirtypes';
import { forbidden } from '../errors';
import { findResources, readStored, type RepoContext, type StoredResource } from '../fhir/repository';
import type { AuthContext } from './auth-context';

const MAX_MEMBERSHIPS = 100;

/** What reads need: the database and clock (a RepoContext without a session). */
export type ReadContext = Pick<RepoContext, 'database' | 'clock'>;

export interface MembershipQuery {
  /** Only memberships in this project. */
  projectId?: string;
  /** Only memberships whose profile is of this resource type (e.g. 'Patient'). */
  profileType?: string;
}

/** The current memberships of a User or ClientApplication (`userRef` like 'User/123'). */
export async function membershipsOf(ctx: ReadContext, userRef: string, query: MembershipQuery = {}): Promise<ProjectMembership[]> {
  const filter: Record<string, unknown> = { 'resource.user.reference': userRef };
  if (query.projectId) {
    filter['resource.project.reference'] = `Project/${query.projectId}`;
  }
  const memberships = await findResources<ProjectMembership>(ctx, 'ProjectMembership', filter as Filter<StoredResource>, MAX_MEMBERSHIPS);
  const wanted = query.profileType ? `${query.profileType}/` : undefined;
  return memberships
    .filter((m) => m.active !== false)
    .filter((m) => !wanted || m.profile?.reference?.startsWith(wanted))
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

/** The id in a reference like 'Project/123' (undefined when it is not of that type). */
export function idOf(reference: Reference | undefined, type: string): string | undefined {
  const value = reference?.reference;
  if (!value?.startsWith(`${type}/`)) {
    return undefined;
  }
  const id = value.slice(type.length + 1);
  return id && !id.includes('/') ? id : undefined;
}

/** A current, not deleted resource, or undefined. */
export async function readCurrent<T extends Resource>(ctx: ReadContext, type: string, id: string | undefined): Promise<T | undefined> {
  if (!id) {
    return undefined;
  }
  const doc = await readStored<T>(ctx, type, id);
  return doc && !doc.deleted ? doc.resource : undefined;
}

/** The project of a membership, or undefined when it is gone. */
export async function projectOf(ctx: ReadContext, membership: ProjectMembership): Promise<Project | undefined> {
  return readCurrent<Project>(ctx, 'Project', idOf(membership.project, 'Project'));
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
export async function assertCurrentProjectAdmin(ctx: ReadContext, auth: AuthContext, projectId: string, message: string): Promise<void> {
  const membership = await readCurrent<ProjectMembership>(ctx, 'ProjectMembership', auth.membershipId);
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
  if (!grantsSuperAdmin(await projectOf(ctx, membership), membership)) {
    throw forbidden(message);
  }
}
