import type { AccessPolicy, AccessPolicyResource, Project, ProjectMembership, ProjectMembershipAccess, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, InjectOptions } from 'fastify';
import type { AuthContext } from '../../src/accounts/auth-context';
import type { StoredResource } from '../../src/fhir/repository';
import { create, createAccount, createMembership, createProject, passwordHashOf, repoOf } from './fixtures';
import { type SignedIn, signIn } from './auth';

export { repoOf };

/** Creates a resource owned by a project. */
export async function make<T extends Resource>(app: FastifyInstance, resource: T, project?: string): Promise<T & { id: string }> {
  return create(app, resource, project);
}

export async function makeProject(app: FastifyInstance, name: string): Promise<string> {
  return (await createProject(app, { name })).id;
}

export async function makePolicy(app: FastifyInstance, project: string, name: string, resource: AccessPolicyResource[]): Promise<string> {
  const policy = await make<AccessPolicy>(app, { resourceType: 'AccessPolicy', name, resource }, project);
  return policy.id;
}

export interface MembershipSpec {
  profile: string;
  user?: string;
  admin?: boolean;
  accessPolicy?: string;
  access?: ProjectMembershipAccess[];
  active?: boolean;
}

let counter = 0;

/** A membership in a project plus the AuthContext a verified token for it would carry. */
export async function makeMember(app: FastifyInstance, project: string, spec: MembershipSpec): Promise<{ membership: ProjectMembership & { id: string }; auth: AuthContext }> {
  counter += 1;
  const user = spec.user ?? `User/u-${counter}`;
  const membership = await createMembership(app, {
    projectId: project,
    user,
    profile: spec.profile,
    admin: spec.admin,
    accessPolicy: spec.accessPolicy,
    fields: { active: spec.active, access: spec.access },
  });
  const auth: AuthContext = {
    userId: user.split('/')[1],
    userType: 'User',
    loginId: `login-${counter}`,
    projectId: project,
    membershipId: membership.id,
    profile: { reference: spec.profile },
    projectAdmin: spec.admin === true,
    superAdmin: false,
  };
  return { membership, auth };
}

/**
 * The bootstrap super administrator (admin membership of the `superAdmin` project) as the
 * AuthContext its token carries, read from the database: the server checks the stored
 * membership behind a super-admin claim, so a made-up one is refused.
 */
export async function rootAuth(app: FastifyInstance): Promise<AuthContext> {
  const db = app.ctx.database.db;
  const project = await db.collection<StoredResource<Project>>('Project').findOne({ 'resource.superAdmin': true, deleted: false });
  const membership = await db
    .collection<StoredResource<ProjectMembership>>('ProjectMembership')
    .findOne({ project: project?._id, 'resource.admin': true, deleted: false }, { sort: { lastUpdated: 1 } });
  const user = membership?.resource.user?.reference;
  if (!project || !membership || !user) {
    throw new Error('the bootstrap super administrator is missing');
  }
  return {
    userId: user.split('/')[1],
    userType: 'User',
    loginId: `login-root-${(counter += 1)}`,
    projectId: project._id,
    membershipId: membership._id,
    profile: membership.resource.profile ?? {},
    projectAdmin: true,
    superAdmin: true,
  };
}

/** Catches the error a call throws (undefined when it does not throw). */
export function thrown(fn: () => unknown): (Error & { statusCode?: number; issues?: { expression?: string[] }[] }) | undefined {
  try {
    fn();
  } catch (err) {
    return err as Error & { statusCode?: number };
  }
  return undefined;
}

export async function rejection(promise: Promise<unknown>): Promise<(Error & { statusCode?: number }) | undefined> {
  try {
    await promise;
  } catch (err) {
    return err as Error & { statusCode?: number };
  }
  return undefined;
}

export interface Member {
  userId: string;
  email: string;
  password: string;
  membershipId: string;
  session: SignedIn;
}

export interface MemberSpec {
  key: string;
  profile: string;
  admin?: boolean;
  policy?: AccessPolicyResource[];
}

/** A server-scoped user with a password and one membership in the project, signed in. */
export async function signedInMember(app: FastifyInstance, project: string, spec: MemberSpec): Promise<Member & { passwordHash: string }> {
  const email = `${spec.key.toLowerCase()}@example.com`;
  const password = `pw-${spec.key}-Correct-Horse-9`;
  const user = await createAccount(app, { email, password, firstName: spec.key, lastName: 'Test', emailVerified: true });
  const passwordHash = await passwordHashOf(password);
  const accessPolicy = spec.policy ? await makePolicy(app, project, `${spec.key} policy`, spec.policy) : undefined;
  const { membership } = await makeMember(app, project, { profile: spec.profile, user: `User/${user.id}`, admin: spec.admin, accessPolicy });
  const session = await signIn(app, email, password);
  return { userId: user.id, email, password, passwordHash, membershipId: membership.id, session };
}

export interface Answer {
  status: number;
  body: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  json: any;
}

/** Sends requests and keeps every response body, for the "no secret anywhere" scan. */
export class Recorder {
  readonly bodies: string[] = [];

  constructor(private readonly app: FastifyInstance) {}

  async call(who: Member | { session: SignedIn }, method: InjectOptions['method'], url: string, payload?: object, headers: Record<string, string> = {}): Promise<Answer> {
    const res = await this.app.inject({
      method,
      url: `/fhir/R4/${url}`,
      headers: { ...who.session.headers, ...(payload ? { 'content-type': 'application/fhir+json' } : {}), ...headers },
      payload: payload ? JSON.stringify(payload) : undefined,
    });
    this.bodies.push(res.body);
    let json: unknown;
    try {
      json = res.json();
    } catch {
      json = undefined;
    }
    return { status: res.statusCode, body: res.body, json };
  }
}

/** The ids of the resources in a searchset Bundle. */
export function idsIn(bundle: { entry?: { resource?: { id?: string } }[] }): string[] {
  return (bundle.entry ?? []).map((e) => e.resource?.id as string).sort();
}
