import type { AccessPolicy, Practitioner, Project, ProjectMembership, Resource, User } from '@medplum/fhirtypes';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { hashPassword } from '../../src/auth/password-hash';
import { newId } from '../../src/clock';
import { withTransaction } from '../../src/db/transaction';
import { createResource, type RepoContext } from '../../src/fhir/repository';
import { currentCollection, historyCollection, STORED_TYPES } from '../../src/fhir/resource-types';
import { signIn, type SignedIn } from '../helpers/auth';

export const FHIR_JSON = { 'content-type': 'application/fhir+json' };

export interface ProjectAdmin {
  projectId: string;
  userId: string;
  practitionerId: string;
  membershipId: string;
  session: SignedIn;
}

/**
 * A second project with its own administrator (a server-scoped User with a password in
 * `credentials`, a Practitioner profile, an admin membership), written through the repository,
 * then signed in.
 */
export async function createProjectAdmin(app: FastifyInstance, name: string, email: string, password = 'second-admin-password-42'): Promise<ProjectAdmin> {
  const ids = { projectId: newId(), userId: newId(), practitionerId: newId(), membershipId: newId() };
  const passwordHash = await hashPassword(password);
  await withTransaction(app.ctx.database, async (session) => {
    const repo: RepoContext = { database: app.ctx.database, clock: app.ctx.clock, session };
    await createResource<User>(repo, { resourceType: 'User', firstName: name, lastName: 'Admin', email }, {}, ids.userId);
    await createResource<Project>(repo, { resourceType: 'Project', name, owner: { reference: `User/${ids.userId}` } }, { project: ids.projectId }, ids.projectId);
    await createResource<Practitioner>(repo, { resourceType: 'Practitioner', name: [{ given: [name], family: 'Admin' }] }, { project: ids.projectId }, ids.practitionerId);
    await createResource<ProjectMembership>(
      repo,
      {
        resourceType: 'ProjectMembership',
        project: { reference: `Project/${ids.projectId}` },
        user: { reference: `User/${ids.userId}` },
        profile: { reference: `Practitioner/${ids.practitionerId}` },
        admin: true,
      },
      { project: ids.projectId },
      ids.membershipId,
    );
    await app.ctx.database.db.collection<{ _id: string; passwordHash: string }>('credentials').insertOne({ _id: ids.userId, passwordHash }, { session });
  });
  return { ...ids, session: await signIn(app, email, password) };
}

/**
 * A member of a project (not an admin) whose membership applies an AccessPolicy, with a
 * server-scoped User and a password, signed in.
 */
export async function createPolicyMember(app: FastifyInstance, projectId: string, email: string, policy: AccessPolicy, password = 'policy-member-password-42'): Promise<SignedIn> {
  const ids = { userId: newId(), practitionerId: newId(), policyId: newId() };
  const passwordHash = await hashPassword(password);
  await withTransaction(app.ctx.database, async (session) => {
    const repo: RepoContext = { database: app.ctx.database, clock: app.ctx.clock, session };
    await createResource<User>(repo, { resourceType: 'User', firstName: 'Policy', lastName: 'Member', email }, {}, ids.userId);
    await createResource<AccessPolicy>(repo, policy, { project: projectId }, ids.policyId);
    await createResource<Practitioner>(repo, { resourceType: 'Practitioner', name: [{ family: 'Member' }] }, { project: projectId }, ids.practitionerId);
    await createResource<ProjectMembership>(
      repo,
      {
        resourceType: 'ProjectMembership',
        project: { reference: `Project/${projectId}` },
        user: { reference: `User/${ids.userId}` },
        profile: { reference: `Practitioner/${ids.practitionerId}` },
        accessPolicy: { reference: `AccessPolicy/${ids.policyId}` },
      },
      { project: projectId },
    );
    await app.ctx.database.db.collection<{ _id: string; passwordHash: string }>('credentials').insertOne({ _id: ids.userId, passwordHash }, { session });
  });
  return signIn(app, email, password);
}

/** POSTs a resource and answers the created one (fails the test on anything but 201). */
export async function post<T extends Resource>(app: FastifyInstance, headers: Record<string, string>, resource: T): Promise<T & { id: string }> {
  const res = await app.inject({ method: 'POST', url: `/fhir/R4/${resource.resourceType}`, headers: { ...headers, ...FHIR_JSON }, payload: resource });
  if (res.statusCode !== 201) {
    throw new Error(`create failed: ${res.statusCode} ${res.body}`);
  }
  return res.json() as T & { id: string };
}

/** The issues of an OperationOutcome response. */
export function issues(res: LightMyRequestResponse): { code?: string; expression?: string[]; diagnostics?: string }[] {
  const body = res.json() as { resourceType: string; issue?: { code?: string; expression?: string[]; diagnostics?: string }[] };
  if (body.resourceType !== 'OperationOutcome') {
    throw new Error(`expected an OperationOutcome, got ${res.body}`);
  }
  return body.issue ?? [];
}

/** The ids of a Bundle's entries, by search mode. */
export function entryIds(res: LightMyRequestResponse, mode: 'match' | 'include' = 'match'): string[] {
  const bundle = res.json() as { entry?: { resource?: Resource; search?: { mode?: string } }[] };
  return (bundle.entry ?? []).filter((e) => (e.search?.mode ?? 'match') === mode).map((e) => `${e.resource?.resourceType}/${e.resource?.id}`);
}

/**
 * Every resource and history document (the embedded engine has no listCollections, so the
 * collections are named): for "nothing was written" assertions.
 */
export async function snapshotResources(app: FastifyInstance): Promise<Record<string, unknown[]>> {
  const result: Record<string, unknown[]> = {};
  for (const type of STORED_TYPES) {
    for (const name of [currentCollection(type), historyCollection(type)]) {
      result[name] = await app.ctx.database.db.collection(name).find({}).sort({ _id: 1 }).toArray();
    }
  }
  return result;
}
