import type { ProjectMembership, Reference, StructureDefinition } from '@medplum/fhirtypes';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { JWK } from 'jose';
import type { AppConfig } from '../config';
import type { Store } from '../db/store';
import type { AuditTrail } from '../audit/trail';
import type { Actor, ChangeListener } from '../fhir/changes';
import { FhirError } from '../errors';
import type { BackgroundTasks } from './set-password';
import type { TokenSigner } from './tokens';

/**
 * Who is calling, as established from a verified access token. Attached to each authenticated
 * request as `request.auth`. Carries only ids, never secrets.
 */
export interface AuthContext {
  /** The User (or ClientApplication for system clients) id. */
  userId: string;
  /** 'User' or 'ClientApplication'. */
  userType: 'User' | 'ClientApplication';
  /** The login session id (revocation is per login). */
  loginId: string;
  /** The project the token was issued for. */
  projectId: string;
  /** The ProjectMembership granting access. */
  membershipId: string;
  /** The membership's profile, e.g. { reference: 'Practitioner/123' }. */
  profile: Reference;
  /** ProjectMembership.admin for that project. */
  projectAdmin: boolean;
  /** The super administrator: sees and may do everything on this server. */
  superAdmin: boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the authenticate hook; undefined on public routes. */
    auth?: AuthContext;
  }
}

/** What the accounts domain offers the rest of the server (built once per app by createAuthServices). */
export interface AuthServices {
  /** Verifies a bearer access token (signature, expiry, revocation) into an AuthContext; 401 otherwise. */
  verifyAccessToken(token: string): Promise<AuthContext>;
  /**
   * A Fastify hook (onRequest or preHandler): sets request.auth from `Authorization: Bearer`
   * (an access token) or `Authorization: Basic` (a ClientApplication id and secret), or throws 401.
   */
  authenticate(request: FastifyRequest): Promise<void>;
  /**
   * `authenticate` as a callback-style Fastify hook: a token whose checks are all cached is let
   * through without a promise (the common case of a busy client); any other goes the full way.
   */
  authenticateHook(request: FastifyRequest, reply: FastifyReply, done: (err?: Error) => void): void;
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

/** What the accounts functions take from the app (AppContext satisfies it). */
export interface AccountsContext extends Store {
  config: AppConfig;
  log: FastifyBaseLogger;
  /** Our profiles by canonical URL, to validate the resources accounts create. */
  definitions: { profiles: ReadonlyMap<string, StructureDefinition> };
  auth: AuthServices;
  /** The repository's change listeners (see fhir/changes.ts). */
  listeners?: readonly ChangeListener[];
  /** The audit trail (sign-in, MFA and reset events; see audit/services.ts). */
  audit?: AuditTrail;
  /**
   * Called when a User is issued tokens for a membership (the authorization code exchange),
   * before the tokens: the invite lifecycle accepts a pending invitation there (given by buildApp).
   */
  onMembershipSignIn?: (membership: ProjectMembership, userId: string) => Promise<void>;
}

/** The caller as the actor of the writes it makes (for the repository's change listeners). */
export function actorOf(auth: AuthContext): Actor {
  return {
    principal: { reference: `${auth.userType}/${auth.userId}` },
    membership: { reference: `ProjectMembership/${auth.membershipId}` },
    project: auth.projectId,
    profile: auth.profile,
  };
}

/** A 401 the caller can act on, with the WWW-Authenticate challenge. */
export function unauthenticated(message: string): FhirError {
  const err = new FhirError('FST_UNAUTHENTICATED', message);
  err.headers = { 'www-authenticate': 'Bearer realm="fhir-invite-server"' };
  return err;
}
