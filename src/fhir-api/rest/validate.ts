import type { OperationOutcome, OperationOutcomeIssue, Resource, StructureDefinition } from '@medplum/fhirtypes';
import type { AccessScope } from '../../access/access-scope';
import { checkWrite, hiddenFieldsFor, requireInteraction, restoreHiddenFields } from '../../access/enforce';
import { newId } from '../../clock';
import { badRequest, FhirError, issue } from '../../errors';
import { validationIssues } from '../../fhir/validation';
import { checkMembershipReferences } from './membership-references';
import { readVisibleDoc } from './read';
import type { RestDeps } from './rest-deps';
import { assertResourceBody, checkProjectReferences, ownerOfNew, withProject } from './write';

/**
 * `$validate` (type and instance level): the resource checked as a write would check it, with
 * nothing written. The content checks are the repository's (validationIssues); with a mode, the
 * caller's write is checked by the same functions the REST write runs (access policy, read-only
 * and secret fields, the project's references). Rules that only run inside the write's
 * transaction (unique keys, the owner's and last administrator's memberships) are not evaluated.
 */

export type ValidateMode = 'create' | 'update' | 'delete' | 'profile';

export interface ValidateInput {
  resource?: unknown;
  mode?: ValidateMode;
  profile?: string;
}

const MEDPLUM_BASE = 'https://medplum.com/fhir/StructureDefinition/';
const FHIR_BASE = 'http://hl7.org/fhir/StructureDefinition/';

/** The profile to check against besides the type's own definition (undefined: the type's own), or 400. */
function resolveProfile(url: string, type: string, profiles: ReadonlyMap<string, StructureDefinition>): StructureDefinition | undefined {
  if (url === `${FHIR_BASE}${type}` || url === `${MEDPLUM_BASE}${type}`) {
    return undefined;
  }
  const profile = profiles.get(url);
  if (!profile) {
    throw badRequest(`The profile ${url.slice(0, 200)} is not known to this server: give ${FHIR_BASE}${type} or a profile it loaded`, 'profile');
  }
  if (profile.type !== type) {
    throw badRequest(`The profile ${url.slice(0, 200)} is for ${profile.type}, not ${type}`, 'profile');
  }
  return profile;
}

/** A refusal of a check as the issues of the outcome (FhirErrors only; anything else is a failure). */
function refusal(fn: () => void | Promise<void>): Promise<OperationOutcomeIssue[]> {
  return Promise.resolve()
    .then(fn)
    .then(
      () => [],
      (err: unknown) => {
        if (err instanceof FhirError && err.statusCode < 500) {
          return err.issues;
        }
        throw err;
      },
    );
}

function checkRequest(input: ValidateInput, id: string | undefined): void {
  const mode = input.mode;
  if ((mode === 'update' || mode === 'delete') && id === undefined) {
    throw badRequest(`mode=${mode} checks a write to one resource: POST to /{type}/{id}/$validate`, 'mode');
  }
  if (mode === 'profile' && !input.profile) {
    throw badRequest('mode=profile needs the profile parameter', 'profile');
  }
  if (mode !== 'delete' && input.resource === undefined) {
    throw badRequest('Send the resource to validate (the body, or the resource parameter)', 'resource');
  }
}

/** What a create by the caller would run before writing. */
async function createIssues(deps: RestDeps, scope: AccessScope, type: string, body: Resource & Record<string, unknown>): Promise<OperationOutcomeIssue[]> {
  return refusal(async () => {
    const access = requireInteraction(scope, type, 'create');
    const id = newId();
    const project = ownerOfNew(scope, type, id, body);
    const candidate = restoreHiddenFields(access, withProject({ ...body, id }, project));
    checkProjectReferences(scope, candidate, project);
    checkWrite(scope, access, candidate);
    await checkMembershipReferences(deps, candidate, project);
  });
}

/**
 * Checks a resource (and, with a mode, the caller's write) and answers the OperationOutcome.
 * 400 for a malformed request, 404 for an instance the caller cannot see; a resource that fails a
 * check is answered 200 with the issues.
 */
export async function validateForCaller(deps: RestDeps, scope: AccessScope, type: string, id: string | undefined, input: ValidateInput): Promise<OperationOutcome> {
  checkRequest(input, id);
  const extraProfile = input.profile ? resolveProfile(input.profile, type, deps.profiles) : undefined;
  const existing = id !== undefined ? await readVisibleDoc(deps, scope, type, id) : undefined;
  const found: OperationOutcomeIssue[] = [];

  if (input.mode === 'delete') {
    found.push(...(await refusal(() => checkWrite(scope, requireInteraction(scope, type, 'delete'), (existing as NonNullable<typeof existing>).resource, existing?.resource, 'delete'))));
    return outcome(found);
  }

  const body = input.resource;
  assertResourceBody(body, type);
  let content: Resource = body;
  let hidden: string[] = [];
  if (id !== undefined && body.id !== undefined && body.id !== id) {
    found.push(issue('invalid', `The resource id must match the id in the URL (${id})`, `${type}.id`));
  }
  if (input.mode === 'create') {
    found.push(...(await createIssues(deps, scope, type, body)));
  } else if (input.mode === 'update' && existing) {
    if (existing.deleted) {
      found.push(issue('deleted', `${type}/${id} was deleted: an update would be refused (create a new ${type} instead)`));
    } else {
      found.push(
        ...(await refusal(async () => {
          const access = requireInteraction(scope, type, 'update');
          const candidate = restoreHiddenFields(access, withProject(body, existing.project), existing.resource);
          checkProjectReferences(scope, candidate, existing.project);
          checkWrite(scope, access, candidate, existing.resource);
          await checkMembershipReferences(deps, candidate, existing.project, existing.resource);
          content = candidate;
          hidden = hiddenFieldsFor(access, existing.resource);
        })),
      );
    }
  }
  // The candidate holds the stored values of fields hidden from the caller: nothing is said about them.
  found.push(...validationIssues(content, input.mode === 'profile' ? undefined : deps.profiles, extraProfile).filter((i) => !aboutHidden(i, type, hidden)));
  return outcome(found);
}

/** Whether an issue's element lies in a field hidden from the caller (`Patient.name[0].family` in `name`). */
function aboutHidden(found: OperationOutcomeIssue, type: string, hidden: string[]): boolean {
  const path = (found.expression?.[0] ?? '').replace(new RegExp(`^${type}\\.`), '').replace(/\[\d+\]/g, '');
  return hidden.some((field) => path === field || path.startsWith(`${field}.`));
}

function outcome(found: OperationOutcomeIssue[]): OperationOutcome {
  if (found.length === 0) {
    return { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', details: { text: 'All OK' }, diagnostics: 'All OK' }] };
  }
  return { resourceType: 'OperationOutcome', issue: found };
}
