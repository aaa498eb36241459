import type { ClientSession } from 'mongodb';
import type { ProjectMembership, Reference, Resource, User } from '@medplum/fhirtypes';
import type { Database } from '../../db/database';
import { badRequest } from '../../errors';
import type { StoredResource } from '../../fhir/repository';
import { currentCollection } from '../../fhir/resource-types';
import { ID_PATTERN } from '../../fhir/search/normalize';

type Deps = { database: Database; session?: ClientSession };

/** The types a membership's `profile` may be (Medplum's: the member's FHIR identity). */
const PROFILE_TYPES = ['Patient', 'Practitioner', 'RelatedPerson', 'ClientApplication'];
/** The types a membership's `user` may be (who signs in: a person or a system client). */
const USER_TYPES = ['User', 'ClientApplication'];

/** One reference a membership holds, with the FHIRPath of its field. */
interface Checked {
  expression: string;
  reference: Reference | undefined;
  types: string[];
  what: string;
}

function parse(reference: Reference | undefined, types: string[]): { type: string; id: string } | undefined {
  const value = reference?.reference;
  if (typeof value !== 'string') {
    return undefined;
  }
  const slash = value.indexOf('/');
  const type = value.slice(0, slash);
  const id = value.slice(slash + 1);
  return slash > 0 && types.includes(type) && ID_PATTERN.test(id) ? { type, id } : undefined;
}

/**
 * Whether the referenced resource may be named by a membership of `project`: it exists, is not
 * deleted, and lies in that project; a User may also be server-scoped (no project at all).
 */
async function fits(deps: Deps, target: { type: string; id: string }, project: string): Promise<boolean> {
  const doc = await deps.database.db.collection<StoredResource>(currentCollection(target.type)).findOne({ _id: target.id }, { session: deps.session });
  if (!doc || doc.deleted) {
    return false;
  }
  if (target.type === 'User') {
    // A stored `project` absent from the document comes back as null.
    const scopedTo = (doc.resource as User).project?.reference?.replace(/^Project\//, '') || doc.project;
    return !scopedTo || scopedTo === project;
  }
  return doc.project === project;
}

function referencesOf(membership: ProjectMembership): Checked[] {
  const checked: Checked[] = [
    { expression: 'ProjectMembership.profile', reference: membership.profile, types: PROFILE_TYPES, what: 'a Patient, Practitioner, RelatedPerson or ClientApplication' },
    { expression: 'ProjectMembership.user', reference: membership.user, types: USER_TYPES, what: 'a User (server-scoped or scoped to this project) or a ClientApplication' },
    { expression: 'ProjectMembership.accessPolicy', reference: membership.accessPolicy, types: ['AccessPolicy'], what: 'an AccessPolicy' },
  ];
  (membership.access ?? []).forEach((access, i) => {
    checked.push({ expression: `ProjectMembership.access[${i}].policy`, reference: access?.policy, types: ['AccessPolicy'], what: 'an AccessPolicy' });
  });
  return checked;
}

/** The references an existing membership already holds (accepted when it was written). */
function heldBefore(existing: ProjectMembership | undefined): Set<string> {
  if (!existing) {
    return new Set();
  }
  return new Set(referencesOf(existing).map((c) => `${c.expression.replace(/\[\d+\]/, '[]')}|${c.reference?.reference}`));
}

/**
 * A ProjectMembership written through the FHIR API may only point at resources of its own
 * project: `profile` at a Patient, Practitioner, RelatedPerson or ClientApplication of the project;
 * `accessPolicy` and each `access[].policy` at an AccessPolicy of the project; `user` at a User
 * scoped to the project or server-scoped (or a ClientApplication of the project). Anything else
 * (another project's resource, a deleted or unknown one, another type) is a 400 naming the field;
 * the message is the same in each case, so it never tells whether another project's resource
 * exists. Everyone is checked, the super administrator included (these are consistency rules,
 * not permissions), and `project` must be the project that owns the membership.
 *
 * On an update only references that changed are checked: one the stored membership already holds
 * was accepted when written, and refusing it would block e.g. deactivating a membership whose
 * profile has since been deleted. A missing field is left to validation (it may be required).
 */
export async function checkMembershipReferences(deps: Deps, resource: Resource, project: string | undefined, existing?: Resource): Promise<void> {
  if (resource.resourceType !== 'ProjectMembership' || project === undefined) {
    return;
  }
  const membership = resource as ProjectMembership;
  if (membership.project !== undefined && membership.project?.reference !== `Project/${project}`) {
    throw badRequest(`ProjectMembership.project must be Project/${project}, the project that owns this membership (meta.project)`, 'ProjectMembership.project');
  }
  const held = heldBefore(existing?.resourceType === 'ProjectMembership' ? (existing as ProjectMembership) : undefined);
  for (const field of referencesOf(membership)) {
    if (field.reference === undefined || held.has(`${field.expression.replace(/\[\d+\]/, '[]')}|${field.reference.reference}`)) {
      continue;
    }
    const target = parse(field.reference, field.types);
    if (!target || !(await fits(deps, target, project))) {
      throw badRequest(`${field.expression} must reference ${field.what} of this project (Project/${project})`, field.expression);
    }
  }
}
