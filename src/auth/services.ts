import type { FastifyRequest } from 'fastify';
import type { JWK } from 'jose';
import type { AccessScope } from '../access/access-scope';
import type { AppContext } from '../app-context';
import { FhirError } from '../errors';
import type { AuthContext } from './auth-context';
import { BackgroundTasks } from './background-tasks';
import { authenticateClient, ClientAuthError, parseBasic } from './basic-auth';
import { ensureSuperAdmin } from './bootstrap';
import { checkGrant, type Grant } from './grant-check';
import { readLogin, updateLogin } from './login-store';
import { hashPassword } from './password-hash';
import { randomSecret, sha256Hex } from './secrets';
import { loadOrCreateSigningKey } from './signing-keys';
import { createTokenSigner, TokenError, type AccessTokenClaims, type TokenSigner } from './tokens';
import { TtlCache } from '../ttl-cache';

/**
 * How long an instance trusts what it learnt about a login (active or ended), about the grant
 * behind it (membership, project, user or client: see grant-check.ts) and about a verified HTTP
 * Basic client. Trade-off: a logout on THIS instance, and a write through THIS instance's FHIR API
 * that may end grants, take effect at once (the caches are updated or cleared); a logout on
 * ANOTHER instance, or a delete or deactivation there or straight in the database, takes effect
 * here within this time. In exchange, a busy caller costs a few database reads per login per TTL,
 * not per request. Every cache is bounded (TtlCache keeps at most 10,000 entries).
 */
const SESSION_CACHE_TTL_MS = 5_000;

/**
 * How long an instance remembers that an access token verified (signature, issuer, type), never
 * past the token's own expiry. A token cannot change: the same string always verifies the same
 * way until it expires, so this changes no decision, it only saves the signature check (the
 * largest CPU cost of a read). Revocation is still checked on every request (`loginActive`).
 */
const VERIFIED_TOKEN_TTL_MS = 5 * 60_000;

/** What the auth domain offers the rest of the server. */
export interface AuthServices {
  /** Verifies a bearer access token (signature, expiry, revocation) into an AuthContext; 401 otherwise. */
  verifyAccessToken(token: string): Promise<AuthContext>;
  /**
   * A Fastify hook (onRequest or preHandler): sets request.auth from `Authorization: Bearer`
   * (an access token) or `Authorization: Basic` (a ClientApplication id and secret), or throws 401.
   */
  authenticate(request: FastifyRequest): Promise<void>;
  /**
   * Access scopes resolved per membership, kept SESSION_CACHE_TTL_MS (see resolveAccessScope in
   * src/access/resolve.ts); `clear()` it after writing a membership, policy or RelatedPerson.
   */
  accessScopes: TtlCache<AccessScope>;
  /** Ends a sign-in session: every token issued from it stops working (401). */
  revokeLogin(loginId: string): Promise<void>;
  /**
   * Forgets what this instance cached about sign-in sessions, grants and Basic clients: call
   * after a write that may end a grant (a membership, user, client or project changed or deleted),
   * so that it applies here at once rather than within SESSION_CACHE_TTL_MS.
   */
  forgetSessions(): void;
  /** Signs and verifies this server's tokens. */
  signer: TokenSigner;
  /** The public signing keys, as published at /.well-known/jwks.json. */
  jwks(): { keys: JWK[] };
  /** An argon2 hash of nothing anyone knows: verified against when an email is unknown, so timing is the same. */
  dummyPasswordHash(): Promise<string>;
  /** Work done after the answer (password reset); drained when the app closes. */
  background: BackgroundTasks;
}

/** A 401 the caller can act on, with the WWW-Authenticate challenge. */
export function unauthenticated(message: string): FhirError {
  const err = new FhirError('FST_UNAUTHENTICATED', message);
  err.headers = { 'www-authenticate': 'Bearer realm="fhir-invite-server"' };
  return err;
}

function toAuthContext(claims: AccessTokenClaims): AuthContext {
  return {
    userId: claims.sub,
    userType: claims.user_type === 'ClientApplication' ? 'ClientApplication' : 'User',
    loginId: claims.login_id,
    projectId: claims.project_id,
    membershipId: claims.membership_id,
    profile: { reference: claims.profile },
    projectAdmin: claims.project_admin === true,
    superAdmin: claims.super_admin === true,
  };
}

/**
 * Builds the auth services of one app: loads (or creates, on the very first start) the signing
 * key shared by every instance, and creates the super administrator when there is no user yet.
 */
export async function createAuthServices(ctx: Omit<AppContext, 'auth'>): Promise<AuthServices> {
  const key = await loadOrCreateSigningKey(ctx.database, ctx.clock);
  const signer = createTokenSigner({
    key,
    issuer: ctx.config.baseUrl,
    clock: ctx.clock,
    accessTtlSeconds: ctx.config.accessTokenTtlSeconds,
    refreshTtlSeconds: ctx.config.refreshTokenTtlSeconds,
  });
  const sessions = new TtlCache<boolean>(ctx.clock, SESSION_CACHE_TTL_MS);
  /** Per grant: '' while it holds, else why it ended (refusals are cached too: a dead token hammering costs no reads). */
  const grants = new TtlCache<string>(ctx.clock, SESSION_CACHE_TTL_MS);
  const clients = new TtlCache<AuthContext>(ctx.clock, SESSION_CACHE_TTL_MS);
  const verifiedTokens = new TtlCache<AccessTokenClaims>(ctx.clock, VERIFIED_TOKEN_TTL_MS);
  const accessScopes = new TtlCache<AccessScope>(ctx.clock, SESSION_CACHE_TTL_MS);
  // Made now, with the same parameters as every real hash: even the first unknown email costs one verify.
  const dummyHash = hashPassword(randomSecret(16));
  dummyHash.catch(() => undefined);

  await ensureSuperAdmin(ctx);

  const loginActive = async (loginId: string): Promise<boolean> => {
    const cached = sessions.get(loginId);
    if (cached !== undefined) {
      return cached;
    }
    const generation = sessions.generation;
    const login = await readLogin(ctx.database, loginId);
    const active = !!login && !login.revoked && login.expiresAt.getTime() > ctx.clock.now().getTime();
    sessions.set(loginId, active, { generation });
    return active;
  };

  /** 401 unless the grant still holds (see grant-check.ts), known at most SESSION_CACHE_TTL_MS ago. */
  const requireGrant = async (grant: Grant): Promise<void> => {
    const key = `${grant.userType}/${grant.userId}|${grant.projectId}|${grant.membershipId}|${grant.clientId ?? ''}`;
    let reason = grants.get(key);
    if (reason === undefined) {
      const generation = grants.generation;
      const status = await checkGrant(ctx, grant);
      reason = status.ok ? '' : status.reason;
      grants.set(key, reason, { generation });
    }
    if (reason) {
      throw unauthenticated(reason);
    }
  };

  /** The verified claims (from the cache while the token is valid); 401 otherwise. */
  const verifiedClaims = async (token: string): Promise<AccessTokenClaims> => {
    const cached = verifiedTokens.get(token);
    if (cached) {
      return cached;
    }
    let claims: AccessTokenClaims;
    try {
      claims = await signer.verifyAccess(token);
    } catch (err) {
      if (err instanceof TokenError && err.reason === 'expired') {
        throw unauthenticated('The access token has expired: refresh it or sign in again');
      }
      throw unauthenticated('The access token is not valid: sign in again');
    }
    // Our tokens always carry exp and never nbf; anything else is simply verified every time.
    const { exp, nbf } = claims as { exp?: unknown; nbf?: unknown };
    if (typeof exp === 'number' && nbf === undefined) {
      verifiedTokens.set(token, claims, { ttlMs: exp * 1000 - ctx.clock.now().getTime() });
    }
    return claims;
  };

  const verifyAccessToken = async (token: string): Promise<AuthContext> => {
    const claims = await verifiedClaims(token);
    if (!(await loginActive(claims.login_id))) {
      throw unauthenticated('This sign-in session has ended (signed out or revoked): sign in again');
    }
    const auth = toAuthContext(claims);
    await requireGrant({ ...auth, clientId: claims.client_id });
    return auth;
  };

  const verifyBasic = async (value: string): Promise<AuthContext> => {
    const cacheKey = sha256Hex(value);
    const cached = clients.get(cacheKey);
    if (cached) {
      return cached;
    }
    const generation = clients.generation;
    const credentials = parseBasic(value);
    if (!credentials) {
      throw unauthenticated('Malformed Basic credentials: send base64("clientId:clientSecret")');
    }
    try {
      const { auth } = await authenticateClient(ctx, credentials);
      const result: AuthContext = { ...auth, loginId: `basic:${credentials.clientId}` };
      await requireGrant(result);
      clients.set(cacheKey, result, { generation });
      return result;
    } catch (err) {
      if (err instanceof ClientAuthError) {
        throw unauthenticated('The client id or secret is not valid');
      }
      throw err;
    }
  };

  return {
    signer,
    verifyAccessToken,
    accessScopes,
    authenticate: async (request) => {
      const header = request.headers.authorization;
      if (!header) {
        throw unauthenticated('Sign in required: send Authorization: Bearer <access token>');
      }
      const space = header.indexOf(' ');
      const scheme = (space > 0 ? header.slice(0, space) : header).toLowerCase();
      const value = space > 0 ? header.slice(space + 1).trim() : '';
      if (scheme === 'bearer' && value) {
        request.auth = await verifyAccessToken(value);
      } else if (scheme === 'basic' && value) {
        request.auth = await verifyBasic(value);
      } else {
        throw unauthenticated('Unsupported Authorization header: send Bearer <access token> or Basic <client credentials>');
      }
    },
    revokeLogin: async (loginId) => {
      const now = ctx.clock.now();
      await updateLogin(ctx.database, loginId, { set: { revoked: true, revokedAt: now }, filter: { revoked: false }, now });
      sessions.set(loginId, false);
    },
    forgetSessions: () => {
      sessions.clear();
      grants.clear();
      clients.clear();
    },
    jwks: () => ({ keys: [key.publicJwk] }),
    dummyPasswordHash: () => dummyHash,
    background: new BackgroundTasks(ctx.log),
  };
}
