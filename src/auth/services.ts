import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context';
import { unauthorized } from '../errors';
import type { AuthContext } from './auth-context';

/** What the auth domain offers the rest of the server. */
export interface AuthServices {
  /** Verifies a bearer access token (signature, expiry, revocation) into an AuthContext; 401 otherwise. */
  verifyAccessToken(token: string): Promise<AuthContext>;
  /** A Fastify preHandler: sets request.auth from the Authorization header or throws 401. */
  authenticate(request: FastifyRequest): Promise<void>;
}

/** PLACEHOLDER until the auth domain lands: nothing authenticates. */
export async function createAuthServices(_ctx: Omit<AppContext, 'auth'>): Promise<AuthServices> {
  const verifyAccessToken = async (): Promise<AuthContext> => {
    throw unauthorized();
  };
  return {
    verifyAccessToken,
    authenticate: async () => {
      throw unauthorized();
    },
  };
}
