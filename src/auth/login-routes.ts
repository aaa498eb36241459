import type { FastifyPluginAsync } from 'fastify';
import type { AuthContext } from '../accounts/auth-context';
import { chooseProfile, passwordLogin, type PasswordLoginInput } from '../accounts/login';
import { sessionDetails } from '../accounts/memberships';
import type { AppContext } from '../app-context';
import { loginBodySchema, loginResponse, meResponse, profileBodySchema } from './route-schemas';

/** POST /auth/login, POST /auth/profile and GET /auth/me (Medplum-compatible). */
export const loginRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post<{ Body: PasswordLoginInput }>(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password',
        description: 'Answers { login, code } (one membership), { login, memberships } (choose with /auth/profile), or an MFA step.',
        body: loginBodySchema,
        response: { 200: loginResponse },
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return passwordLogin(ctx, { ...request.body, remoteAddress: request.ip, userAgent: request.headers['user-agent'] });
    },
  );

  app.post<{ Body: { login: string; profile: string } }>(
    '/auth/profile',
    { schema: { tags: ['auth'], summary: 'Choose the membership (profile) of a sign-in', body: profileBodySchema, response: { 200: loginResponse } } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return chooseProfile(ctx, request.body.login, request.body.profile);
    },
  );

  app.get(
    '/auth/me',
    {
      schema: { tags: ['auth'], summary: 'The signed-in user, project, membership and profile', security: [{ bearer: [] }], response: { 200: meResponse } },
      preHandler: ctx.auth.authenticateHook,
    },
    async (request) => sessionDetails(ctx, request.auth as AuthContext),
  );
};
