import type { Practitioner, Project, ProjectMembership, User } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { createActivation, type ActivationDoc, type CreatedActivation } from '../../src/auth/activation-store';
import { CREDENTIALS } from '../../src/auth/credentials';
import { hashPassword } from '../../src/auth/password-hash';
import { withTransaction } from '../../src/db/transaction';
import { createResource, type RepoContext } from '../../src/fhir/repository';

/** Test data built with the real repository (no HTTP), for the activation and MFA suites. */

let counter = 0;
export function uniqueEmail(prefix = 'person'): string {
  counter += 1;
  return `${prefix}-${Date.now().toString(36)}-${counter}@example.com`;
}

function repo(app: FastifyInstance): RepoContext {
  return { database: app.ctx.database, clock: app.ctx.clock };
}

export interface UserOptions {
  email?: string;
  mfaRequired?: boolean;
  /** A project id for a project-scoped user. */
  projectId?: string;
  firstName?: string;
}

export async function createUser(app: FastifyInstance, options: UserOptions = {}): Promise<User> {
  const user: User = {
    resourceType: 'User',
    firstName: options.firstName ?? 'Ada',
    lastName: 'Lovelace',
    email: options.email ?? uniqueEmail(),
    ...(options.mfaRequired ? { mfaRequired: true } : {}),
    ...(options.projectId ? { project: { reference: `Project/${options.projectId}` } } : {}),
  };
  return createResource(repo(app), user, options.projectId ? { project: options.projectId } : {});
}

export async function createLink(app: FastifyInstance, userId: string, kind: ActivationDoc['kind'] = 'invite'): Promise<CreatedActivation> {
  const { database, clock, config } = app.ctx;
  return withTransaction(database, (session) => createActivation({ database, clock, baseUrl: config.baseUrl, ttlMs: config.activationTtlMs }, session, { userId, kind }));
}

export interface Member {
  user: User;
  project: Project;
  profile: Practitioner;
  membership: ProjectMembership;
  email: string;
  password: string;
}

/** A project, a user with a password, a Practitioner profile and the user's membership. */
export async function createMember(app: FastifyInstance, options: UserOptions & { password?: string } = {}): Promise<Member> {
  const r = repo(app);
  const project = await createResource<Project>(r, { resourceType: 'Project', name: `Project ${uniqueEmail('p')}` });
  const user = await createUser(app, options);
  const profile = await createResource<Practitioner>(r, { resourceType: 'Practitioner', name: [{ given: ['Ada'], family: 'Lovelace' }] }, { project: project.id });
  const membership = await createResource<ProjectMembership>(
    r,
    { resourceType: 'ProjectMembership', project: { reference: `Project/${project.id}` }, user: { reference: `User/${user.id}` }, profile: { reference: `Practitioner/${profile.id}` } },
    { project: project.id },
  );
  const password = options.password ?? 'a long and unusual passphrase';
  await app.ctx.database.db.collection<{ _id: string; passwordHash: string }>(CREDENTIALS).insertOne({ _id: user.id as string, passwordHash: await hashPassword(password) });
  return { user, project, profile, membership, email: user.email as string, password };
}

/** The path of an activation link (what a browser requests). */
export function linkPath(link: CreatedActivation): string {
  return new URL(link.url).pathname;
}

/** The collections activation and MFA write to (the embedded engine cannot list collections). */
export const WRITTEN_COLLECTIONS = ['activations', 'credentials', 'logins', 'outbox', 'User', 'User_history'];

/** Everything in those collections: for "a refused request changed nothing" assertions. */
export async function snapshot(app: FastifyInstance): Promise<Record<string, unknown[]>> {
  const result: Record<string, unknown[]> = {};
  for (const name of WRITTEN_COLLECTIONS) {
    result[name] = await app.ctx.database.db.collection(name).find({}).sort({ _id: 1 }).toArray();
  }
  return result;
}
