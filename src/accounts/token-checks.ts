import type { ClientApplication, HumanName, ProjectMembership, Resource, User } from '@medplum/fhirtypes';
import type { Store } from '../db/store';
import { FhirError } from '../errors';
import { idOf, readCurrent } from '../fhir/repository';
import { unauthenticated, type AccountsContext, type AuthContext } from './auth-context';
import { TokenError, type AccessTokenClaims } from './tokens';

/**
 * What another server (or a gateway) asks about this server's tokens: the OpenID Connect
 * userinfo of a signed-in caller, and RFC 7662 introspection of an access token by a client.
 */

/** GET/POST /oauth2/userinfo (OpenID Connect Core 5.3), with SMART's `fhirUser`. */
export interface UserInfo {
  sub: string;
  /** The profile (Practitioner/…, Patient/…, RelatedPerson/…, ClientApplication/…), as in the id_token. */
  fhirUser: string;
  name?: string;
  given_name?: string;
  family_name?: string;
  email?: string;
  email_verified?: boolean;
}

const PROFILE_TYPES: ReadonlySet<string> = new Set(['Patient', 'Practitioner', 'RelatedPerson', 'ClientApplication']);

function nameParts(name: HumanName | undefined): { given?: string; family?: string; text?: string } {
  if (!name) {
    return {};
  }
  const given = (name.given ?? []).join(' ') || undefined;
  const family = name.family || undefined;
  const text = name.text || [given, family].filter(Boolean).join(' ') || undefined;
  return { given, family, text };
}

/** The claims of the caller's own sign-in: its profile as its membership holds it now, the User's email and names. */
export async function userInfo(store: Store, auth: AuthContext): Promise<UserInfo> {
  const membership = await readCurrent<ProjectMembership>(store, 'ProjectMembership', auth.membershipId);
  if (!membership || membership.active === false) {
    throw unauthenticated('The membership of this sign-in no longer exists or is not active: sign in again');
  }
  const fhirUser = membership.profile?.reference ?? auth.profile.reference ?? `${auth.userType}/${auth.userId}`;
  const info: UserInfo = { sub: auth.userId, fhirUser };
  const [profileType, profileId] = fhirUser.split('/');
  const profile = PROFILE_TYPES.has(profileType) ? await readCurrent<Resource>(store, profileType, profileId) : undefined;
  // Only a profile of the sign-in's project speaks for it (as GET /auth/me decides).
  const own = profile && profile.meta?.project === auth.projectId ? profile : undefined;
  if (own?.resourceType === 'ClientApplication') {
    info.name = (own as ClientApplication).name;
  } else if (own) {
    const { given, family, text } = nameParts((own as { name?: HumanName[] }).name?.[0]);
    Object.assign(info, text ? { name: text } : {}, given ? { given_name: given } : {}, family ? { family_name: family } : {});
  }
  if (auth.userType === 'User') {
    const user = await readCurrent<User>(store, 'User', idOf(membership.user, 'User') ?? auth.userId);
    if (user?.email) {
      info.email = user.email;
      info.email_verified = user.emailVerified === true;
    }
    if (!info.name && (user?.firstName || user?.lastName)) {
      info.name = [user.firstName, user.lastName].filter(Boolean).join(' ');
    }
  }
  return info;
}

/** RFC 7662 section 2.2: `{ active: false }` for every token that is not a live access token the client may learn about. */
export type Introspection = { active: false } | (Record<string, unknown> & { active: true });

const INACTIVE: Introspection = Object.freeze({ active: false }) as Introspection;

/**
 * Introspects a token for an authenticated client. Active only for an access token of this
 * server whose signature and expiry hold, whose sign-in has not ended and whose grant
 * (membership, user or client, project) still holds, and that belongs to the client's own
 * project (the super administrator's clients: any project). Anything else — a refresh or id
 * token, a revoked, expired, garbage or unknown token, another project's — is the same
 * `{ active: false }`, never an error.
 */
export async function introspect(ctx: AccountsContext, client: AuthContext, token: unknown): Promise<Introspection> {
  if (typeof token !== 'string' || token.length === 0 || token.length > 8192) {
    return INACTIVE;
  }
  let claims: AccessTokenClaims & { exp?: number; iat?: number; iss?: string };
  try {
    claims = await ctx.auth.signer.verifyAccess(token);
    // Revocation (logout, reuse), and the grant behind it as stored now.
    await ctx.auth.verifyAccessToken(token);
  } catch (err) {
    // A refused token; a database outage is not an answer about the token (503).
    if (err instanceof TokenError || (err instanceof FhirError && err.statusCode === 401)) {
      return INACTIVE;
    }
    throw err;
  }
  if (!client.superAdmin && claims.project_id !== client.projectId) {
    return INACTIVE;
  }
  return {
    active: true,
    token_type: 'Bearer',
    sub: claims.sub,
    username: claims.username,
    scope: claims.scope,
    ...(claims.client_id ? { client_id: claims.client_id } : {}),
    exp: claims.exp,
    iat: claims.iat,
    iss: claims.iss,
    fhirUser: claims.profile,
    project: { reference: `Project/${claims.project_id}` },
  };
}
