import type { Project } from '@medplum/fhirtypes';
import type { AuthContext } from '../accounts/auth-context';
import { assertCurrentProjectAdmin } from '../accounts/memberships';
import { readCurrent, type RepoContext } from '../fhir/repository';
import { refuseNotFound } from './invite-errors';

const NOT_ADMIN = 'Only an administrator of this project may invite people into it';

/**
 * Who may invite into a project, as the database holds it NOW (the token's `projectAdmin` and
 * `superAdmin` claims are not trusted: the membership may have been demoted, deleted or
 * deactivated since sign-in): an administrator of that very project, or the super administrator
 * (an admin membership of a `superAdmin` project) for any project. Anyone else, and any other
 * project, → 403. (Medplum silently uses the caller's own project instead; we refuse.)
 */
export async function authorizeInvite(repo: RepoContext, caller: AuthContext, projectId: string): Promise<void> {
  // Runs before the invite's lock and retry loop, so its 403 needs no refusal wrapper.
  await assertCurrentProjectAdmin(repo, caller, projectId, NOT_ADMIN);
}

/** The project, or 404 (only reachable by callers allowed to know whether it exists). */
export async function projectOrNotFound(repo: RepoContext, projectId: string): Promise<Project & { id: string }> {
  const project = await readCurrent<Project>(repo, 'Project', projectId);
  if (!project) {
    throw refuseNotFound(`Project/${projectId} not found`);
  }
  return project as Project & { id: string };
}
