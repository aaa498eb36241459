import type { FastifyInstance } from 'fastify';
import type { AccessPolicy, Patient, Practitioner, ProjectMembership, RelatedPerson, User } from '@medplum/fhirtypes';
import type { AuthContext } from '../../src/accounts/auth-context';
import { newId } from '../../src/clock';
import { createResource, type StoredResource } from '../../src/fhir/repository';
import { rootAuth } from '../access/fixtures';
import { createAccount, createMembership, createPractitioner as createProfile, createProject, repoOf, uniqueEmail } from '../helpers/fixtures';

/** Test data for the invite suites, written straight through the repository. */

export { createProject, uniqueEmail };
export const repo = repoOf;

/** The password of every fixture account. */
export const PASSWORD = 'a-long-test-password';

export async function createPolicy(app: FastifyInstance, projectId: string, name = 'Policy'): Promise<AccessPolicy & { id: string }> {
  return (await createResource<AccessPolicy>(repo(app), { resourceType: 'AccessPolicy', name, resource: [{ resourceType: 'Patient' }] }, { project: projectId })) as AccessPolicy & {
    id: string;
  };
}

export async function createPatient(app: FastifyInstance, projectId: string, email?: string): Promise<Patient & { id: string }> {
  const patient: Patient = { resourceType: 'Patient', name: [{ given: ['Pat'], family: 'Ient' }] };
  if (email) {
    patient.telecom = [{ system: 'email', value: email }];
  }
  return (await createResource<Patient>(repo(app), patient, { project: projectId })) as Patient & { id: string };
}

export async function createPractitioner(app: FastifyInstance, projectId: string, email?: string): Promise<Practitioner & { id: string }> {
  return createProfile(app, projectId, email ? { telecom: [{ system: 'email', value: email }] } : {});
}

export async function createRelatedPerson(app: FastifyInstance, projectId: string, patientId: string, email: string): Promise<RelatedPerson & { id: string }> {
  const resource: RelatedPerson = {
    resourceType: 'RelatedPerson',
    patient: { reference: `Patient/${patientId}` },
    name: [{ given: ['Rel'], family: 'Ative' }],
    telecom: [{ system: 'email', value: email }],
  };
  return (await createResource<RelatedPerson>(repo(app), resource, { project: projectId })) as RelatedPerson & { id: string };
}

export interface Member {
  user: User & { id: string };
  membership: ProjectMembership & { id: string };
  email: string;
  password: string;
  /** An AuthContext as the auth domain would build it from this member's token. */
  auth: AuthContext;
}

/** A server-scoped User with a password and a membership (admin or not) in the project. */
export async function createMember(app: FastifyInstance, projectId: string, options: { admin?: boolean; email?: string } = {}): Promise<Member> {
  const email = options.email ?? uniqueEmail(options.admin ? 'admin' : 'member');
  const user = await createAccount(app, { email, password: PASSWORD, firstName: 'Mem', lastName: 'Ber' });
  const profile = await createPractitioner(app, projectId, email);
  const membership = await createMembership(app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${profile.id}`, admin: options.admin ?? false });
  const auth: AuthContext = {
    userId: user.id,
    userType: 'User',
    loginId: newId(),
    projectId,
    membershipId: membership.id,
    profile: { reference: `Practitioner/${profile.id}` },
    projectAdmin: options.admin ?? false,
    superAdmin: false,
  };
  return { user, membership, email, password: PASSWORD, auth };
}

/**
 * The bootstrap super administrator as an AuthContext (for calling the service directly). Read
 * from the database: the invite checks the stored membership, so a made-up one is refused.
 */
export function superAdminAuth(app: FastifyInstance): Promise<AuthContext> {
  return rootAuth(app);
}

export async function stored<T extends ProjectMembership | User>(app: FastifyInstance, type: string, filter: Record<string, unknown>): Promise<StoredResource<T>[]> {
  return (await app.ctx.database.db.collection(type).find(filter).toArray()) as unknown as StoredResource<T>[];
}

/** Counts of current (non-deleted) documents per type, for "one User, one membership" checks. */
export async function countCurrent(app: FastifyInstance, type: string, filter: Record<string, unknown> = {}): Promise<number> {
  return app.ctx.database.db.collection(type).countDocuments({ ...filter, deleted: false });
}
