import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Patient, Practitioner, Project, ProjectMembership, Reference, User } from '@medplum/fhirtypes';
import { setCredentials } from '../../src/auth/credentials';
import { hashPassword } from '../../src/auth/password-hash';
import { createResource, type RepoContext } from '../../src/fhir/repository';

/** Accounts written straight through the repository (the invite flow is tested elsewhere). */
function repo(app: FastifyInstance): RepoContext {
  return { database: app.ctx.database, clock: app.ctx.clock };
}

export async function createProject(app: FastifyInstance, name: string): Promise<Project & { id: string }> {
  const id = randomBytes(8).toString('hex');
  return (await createResource<Project>(repo(app), { resourceType: 'Project', name }, { project: id }, id)) as Project & { id: string };
}

export async function createUser(app: FastifyInstance, email: string, password: string, projectId?: string): Promise<User & { id: string }> {
  const user = await createResource<User>(repo(app), {
    resourceType: 'User',
    firstName: 'Test',
    lastName: 'Person',
    email,
    ...(projectId ? { project: { reference: `Project/${projectId}` } } : {}),
  }, projectId ? { project: projectId } : {});
  await setCredentials(app.ctx.database, user.id as string, { passwordHash: await hashPassword(password) });
  return user as User & { id: string };
}

export async function addMembership(
  app: FastifyInstance,
  projectId: string,
  userRef: string,
  profileType: 'Practitioner' | 'Patient' = 'Practitioner',
  extra: Partial<ProjectMembership> = {},
): Promise<{ membership: ProjectMembership & { id: string }; profile: Reference }> {
  const body = profileType === 'Patient' ? ({ resourceType: 'Patient', name: [{ family: 'Quill' }] } as Patient) : ({ resourceType: 'Practitioner', name: [{ family: 'Quill' }] } as Practitioner);
  const profileResource = await createResource(repo(app), body, { project: projectId });
  const profile = { reference: `${profileType}/${profileResource.id}` };
  const membership = await createResource<ProjectMembership>(
    repo(app),
    { resourceType: 'ProjectMembership', project: { reference: `Project/${projectId}` }, user: { reference: userRef } as Reference<User>, profile: profile as Reference<Practitioner>, ...extra },
    { project: projectId },
  );
  return { membership: membership as ProjectMembership & { id: string }, profile };
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** /auth/login with PKCE; answers the parsed body and the verifier. */
export async function startLogin(app: FastifyInstance, body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown>; verifier: string }> {
  const { verifier, challenge } = pkce();
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { codeChallenge: challenge, codeChallengeMethod: 'S256', ...body } });
  return { status: res.statusCode, body: res.json(), verifier };
}

export async function exchangeCode(app: FastifyInstance, code: string, verifier: string): Promise<Record<string, string> & { project: Reference; profile: Reference }> {
  const res = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier }).toString(),
  });
  if (res.statusCode !== 200) {
    throw new Error(`token failed: ${res.body}`);
  }
  return res.json();
}

export function form(fields: Record<string, string>): { headers: Record<string, string>; payload: string } {
  return { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() };
}
