import type { FastifyRequest } from 'fastify';
import type { IndexSpecs } from '../db/indexes';
import { TtlCache } from '../ttl-cache';
import { unauthenticated, type AccountsContext, type AuthContext, type AuthServices } from './auth-context';
import { ensureSuperAdmin } from './bootstrap';
import { authenticateClient, ClientAuthError, parseBasic } from './clients';
import { checkGrant, type Grant } from './memberships';
import { hashPassword, randomSecret, sha256Hex } from './passwords';
import { BackgroundTasks } from './set-password';
import { LOGINS, readLogin, SECURITY_EVENTS, updateLogin } from './sessions';
import { createTokenSigner, loadOrCreateSigningKey, TokenError, type AccessTokenClaims } from './tokens';

/**
 * accounts/ — domain layer: user and client accounts. Credentials (one type, one writer), password
 * sign-in, sessions and tokens, MFA, activation links, clients, the first administrator. It
 * imports storage (fhir/), db/, email/ and the base (config, clock, errors); never the API
 * (auth/, admin/, fhir-api/) nor access/ or invite/, which build on it.
 *
 * This file builds the services the app keeps per instance (token verification with its caches).
 */

/**
 * How long an instance trusts what it learnt about a login (active or ended), about the grant
 * behind it (membership, project, user or client: see checkGrant in memberships.ts) and about a verified HTTP
 * Basic client. Trade-off: a logout on THIS instance, and a write through THIS instance's FHIR API
 * that may end grants, take effect at once (the caches are updated or cleared); a logout on
 * ANOTHER instance, or a delete or deactivation there or straight in the database, takes effect
 * here within this time. In exchange, a busy caller costs a few database reads per login per TTL,
 * not per request. Every cache is bounded (TtlCache keeps at most 10,000 entries).
 */
export const SESSION_CACHE_TTL_MS = 5_000;

/**
 * How long an instance remembers that an access token verified (signature, issuer, type), never
 * past the token's own expiry. A token cannot change: the same string always verifies the same
 * way until it expires, so this changes no decision, it only saves the signature check (the
 * largest CPU cost of a read). Revocation is still checked on every request (`loginActive`).
 */
const VERIFIED_TOKEN_TTL_MS = 5 * 60_000;

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
export async function createAuthServices(ctx: Omit<AccountsContext, 'auth'>): Promise<AuthServices> {
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

  const grantKey = (grant: Grant): string => `${grant.userType}/${grant.userId}|${grant.projectId}|${grant.membershipId}|${grant.clientId ?? ''}`;
  /** 401 unless the grant still holds (see checkGrant), known at most SESSION_CACHE_TTL_MS ago. */
  const requireGrant = async (grant: Grant): Promise<void> => {
    const key = grantKey(grant);
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

  /**
   * The caller of an access token whose every check verifyAccessToken makes is cached and passed
   * (signature and expiry, sign-in session, grant); undefined when any is not: take the full path.
   */
  const knownBearer = (token: string): AuthContext | undefined => {
    const claims = verifiedTokens.get(token);
    if (!claims || sessions.get(claims.login_id) !== true) {
      return undefined;
    }
    const auth = toAuthContext(claims);
    return grants.get(grantKey({ ...auth, clientId: claims.client_id })) === '' ? auth : undefined;
  };

  /** The Authorization header's scheme (lower-cased) and value. */
  const credentialsOf = (header: string): { scheme: string; value: string } => {
    const space = header.indexOf(' ');
    return { scheme: (space > 0 ? header.slice(0, space) : header).toLowerCase(), value: space > 0 ? header.slice(space + 1).trim() : '' };
  };

  const authenticate = async (request: FastifyRequest): Promise<void> => {
    const header = request.headers.authorization;
    if (!header) {
      throw unauthenticated('Sign in required: send Authorization: Bearer <access token>');
    }
    const { scheme, value } = credentialsOf(header);
    if (scheme === 'bearer' && value) {
      request.auth = await verifyAccessToken(value);
    } else if (scheme === 'basic' && value) {
      request.auth = await verifyBasic(value);
    } else {
      throw unauthenticated('Unsupported Authorization header: send Bearer <access token> or Basic <client credentials>');
    }
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
    authenticate,
    authenticateHook: (request, _reply, done) => {
      const header = request.headers.authorization;
      if (header) {
        const { scheme, value } = credentialsOf(header);
        const known = scheme === 'bearer' && value ? knownBearer(value) : undefined;
        if (known) {
          request.auth = known;
          done();
          return;
        }
      }
      authenticate(request).then(() => done(), done);
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

/** The indexes of the accounts collections (created at start by db/indexes.ts). */
export function accountIndexes(): IndexSpecs {
  return {
    [LOGINS]: [
      // Finding a login by its authorization code; the code is stored hashed.
      { key: { codeHash: 1 }, name: 'code_hash', unique: true, partialFilterExpression: { codeHash: { $exists: true } } },
      { key: { userId: 1, createdAt: -1 } },
      // Open sessions through a membership, into a project or via an OAuth client: revoked when
      // those are deleted or deactivated (src/access/account-removal.ts).
      { key: { membershipId: 1 }, name: 'open_by_membership', partialFilterExpression: { revoked: false } },
      { key: { projectId: 1 }, name: 'open_by_project', partialFilterExpression: { revoked: false } },
      { key: { clientId: 1 }, name: 'open_by_client', partialFilterExpression: { revoked: false } },
      // Ended sessions are purged by MongoDB (the embedded engine may ignore TTL; harmless).
      { key: { expiresAt: 1 }, name: 'expires_at_ttl', expireAfterSeconds: 7 * 86400 },
    ],
    // The audit trail of one account, in time order.
    [SECURITY_EVENTS]: [{ key: { userId: 1, at: 1 }, name: 'security_events_user_at' }],
    // Memberships of a user or client at sign-in.
    ProjectMembership: [{ key: { 'resource.user.reference': 1 }, name: 'auth_membership_user' }],
  };
}
