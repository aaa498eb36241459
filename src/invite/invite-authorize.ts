import type { Project, ProjectMembership } from '@medplum/fhirtypes';
import type { AuthContext } from '../auth/auth-context';
import { readStored, type RepoContext } from '../fhir/repository';
import { refuseForbidden, refuseNotFound } from './invite-errors';

/**
 * Who may invite into a project: the super administrator (any project), or an administrator of
 * that very project whose membership still grants it. Anyone else, and any other project, → 403.
 * (Medplum silently uses the caller's own project instead; we refuse.)
 */
export async function authorizeInvite(repo: RepoContext, caller: AuthContext, projectId: string): Promise<void> {
  if (caller.superAdmin) {
    return;
  }
  const message = 'Only an administrator of this project may invite people into it';
  if (!caller.projectAdmin || caller.projectId !== projectId) {
    throw refuseForbidden(message);
  }
  // The token says admin; make sure the membership still does (it may have been changed since).
  const membership = await readStored<ProjectMembership>(repo, 'ProjectMembership', caller.membershipId);
  const current = membership && !membership.deleted ? membership.resource : undefined;
  if (!current?.admin || current.project?.reference !== `Project/${projectId}` || current.user?.reference !== `${caller.userType}/${caller.userId}`) {
    throw refuseForbidden(message);
  }
}

/** The project, or 404 (only reachable by callers allowed to know whether it exists). */
export async function loadProject(repo: RepoContext, projectId: string): Promise<Project & { id: string }> {
  const doc = await readStored<Project>(repo, 'Project', projectId);
  if (!doc || doc.deleted) {
    throw refuseNotFound(`Project/${projectId} not found`);
  }
  return doc.resource as Project & { id: string };
}
