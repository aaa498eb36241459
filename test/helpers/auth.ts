import { createHash, randomBytes } from 'node:crypto';
import type { FastifyInstance, InjectOptions } from 'fastify';
import { ADMIN_EMAIL, ADMIN_PASSWORD } from './app';

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
