import type { Project } from '@medplum/fhirtypes';
import type { AuthContext } from '../auth/auth-context';
import { assertCurrentProjectAdmin } from '../auth/memberships';
import { FhirError } from '../errors';
import { readStored, type RepoContext } from '../fhir/repository';
import { refuseForbidden, refuseNotFound } from './invite-errors';

const NOT_ADMIN = 'Only an administrator of this project may invite people into it';

/**
 * Who may invite into a project, as the database holds it NOW (the token's `projectAdmin` and
 * `superAdmin` claims are not trusted: the membership may have been demoted, deleted or
 * deactivated since sign-in): an administrator of that very project, or the super administrator
 * (an admin membership of a `superAdmin` project) for any project. Anyone else, and any other
 * project, → 403. (Medplum silently uses the caller's own project instead; we refuse.)
 */
export async function authorizeInvite(repo: RepoContext, caller: AuthContext, projectId: string): Promise<void> {
  try {
    await assertCurrentProjectAdmin(repo, caller, projectId, NOT_ADMIN);
  } catch (err) {
    // The same 403, as a refusal the invite's retry loop answers at once.
    if (err instanceof FhirError && err.code === 'FST_FORBIDDEN') {
      throw refuseForbidden(err.message);
    }
    throw err;
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
