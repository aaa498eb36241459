import type { Filter } from 'mongodb';
import type { Project, ProjectMembership, Reference, Resource } from '@medplum/fhirtypes';
import { findResources, readStored, type RepoContext, type StoredResource } from '../fhir/repository';

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
