import { createHash } from 'node:crypto';
import { newId } from '../clock';
import { badRequest } from '../errors';
import { actorOf, type AccountsContext } from './auth-context';
import { authenticateClient, ClientAuthError, parseBasic, type ClientCredentials } from './clients';
import { checkGrant, grantsSuperAdmin, type GrantHeld } from './memberships';
import { randomSecret, safeEqual, sha256Hex } from './passwords';
import { endReusedLogin, findLoginByCodeHash, insertLogin, newLoginDoc, readLogin, REUSED_REFRESH_TOKEN, updateLogin, type LoginDoc } from './sessions';
import { issueTokens, TokenError, type TokenResponse } from './tokens';

/** The grants of POST /oauth2/token: authorization_code (with PKCE), refresh_token, client_credentials. */

/** An OAuth 2.0 error, answered as `{ error, error_description }` (as Medplum does). */
export class OAuthError extends Error {
  constructor(
    readonly error: 'invalid_request' | 'invalid_grant' | 'invalid_client' | 'unsupported_grant_type',
    readonly description: string,
    readonly status = 400,
  ) {
    super(description);
  }
}

/** The fields of a token request (form-encoded or JSON). */
export interface TokenRequest {
  grant_type?: string;
  code?: string;
  code_verifier?: string;
  refresh_token?: string;
  client_id?: string;
  client_secret?: string;
  scope?: string;
}

export interface RequestMeta {
  authorization?: string;
  remoteAddress?: string;
  userAgent?: string;
}

/** Client id and secret from HTTP Basic (preferred, as Medplum) or the body; empty strings count as absent. */
function clientFrom(body: TokenRequest, authorization: string | undefined): Partial<ClientCredentials> {
  if (authorization) {
    if (!/^basic /i.test(authorization)) {
      throw new OAuthError('invalid_request', 'Invalid authorization header: use Basic with the client id and secret');
    }
    const parsed = parseBasic(authorization.slice(6));
    if (!parsed) {
      throw new OAuthError('invalid_request', 'Malformed Basic credentials: send base64("clientId:clientSecret")');
    }
    return parsed;
  }
  return { clientId: body.client_id || undefined, clientSecret: body.client_secret || undefined };
}

/** The PKCE method of a sign-in's code challenge (none without a challenge); 400 when the two do not go together. */
export function pkceChallengeMethod(input: { codeChallenge?: string; codeChallengeMethod?: string }): LoginDoc['codeChallengeMethod'] {
  const { codeChallenge, codeChallengeMethod } = input;
  if (!codeChallenge && codeChallengeMethod) {
    throw badRequest('codeChallengeMethod was sent without a codeChallenge', 'codeChallenge');
  }
  if (codeChallenge && !codeChallengeMethod) {
    throw badRequest('codeChallenge needs a codeChallengeMethod ("S256" or "plain")', 'codeChallengeMethod');
  }
  if (codeChallengeMethod !== undefined && codeChallengeMethod !== 'S256' && codeChallengeMethod !== 'plain') {
    throw badRequest('codeChallengeMethod must be "S256" or "plain"', 'codeChallengeMethod');
  }
  return codeChallengeMethod;
}

function pkceMatches(login: LoginDoc, verifier: string): boolean {
  const challenge = login.codeChallenge as string;
  if (login.codeChallengeMethod === 'plain') {
    return safeEqual(challenge, verifier);
  }
  return safeEqual(challenge, createHash('sha256').update(verifier).digest('base64url'));
}

/** grant_type=authorization_code: PKCE checked, the code works once and only for CODE_TTL_MS. */
export async function authorizationCodeGrant(ctx: AccountsContext, body: TokenRequest, meta: RequestMeta): Promise<TokenResponse> {
  const { clientId, clientSecret } = clientFrom(body, meta.authorization);
  if (!body.code) {
    throw new OAuthError('invalid_request', 'Missing code');
  }
  const login = await findLoginByCodeHash(ctx.database, sha256Hex(body.code));
  if (!login) {
    throw new OAuthError('invalid_grant', 'Invalid code: sign in again');
  }
  if (clientId && login.clientId !== clientId) {
    throw new OAuthError('invalid_request', 'Invalid client: the code was issued to another client');
  }
  if (login.revoked) {
    throw new OAuthError('invalid_grant', 'Token revoked: sign in again');
  }
  if (login.granted) {
    // A replayed code: end the whole session (RFC 6749 section 4.1.2), as Medplum does.
    await ctx.auth.revokeLogin(login._id);
    throw new OAuthError('invalid_grant', 'Token already granted: this code was used before, sign in again');
  }
  if (!login.codeExpiresAt || login.codeExpiresAt.getTime() <= ctx.clock.now().getTime()) {
    throw new OAuthError('invalid_grant', 'The code has expired (codes last 60 seconds): sign in again');
  }
  if (login.codeChallenge) {
    if (!body.code_verifier) {
      throw new OAuthError('invalid_request', 'Missing code_verifier');
    }
    if (body.code_verifier.length > 256 || !pkceMatches(login, body.code_verifier)) {
      throw new OAuthError('invalid_grant', 'Invalid code_verifier: it does not match the code challenge');
    }
  } else if (login.clientId && clientSecret) {
    await checkClientSecret(ctx, login.clientId, clientSecret);
  } else {
    throw new OAuthError('invalid_request', 'Missing verification context: sign in with a PKCE code challenge');
  }
  // The membership may have been deactivated, or its user deleted, since the code was issued.
  const { membership, project } = await currentGrant(ctx, login);
  if (login.userType === 'User') {
    await ctx.onMembershipSignIn?.(membership, login.userId);
  }
  const refreshSecret = randomSecret(32);
  const now = ctx.clock.now();
  const granted = await updateLogin(ctx.database, login._id, {
    set: {
      granted: true,
      refreshSecretHash: sha256Hex(refreshSecret),
      expiresAt: new Date(now.getTime() + ctx.config.refreshTokenTtlSeconds * 1000),
      profile: membership.profile,
      projectAdmin: membership.admin === true,
      superAdmin: grantsSuperAdmin(project, membership),
    },
    filter: { granted: false, revoked: false, codeHash: login.codeHash },
    now,
  });
  if (!granted) {
    await ctx.auth.revokeLogin(login._id);
    throw new OAuthError('invalid_grant', 'Token already granted: this code was used before, sign in again');
  }
  return issueTokens(ctx.auth.signer, granted, refreshSecret);
}

/**
 * The membership and project of a login whose grant still holds (see checkGrant in memberships.ts), read now;
 * invalid_grant otherwise. Nothing is written: a session whose grant ended stays unusable.
 */
async function currentGrant(ctx: AccountsContext, login: LoginDoc): Promise<GrantHeld> {
  const status = login.membershipId && login.projectId
    ? await checkGrant(ctx, { userType: login.userType, userId: login.userId, projectId: login.projectId, membershipId: login.membershipId, clientId: login.clientId })
    : undefined;
  if (!status?.ok) {
    throw new OAuthError('invalid_grant', status ? status.reason : 'This sign-in has no project membership: sign in again');
  }
  return status;
}

async function checkClientSecret(ctx: AccountsContext, clientId: string, clientSecret: string): Promise<void> {
  try {
    await authenticateClient(ctx, { clientId, clientSecret });
  } catch (err) {
    if (err instanceof ClientAuthError) {
      throw new OAuthError('invalid_request', err.message);
    }
    throw err;
  }
}

/**
 * grant_type=refresh_token: the refresh token is rotated (the old one stops working). Presenting
 * a rotated one again ends the whole sign-in session (see endReusedLogin).
 */
export async function refreshTokenGrant(ctx: AccountsContext, body: TokenRequest, meta: RequestMeta): Promise<TokenResponse> {
  if (!body.refresh_token) {
    throw new OAuthError('invalid_request', 'Missing refresh_token');
  }
  let claims;
  try {
    claims = await ctx.auth.signer.verifyRefresh(body.refresh_token);
  } catch (err) {
    const expired = err instanceof TokenError && err.reason === 'expired';
    throw new OAuthError('invalid_grant', expired ? 'The refresh token has expired: sign in again' : 'Invalid refresh token');
  }
  const login = await readLogin(ctx.database, claims.login_id);
  if (!login || !login.refreshSecretHash || !login.membershipId) {
    throw new OAuthError('invalid_grant', 'Invalid refresh token');
  }
  const now = ctx.clock.now();
  if (login.revoked || login.expiresAt.getTime() <= now.getTime()) {
    throw new OAuthError('invalid_grant', 'Token revoked: this sign-in session has ended, sign in again');
  }
  const presentedHash = sha256Hex(claims.refresh_secret);
  if (!safeEqual(presentedHash, login.refreshSecretHash)) {
    // A refresh token we signed for this login, but rotated away already: it was copied.
    await endReusedLogin({ ...ctx, revokeLogin: ctx.auth.revokeLogin }, login, meta.remoteAddress);
    throw new OAuthError('invalid_grant', REUSED_REFRESH_TOKEN);
  }
  const { clientId } = clientFrom(body, meta.authorization);
  if (clientId && clientId !== login.clientId) {
    throw new OAuthError('invalid_grant', 'Incorrect client: the refresh token was issued to another client');
  }
  const { membership, project } = await currentGrant(ctx, login);
  if (login.userType === 'User') {
    await ctx.onMembershipSignIn?.(membership, login.userId);
  }
  const refreshSecret = randomSecret(32);
  const rotated = await updateLogin(ctx.database, login._id, {
    set: {
      refreshSecretHash: sha256Hex(refreshSecret),
      profile: membership.profile,
      projectAdmin: membership.admin === true,
      superAdmin: grantsSuperAdmin(project, membership),
      expiresAt: new Date(now.getTime() + ctx.config.refreshTokenTtlSeconds * 1000),
      ...(meta.remoteAddress ? { remoteAddress: meta.remoteAddress } : {}),
    },
    filter: { revoked: false, refreshSecretHash: presentedHash },
    now,
  });
  if (!rotated) {
    // Another request rotated this same token first: it was used twice.
    await endReusedLogin({ ...ctx, revokeLogin: ctx.auth.revokeLogin }, login, meta.remoteAddress);
    throw new OAuthError('invalid_grant', REUSED_REFRESH_TOKEN);
  }
  return issueTokens(ctx.auth.signer, rotated, refreshSecret);
}

/** grant_type=client_credentials: a ClientApplication signs in to act within its project. */
export async function clientCredentialsGrant(ctx: AccountsContext, body: TokenRequest, meta: RequestMeta): Promise<TokenResponse> {
  const { clientId, clientSecret } = clientFrom(body, meta.authorization);
  if (!clientId) {
    throw new OAuthError('invalid_request', 'Missing client_id');
  }
  if (!clientSecret) {
    throw new OAuthError('invalid_request', 'Missing client_secret');
  }
  let auth;
  try {
    ({ auth } = await authenticateClient(ctx, { clientId, clientSecret }));
  } catch (err) {
    if (err instanceof ClientAuthError) {
      ctx.audit?.record({ kind: 'sign-in', outcome: '4', outcomeDesc: 'invalid-client', address: meta.remoteAddress });
      throw new OAuthError('invalid_request', err.message);
    }
    throw err;
  }
  ctx.audit?.record({ kind: 'sign-in', outcomeDesc: 'client credentials accepted', address: meta.remoteAddress, actor: actorOf({ ...auth, loginId: '' }), project: auth.projectId });
  const now = ctx.clock.now();
  const login = newLoginDoc(
    now,
    ctx.config.accessTokenTtlSeconds,
    {
      _id: newId(),
      userId: clientId,
      userType: 'ClientApplication',
      authMethod: 'client',
      clientId,
      projectId: auth.projectId,
      membershipId: auth.membershipId,
      profile: auth.profile,
      projectAdmin: auth.projectAdmin,
      superAdmin: auth.superAdmin,
      scope: body.scope || 'openid',
      nonce: newId(),
      granted: true,
    },
    meta,
  );
  await insertLogin(ctx.database, login);
  return issueTokens(ctx.auth.signer, login);
}

/** Dispatches a token request on grant_type. */
export async function tokenGrant(ctx: AccountsContext, body: TokenRequest, meta: RequestMeta): Promise<TokenResponse> {
  switch (body.grant_type) {
    case 'authorization_code':
      return authorizationCodeGrant(ctx, body, meta);
    case 'refresh_token':
      return refreshTokenGrant(ctx, body, meta);
    case 'client_credentials':
      return clientCredentialsGrant(ctx, body, meta);
    case undefined:
    case '':
      throw new OAuthError('invalid_request', 'Missing grant_type');
    default:
      throw new OAuthError('unsupported_grant_type', 'Unsupported grant_type: use authorization_code, refresh_token or client_credentials');
  }
}
