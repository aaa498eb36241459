import type { Patient, Practitioner, Reference, RelatedPerson, Resource } from '@medplum/fhirtypes';
import { byId, newId } from '../clock';
import { createResource, findResources, readStored, type RepoContext } from '../fhir/repository';
import { storedField } from '../fhir/search/supported-params';
import type { InviteRequest } from './invite-request';
import { refuseBadRequest, refuseMultipleMatches } from './invite-errors';

export type ProfileResource = (Practitioner | Patient | RelatedPerson) & { id: string };

export interface ResolvedProfile {
  profile: ProfileResource;
  created: boolean;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A resource of the project by reference, or undefined when missing, deleted or elsewhere. */
export async function readInProject<T extends Resource = Resource>(repo: RepoContext, projectId: string, ref: Reference): Promise<T | undefined> {
  const [type, id] = (ref.reference ?? '').split('/');
  if (!type || !id) {
    return undefined;
  }
  const doc = await readStored(repo, type, id);
  return doc && !doc.deleted && doc.project === projectId ? (doc.resource as T) : undefined;
}

/**
 * Profiles of a type in the project whose telecom carries this email (case-insensitive). The
 * derived `email` search field (email telecom values, lower-cased) finds the candidates through
 * its index ({ project, sp.email }); the telecom match decides, as before.
 */
async function findByEmail(repo: RepoContext, projectId: string, request: InviteRequest): Promise<ProfileResource[]> {
  const email = request.email as string;
  const filter: Record<string, unknown> = {
    project: projectId,
    [storedField('token', 'email')]: email,
    'resource.telecom': { $elemMatch: { system: 'email', value: { $regex: `^${escapeRegex(email)}$`, $options: 'i' } } },
  };
  if (request.resourceType === 'RelatedPerson' && request.patient) {
    filter['resource.patient.reference'] = request.patient.reference;
  }
  const found = await findResources<ProfileResource>(repo, request.resourceType, filter, 10);
  return found.sort(byId);
}

/** The RelatedPerson's patient, which must exist in the project. */
export async function checkPatient(repo: RepoContext, projectId: string, request: InviteRequest): Promise<void> {
  if (request.patient && !(await readInProject(repo, projectId, request.patient))) {
    throw refuseBadRequest(`Patient ${request.patient.reference} does not exist in this project`, 'patient');
  }
}

function newProfile(projectId: string, request: InviteRequest): ProfileResource {
  const base = {
    meta: { project: projectId },
    name: [{ given: [request.firstName], family: request.lastName }],
    ...(request.email ? { telecom: [{ system: 'email' as const, use: 'work' as const, value: request.email }] } : {}),
  };
  if (request.resourceType === 'RelatedPerson') {
    return { resourceType: 'RelatedPerson', ...base, patient: request.patient as Reference<Patient> } as ProfileResource;
  }
  return { resourceType: request.resourceType, ...base } as ProfileResource;
}

/**
 * The profile for the membership: `membership.profile` when given (must be of the type, in the
 * project), else `preferred` (the profile of the membership being upserted), else one of that
 * type with that email in the project, else a new one (name, email telecom). A RelatedPerson
 * needs a patient to be created; two RelatedPersons matching the email → 412.
 */
export async function resolveProfile(repo: RepoContext, projectId: string, request: InviteRequest, preferred?: Reference): Promise<ResolvedProfile> {
  const explicit = request.membership.profile;
  if (explicit) {
    const profile = await readInProject<ProfileResource>(repo, projectId, explicit);
    if (!profile || profile.resourceType !== request.resourceType) {
      throw refuseBadRequest(`membership.profile ${explicit.reference} is not a ${request.resourceType} of this project`, 'membership.profile');
    }
    return { profile, created: false };
  }
  if (preferred) {
    const profile = await readInProject<ProfileResource>(repo, projectId, preferred);
    if (profile && profile.resourceType === request.resourceType) {
      return { profile, created: false };
    }
  }
  if (request.email) {
    const matches = await findByEmail(repo, projectId, request);
    if (request.resourceType === 'RelatedPerson' && matches.length > 1) {
      throw refuseMultipleMatches(
        `${matches.length} RelatedPersons in this project have the email ${request.email}; name the one to use in membership.profile`,
        'membership.profile',
      );
    }
    if (matches.length > 0) {
      return { profile: matches[0], created: false };
    }
  }
  if (request.resourceType === 'RelatedPerson' && !request.patient) {
    throw refuseBadRequest('patient is required to create a RelatedPerson (or name an existing one in membership.profile)', 'patient');
  }
  const profile = await createResource<ProfileResource>(repo, newProfile(projectId, request), { project: projectId }, newId());
  return { profile: profile, created: true };
}
