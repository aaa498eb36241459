import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { actorOf, type AuthContext } from '../accounts/auth-context';
import { OAuthError, tokenGrant, type TokenRequest } from '../accounts/oauth-grants';
import type { AppContext } from '../app-context';
import { jwksResponse, logoutResponse, tokenBodySchema, tokenResponse } from './route-schemas';

/** POST /oauth2/token, the logout endpoints and the public keys. */
export const tokenRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post<{ Body: TokenRequest | undefined }>(
    '/oauth2/token',
    {
      schema: {
        tags: ['auth'],
        summary: 'OAuth 2.0 token endpoint',
        description: 'grant_type authorization_code (with PKCE code_verifier), refresh_token or client_credentials (form or HTTP Basic).',
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: tokenBodySchema,
        response: { 200: tokenResponse },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
      try {
        return await tokenGrant(ctx, request.body ?? {}, {
          authorization: request.headers.authorization,
          remoteAddress: request.ip,
          userAgent: request.headers['user-agent'],
        });
      } catch (err) {
        if (err instanceof OAuthError) {
          request.log.info({ error: err.error }, err.description);
          reply.status(err.status);
          return { error: err.error, error_description: err.description };
        }
        throw err;
      }
    },
  );

  const logout = async (request: FastifyRequest, _reply: FastifyReply): Promise<{ ok: true }> => {
    const loginId = request.auth?.loginId;
    if (loginId && !loginId.startsWith('basic:')) {
      await ctx.auth.revokeLogin(loginId);
      ctx.audit.record({ kind: 'sign-out', actor: actorOf(request.auth as AuthContext), project: request.auth?.projectId, address: request.ip });
    }
    return { ok: true };
  };
  const logoutOptions = {
    schema: { tags: ['auth'], summary: 'Sign out: revokes the sign-in session of the bearer token', security: [{ bearer: [] }], response: { 200: logoutResponse } },
    preHandler: ctx.auth.authenticateHook,
  };
  app.post('/oauth2/logout', logoutOptions, logout);
  app.get('/oauth2/logout', logoutOptions, logout);
  app.post('/auth/logout', logoutOptions, logout);

  app.get('/.well-known/jwks.json', { schema: { tags: ['auth'], summary: 'Public keys that verify this server\'s tokens', response: { 200: jwksResponse } } }, async () => ctx.auth.jwks());
};
