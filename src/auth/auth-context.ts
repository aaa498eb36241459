import type { Reference } from '@medplum/fhirtypes';

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
