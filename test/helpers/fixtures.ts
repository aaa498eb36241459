import { randomBytes } from 'node:crypto';
import type { ClientSession } from 'mongodb';
import type { Practitioner, Project, ProjectMembership, Resource, User } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { setCredentials } from '../../src/accounts/credentials';
import { hashPassword } from '../../src/accounts/passwords';
import { newId } from '../../src/clock';
import { createResource, type RepoContext } from '../../src/fhir/repository';

/**
 * Accounts and projects written straight through the real repository (no HTTP), shared by the
 * domain fixtures. Each domain keeps its own shapes (names, answers) on top of these.
 */

export function repoOf(app: FastifyInstance, session?: ClientSession): RepoContext {
  return { database: app.ctx.database, clock: app.ctx.clock, session };
}

/** An address no other test of the run uses. */
export function uniqueEmail(prefix = 'person'): string {
  return `${prefix}-${randomBytes(5).toString('hex')}@example.com`;
}

/** Creates a resource, owned by `project` when given (meta.project), with `id` when given. */
export async function create<T extends Resource>(app: FastifyInstance, resource: T, project?: string, id?: string): Promise<T & { id: string }> {
  return (await createResource<T>(repoOf(app), resource, project ? { project } : {}, id)) as T & { id: string };
}

/** A Project that owns itself (meta.project is its own id), as the server creates them. */
export async function createProject(app: FastifyInstance, fields: Partial<Project> = {}): Promise<Project & { id: string }> {
  const id = newId();
  return create<Project>(app, { resourceType: 'Project', name: `Project ${id.slice(0, 8)}`, ...fields }, id, id);
}

const hashes = new Map<string, Promise<string>>();

/** The argon2 hash of a password, computed once per suite (hashing is slow on purpose). */
export function passwordHashOf(password: string): Promise<string> {
  let hash = hashes.get(password);
  if (!hash) {
    hash = hashPassword(password);
    hashes.set(password, hash);
  }
  return hash;
}

/** Gives an account a password (its `credentials` document), as setting one does. */
export async function setPassword(app: FastifyInstance, userId: string, password: string): Promise<void> {
  await setCredentials(app.ctx.database, userId, { passwordHash: await passwordHashOf(password) });
}

export interface AccountOptions {
  email: string;
  password: string;
  firstName?: string;
  lastName?: string;
  /** A project id for a project-scoped User (server-scoped without). */
  projectId?: string;
  mfaRequired?: boolean;
  emailVerified?: boolean;
}

/** A User that can sign in with `password`. */
export async function createAccount(app: FastifyInstance, options: AccountOptions): Promise<User & { id: string }> {
  const user: User = {
    resourceType: 'User',
    firstName: options.firstName ?? 'Test',
    lastName: options.lastName ?? 'Person',
    email: options.email,
    ...(options.emailVerified !== undefined ? { emailVerified: options.emailVerified } : {}),
    ...(options.mfaRequired ? { mfaRequired: true } : {}),
    ...(options.projectId ? { project: { reference: `Project/${options.projectId}` } } : {}),
  };
  const created = await create<User>(app, user, options.projectId);
  await setPassword(app, created.id, options.password);
  return created;
}

export interface MembershipOptions {
  projectId: string;
  /** A reference: `User/…` (or `ClientApplication/…`). */
  user: string;
  /** A reference to the profile: `Practitioner/…`, `Patient/…`. */
  profile: string;
  admin?: boolean;
  /** An AccessPolicy id. */
  accessPolicy?: string;
  /** Any other fields (active, access, …), written as given. */
  fields?: Partial<ProjectMembership>;
}

/** A ProjectMembership joining `user` to the project with `profile`. */
export async function createMembership(app: FastifyInstance, options: MembershipOptions): Promise<ProjectMembership & { id: string }> {
  const membership = {
    resourceType: 'ProjectMembership',
    project: { reference: `Project/${options.projectId}` },
    user: { reference: options.user },
    profile: { reference: options.profile },
    ...(options.admin !== undefined ? { admin: options.admin } : {}),
    ...(options.accessPolicy ? { accessPolicy: { reference: `AccessPolicy/${options.accessPolicy}` } } : {}),
    ...options.fields,
  } as ProjectMembership;
  return create(app, membership, options.projectId);
}

/** A Practitioner of the project (the usual profile of a member). */
export async function createPractitioner(app: FastifyInstance, projectId: string, fields: Partial<Practitioner> = {}): Promise<Practitioner & { id: string }> {
  return create<Practitioner>(app, { resourceType: 'Practitioner', name: [{ given: ['Prac'], family: 'Titioner' }], ...fields }, projectId);
}
