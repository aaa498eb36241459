import type { FastifyInstance } from 'fastify';
import type { Patient, Practitioner, Project, ProjectMembership, Reference, User } from '@medplum/fhirtypes';
import { codeExchange, pkce } from '../helpers/auth';
import { create, createAccount, createMembership, createProject as createOwnProject } from '../helpers/fixtures';

export { pkce };

/** Accounts written straight through the repository (the invite flow is tested elsewhere). */
export async function createProject(app: FastifyInstance, name: string): Promise<Project & { id: string }> {
  return createOwnProject(app, { name });
}

export async function createUser(app: FastifyInstance, email: string, password: string, projectId?: string): Promise<User & { id: string }> {
  return createAccount(app, { email, password, projectId });
}

export async function addMembership(
  app: FastifyInstance,
  projectId: string,
  userRef: string,
  profileType: 'Practitioner' | 'Patient' = 'Practitioner',
  extra: Partial<ProjectMembership> = {},
): Promise<{ membership: ProjectMembership & { id: string }; profile: Reference }> {
  const body = profileType === 'Patient' ? ({ resourceType: 'Patient', name: [{ family: 'Quill' }] } as Patient) : ({ resourceType: 'Practitioner', name: [{ family: 'Quill' }] } as Practitioner);
  const profileResource = await create(app, body, projectId);
  const profile = { reference: `${profileType}/${profileResource.id}` };
  const membership = await createMembership(app, { projectId, user: userRef, profile: profile.reference, fields: extra });
  return { membership, profile };
}

/** /auth/login with PKCE; answers the parsed body and the verifier. */
export async function startLogin(app: FastifyInstance, body: Record<string, unknown>): Promise<{ status: number; body: Record<string, unknown>; verifier: string }> {
  const { verifier, challenge } = pkce();
  const res = await app.inject({ method: 'POST', url: '/auth/login', payload: { codeChallenge: challenge, codeChallengeMethod: 'S256', ...body } });
  return { status: res.statusCode, body: res.json(), verifier };
}

export async function exchangeCode(app: FastifyInstance, code: string, verifier: string): Promise<Record<string, string> & { project: Reference; profile: Reference }> {
  const res = await app.inject(codeExchange(code, verifier));
  if (res.statusCode !== 200) {
    throw new Error(`token failed: ${res.body}`);
  }
  return res.json();
}

export function form(fields: Record<string, string>): { headers: Record<string, string>; payload: string } {
  return { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(fields).toString() };
}
