import type { ProjectMembership, Reference, Resource } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import { checkWrite, redact, requireInteraction, restoreHiddenFields } from '../../access/enforce';
import { newId } from '../../clock';
import { badRequest, FhirError, forbidden, gone } from '../../errors';
import { createResource, deleteResource, idOf, updateResource } from '../../fhir/repository';
import { ID_PATTERN } from '../../fhir/search/normalize';
import { checkMembershipReferences } from './membership-references';
import { beforeDelete, beforeUpdate, hasWriteRules, inOneTransaction } from './write-rules';
import { readVisibleDoc, type ReadResult } from './read';
import { repoContext, type RestDeps } from './rest-deps';
import { present } from './present';
import { keepStoredInviteStatus } from '../../invite/invite-status';

type Body = Resource & Record<string, unknown>;

/** The body must be a JSON object of the URL's resource type. */
export function assertResourceBody(body: unknown, type: string): asserts body is Body {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The body must be a FHIR resource (a JSON object)');
  }
  const resourceType = (body as { resourceType?: unknown }).resourceType;
  if (resourceType !== type) {
    throw badRequest(typeof resourceType === 'string' ? `The body is a ${resourceType.slice(0, 64)} but the URL is for ${type}` : `The body needs "resourceType": "${type}"`, 'resourceType');
  }
}

/**
 * The project that will own a new resource: a Project owns itself; a super administrator may
 * name one in meta.project (a ProjectMembership defaults to its own project); everyone else
 * writes into the project of their token.
 */
export function ownerOfNew(scope: AccessScope, type: string, id: string, body: Body): string {
  if (type === 'Project') {
    return id;
  }
  if (!scope.superAdmin) {
    return scope.auth.projectId;
  }
  const requested = body.meta?.project as unknown;
  if (requested !== undefined) {
    if (typeof requested !== 'string' || !ID_PATTERN.test(requested)) {
      throw badRequest('meta.project must be the id of a Project', 'meta.project');
    }
    return requested;
  }
  return (type === 'ProjectMembership' ? idOf(body.project as Reference | undefined, 'Project') : undefined) ?? scope.auth.projectId;
}

/**
 * A membership or user written by a project member cannot point at another project (403); the
 * membership's other references are checked for everyone by `checkMembershipReferences` (400).
 */
export function checkProjectReferences(scope: AccessScope, resource: Body, project: string | undefined): void {
  if (scope.superAdmin || (resource.resourceType !== 'ProjectMembership' && resource.resourceType !== 'User')) {
    return;
  }
  const field = resource.project as { reference?: unknown } | undefined;
  if (field !== undefined && field?.reference !== `Project/${project}`) {
    throw forbidden(`A ${resource.resourceType} you write must have project Project/${project}`);
  }
}

export function withProject(body: Body, project: string | undefined): Body {
  const meta = { ...(body.meta ?? {}) };
  if (project) {
    meta.project = project;
  } else {
    delete meta.project;
  }
  return { ...body, meta };
}

/** A membership's invite status is the server's (invite/invite-status.ts): a write keeps the stored one. */
function keepInviteStatus(candidate: Body, previous?: Resource): Body {
  if (candidate.resourceType !== 'ProjectMembership') {
    return candidate;
  }
  return keepStoredInviteStatus(candidate as unknown as ProjectMembership, previous as ProjectMembership | undefined) as unknown as Body;
}

const result = (resource: Resource): ReadResult => ({
  resource,
  version: Number(resource.meta?.versionId),
  lastUpdated: new Date(resource.meta?.lastUpdated as string),
});

/**
 * POST /{type}: a new resource with a server-assigned id (`id`: one the server chose beforehand,
 * for a transaction Bundle's `urn:uuid:` references), owned by the caller's project.
 */
export async function createForCaller(deps: RestDeps, scope: AccessScope, type: string, body: unknown, id: string = newId()): Promise<ReadResult> {
  const access = requireInteraction(scope, type, 'create');
  assertResourceBody(body, type);
  const project = ownerOfNew(scope, type, id, body);
  const candidate = keepInviteStatus(restoreHiddenFields(access, withProject({ ...body, id }, project)));
  checkProjectReferences(scope, candidate, project);
  checkWrite(scope, access, candidate);
  await checkMembershipReferences(deps, candidate, project);
  const created = await createResource(repoContext(deps, scope, 'create'), candidate as Resource, { project, author: scope.auth.profile }, id);
  return result(present(deps, redact(access, created)));
}

const IF_MATCH = /^(?:W\/)?"(\d{1,9})"$/;

/**
 * PUT /{type}/{id}: replaces an existing resource (its project never changes; a deleted one is
 * 410, an unknown one 404: ids are assigned by the server). With If-Match,
 * a version mismatch is 412; without it, the version read for the access checks guards the
 * write (a concurrent change makes it retry).
 */
export async function updateForCaller(deps: RestDeps, scope: AccessScope, type: string, id: string, body: unknown, ifMatch?: string): Promise<ReadResult> {
  const access = requireInteraction(scope, type, 'update');
  assertResourceBody(body, type);
  if (body.id !== id) {
    throw badRequest(`The resource id must match the id in the URL (${id})`, 'id');
  }
  if (ifMatch !== undefined && !IF_MATCH.test(ifMatch.trim())) {
    throw badRequest('If-Match must look like W/"3"', 'If-Match');
  }
  return deps.writeLock.run(`${type}/${id}`, async () => {
    for (let attempt = 1; ; attempt++) {
      const existing = await readVisibleDoc(deps, scope, type, id);
      if (existing.deleted) {
        throw gone(`${type}/${id} was deleted; create a new ${type} instead`);
      }
      const previous = existing.resource;
      const candidate = keepInviteStatus(restoreHiddenFields(access, withProject(body, existing.project), previous), previous);
      checkProjectReferences(scope, candidate, existing.project);
      checkWrite(scope, access, candidate, previous);
      await checkMembershipReferences(deps, candidate, existing.project, previous);
      try {
        const options = { project: existing.project, author: scope.auth.profile, ifMatch: ifMatch ?? `W/"${existing.version}"` };
        const updated = hasWriteRules(type)
          ? await inOneTransaction(deps, scope, 'update', async (repo) => {
              await beforeUpdate(repo, type, id, candidate as Resource);
              return updateResource(repo, candidate as Resource, options);
            })
          : await updateResource(repoContext(deps, scope, 'update'), candidate as Resource, options);
        return result(present(deps, redact(access, updated.resource)));
      } catch (err) {
        if (ifMatch === undefined && err instanceof FhirError && err.code === 'FST_PRECONDITION' && attempt < 3) {
          continue;
        }
        throw err;
      }
    }
  });
}

/** DELETE /{type}/{id}: later reads answer 410. */
export async function deleteForCaller(deps: RestDeps, scope: AccessScope, type: string, id: string): Promise<void> {
  const access = requireInteraction(scope, type, 'delete');
  await deps.writeLock.run(`${type}/${id}`, async () => {
    const existing = await readVisibleDoc(deps, scope, type, id);
    checkWrite(scope, access, existing.resource, existing.resource, 'delete');
    if (!hasWriteRules(type)) {
      await deleteResource(repoContext(deps, scope, 'delete'), type, id);
      return;
    }
    await inOneTransaction(deps, scope, 'delete', async (repo) => {
      await beforeDelete(repo, type, id);
      await deleteResource(repo, type, id);
    });
  });
}
