import type { Practitioner, Project, ProjectMembership, User } from '@medplum/fhirtypes';
import type { FastifyInstance } from 'fastify';
import { type ActivationDoc, type ActivationInput, createActivation, type CreatedActivation } from '../../src/accounts/activation';
import { withTransaction } from '../../src/db/transaction';
import { create, createAccount, createMembership, createPractitioner, createProject, uniqueEmail } from './fixtures';

/** Test data built with the real repository (no HTTP), for the activation and MFA suites. */

export { uniqueEmail };

export interface UserOptions {
  email?: string;
  mfaRequired?: boolean;
  /** A project id for a project-scoped user. */
  projectId?: string;
  firstName?: string;
  /** An account whose owner proved the email (through a mailed link). */
  emailVerified?: boolean;
}

/** A User without a password (what an invite creates before its activation link is used). */
export async function createUser(app: FastifyInstance, options: UserOptions = {}): Promise<User> {
  const user: User = {
    resourceType: 'User',
    firstName: options.firstName ?? 'Ada',
    lastName: 'Lovelace',
    email: options.email ?? uniqueEmail(),
    ...(options.mfaRequired ? { mfaRequired: true } : {}),
    ...(options.projectId ? { project: { reference: `Project/${options.projectId}` } } : {}),
  };
  return create(app, user, options.projectId);
}

/** An activation link as the server makes them: by default one mailed to the user (`delivery: 'mail'`). */
export async function createLink(
  app: FastifyInstance,
  userId: string,
  kind: ActivationDoc['kind'] = 'invite',
  delivery: ActivationInput['delivery'] = 'mail',
): Promise<CreatedActivation> {
  const { database, clock, config } = app.ctx;
  return withTransaction(database, (session) => createActivation({ database, clock, baseUrl: config.baseUrl, ttlMs: config.activationTtlMs }, session, { userId, kind, delivery }));
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
  const project = await createProject(app, { name: `Project ${uniqueEmail('p')}` });
  const password = options.password ?? 'a long and unusual passphrase';
  const user = await createAccount(app, {
    email: options.email ?? uniqueEmail(),
    password,
    firstName: options.firstName ?? 'Ada',
    lastName: 'Lovelace',
    projectId: options.projectId,
    mfaRequired: options.mfaRequired,
    emailVerified: options.emailVerified,
  });
  const profile = await createPractitioner(app, project.id, { name: [{ given: ['Ada'], family: 'Lovelace' }] });
  const membership = await createMembership(app, { projectId: project.id, user: `User/${user.id}`, profile: `Practitioner/${profile.id}` });
  return { user, project, profile, membership, email: user.email as string, password };
}

/** The path of an activation link (what a browser requests). */
export function linkPath(link: CreatedActivation): string {
  return new URL(link.url).pathname;
}
