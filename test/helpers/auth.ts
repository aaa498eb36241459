import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './app';
import type { Patient, Practitioner, Project, ProjectMembership, Reference, User } from '@medplum/fhirtypes';
import { create, createAccount, createMembership, createProject as createOwnProject } from './fixtures';

export interface SignedIn {
  accessToken: string;
  refreshToken?: string;
  project?: { reference?: string };
  profile?: { reference?: string };
  headers: { authorization: string };
}

/** A PKCE verifier and its S256 challenge. */
export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The /oauth2/token request that exchanges an authorization code (form-encoded, as MedplumClient sends it). */
export function codeExchange(code: string, verifier: string): InjectOptions {
  return {
    method: 'POST',
    url: '/oauth2/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ grant_type: 'authorization_code', code, code_verifier: verifier }).toString(),
  };
}

/** Signs in the way MedplumClient does: /auth/login with PKCE, then /oauth2/token. */
export async function signIn(app: FastifyInstance, email = ADMIN_EMAIL, password = ADMIN_PASSWORD, projectId?: string): Promise<SignedIn> {
  const { verifier, challenge } = pkce();
  const login = await app.inject({
    method: 'POST',
    url: '/auth/login',
    payload: { email, password, projectId, codeChallenge: challenge, codeChallengeMethod: 'S256', scope: 'openid' },
  });
  if (login.statusCode !== 200) {
    throw new Error(`login failed: ${login.statusCode} ${login.body}`);
  }
  const { code } = login.json() as { code?: string };
  if (!code) {
    throw new Error(`login did not answer a code: ${login.body}`);
  }
  const token = await app.inject(codeExchange(code, verifier));
  if (token.statusCode !== 200) {
    throw new Error(`token failed: ${token.statusCode} ${token.body}`);
  }
  const body = token.json() as { access_token: string; refresh_token?: string; project?: { reference?: string }; profile?: { reference?: string } };
  return { accessToken: body.access_token, refreshToken: body.refresh_token, project: body.project, profile: body.profile, headers: { authorization: `Bearer ${body.access_token}` } };
}


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
