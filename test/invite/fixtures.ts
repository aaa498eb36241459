import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { AccessPolicy, Patient, Practitioner, Project, ProjectMembership, RelatedPerson, User } from '@medplum/fhirtypes';
import type { AuthContext } from '../../src/auth/auth-context';
import { CREDENTIALS } from '../../src/auth/credentials';
import { hashPassword } from '../../src/auth/password-hash';
import { newId } from '../../src/clock';
import { createResource, type RepoContext, type StoredResource } from '../../src/fhir/repository';

/** Test data for the invite suites, written straight through the repository. */

export const PASSWORD = 'a-long-test-password';

let cachedHash: Promise<string> | undefined;
/** One argon2 hash for every fixture account (hashing is slow on purpose). */
function passwordHash(): Promise<string> {
  cachedHash ??= hashPassword(PASSWORD);
  return cachedHash;
}

export function repo(app: FastifyInstance): RepoContext {
  return { database: app.ctx.database, clock: app.ctx.clock };
}

export const uniqueEmail = (name = 'person'): string => `${name}.${randomBytes(4).toString('hex')}@example.com`;

export async function createProject(app: FastifyInstance, fields: Partial<Project> = {}): Promise<Project & { id: string }> {
  const id = newId();
  return (await createResource<Project>(repo(app), { resourceType: 'Project', name: `Project ${id.slice(0, 8)}`, ...fields }, { project: id }, id)) as Project & { id: string };
}

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
  const practitioner: Practitioner = { resourceType: 'Practitioner', name: [{ given: ['Prac'], family: 'Titioner' }] };
  if (email) {
    practitioner.telecom = [{ system: 'email', value: email }];
  }
  return (await createResource<Practitioner>(repo(app), practitioner, { project: projectId })) as Practitioner & { id: string };
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
  const r = repo(app);
  const user = (await createResource<User>(r, { resourceType: 'User', firstName: 'Mem', lastName: 'Ber', email })) as User & { id: string };
  await app.ctx.database.db.collection(CREDENTIALS).insertOne({ _id: user.id as never, passwordHash: await passwordHash() });
  const profile = await createPractitioner(app, projectId, email);
  const membership = (await createResource<ProjectMembership>(
    r,
    {
      resourceType: 'ProjectMembership',
      project: { reference: `Project/${projectId}` },
      user: { reference: `User/${user.id}` },
      profile: { reference: `Practitioner/${profile.id}` },
      admin: options.admin ?? false,
    },
    { project: projectId },
  )) as ProjectMembership & { id: string };
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

/** The super administrator as an AuthContext (for calling the service directly). */
export function superAdminAuth(): AuthContext {
  return {
    userId: 'super-admin',
    userType: 'User',
    loginId: newId(),
    projectId: 'super-project',
    membershipId: 'super-membership',
    profile: { reference: 'Practitioner/super' },
    projectAdmin: true,
    superAdmin: true,
  };
}

export async function stored<T extends ProjectMembership | User>(app: FastifyInstance, type: string, filter: Record<string, unknown>): Promise<StoredResource<T>[]> {
  return (await app.ctx.database.db.collection(type).find(filter).toArray()) as unknown as StoredResource<T>[];
}

/** Counts of current (non-deleted) documents per type, for "one User, one membership" checks. */
export async function countCurrent(app: FastifyInstance, type: string, filter: Record<string, unknown> = {}): Promise<number> {
  return app.ctx.database.db.collection(type).countDocuments({ ...filter, deleted: false });
}
