import type { AccessPolicy, Project, ProjectMembership } from '@medplum/fhirtypes';
import type { RepoContext } from '../fhir/repository';
import type { InviteRequest } from './invite-request';
import { readInProject } from './invite-profile';
import { refuseBadRequest } from './invite-errors';

export type MembershipAccess = Pick<ProjectMembership, 'accessPolicy' | 'access'>;

async function requirePolicy(repo: RepoContext, projectId: string, reference: string, expression: string, what = 'Access policy'): Promise<void> {
  const policy = await readInProject<AccessPolicy>(repo, projectId, { reference });
  if (!policy || policy.resourceType !== 'AccessPolicy') {
    throw refuseBadRequest(`${what} ${reference} does not exist in this project`, expression);
  }
}

/**
 * Checks every AccessPolicy the invite names (they must exist in the project; 400 naming the
 * field otherwise) and answers the access of a NEW membership: what was given, or for a Patient
 * with none the project's defaultPatientAccessPolicy. Practitioners and RelatedPersons never get
 * the default.
 */
export async function resolveAccess(repo: RepoContext, project: Project & { id: string }, request: InviteRequest): Promise<MembershipAccess> {
  const { accessPolicy, access } = request.membership;
  if (accessPolicy?.reference) {
    await requirePolicy(repo, project.id, accessPolicy.reference, request.sources.accessPolicy);
  }
  for (const [i, entry] of (access ?? []).entries()) {
    await requirePolicy(repo, project.id, entry.policy.reference as string, `${request.sources.access}[${i}].policy`);
  }
  if (accessPolicy || access) {
    return { ...(accessPolicy ? { accessPolicy } : {}), ...(access ? { access } : {}) };
  }
  const fallback = project.defaultPatientAccessPolicy?.reference;
  if (request.resourceType === 'Patient' && fallback) {
    await requirePolicy(repo, project.id, fallback, 'accessPolicy', "The project's defaultPatientAccessPolicy");
    return { accessPolicy: { reference: fallback } };
  }
  return {};
}
