import type { AccessPolicy, Resource } from '@medplum/fhirtypes';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { type SignedIn, signIn } from './auth';
import { create, createAccount, createMembership, createPractitioner, createProject } from './fixtures';

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
  const user = await createAccount(app, { email, password, firstName: name, lastName: 'Admin' });
  const project = await createProject(app, { name, owner: { reference: `User/${user.id}` } });
  const practitioner = await createPractitioner(app, project.id, { name: [{ given: [name], family: 'Admin' }] });
  const membership = await createMembership(app, { projectId: project.id, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, admin: true });
  return { projectId: project.id, userId: user.id, practitionerId: practitioner.id, membershipId: membership.id, session: await signIn(app, email, password) };
}

/**
 * A member of a project (not an admin) whose membership applies an AccessPolicy, with a
 * server-scoped User and a password, signed in.
 */
export async function createPolicyMember(app: FastifyInstance, projectId: string, email: string, policy: AccessPolicy, password = 'policy-member-password-42'): Promise<SignedIn> {
  const user = await createAccount(app, { email, password, firstName: 'Policy', lastName: 'Member' });
  const accessPolicy = await create(app, policy, projectId);
  const practitioner = await createPractitioner(app, projectId, { name: [{ family: 'Member' }] });
  await createMembership(app, { projectId, user: `User/${user.id}`, profile: `Practitioner/${practitioner.id}`, accessPolicy: accessPolicy.id });
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
