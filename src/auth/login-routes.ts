import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { chooseProfile, passwordLogin, type PasswordLoginInput } from './login-flow';
import { loginBodySchema, profileBodySchema } from './schemas';

/** POST /auth/login and POST /auth/profile (Medplum-compatible). */
export const loginRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post<{ Body: PasswordLoginInput }>(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Sign in with email and password',
        description: 'Answers { login, code } (one membership), { login, memberships } (choose with /auth/profile), or an MFA step.',
        body: loginBodySchema,
      },
    },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return passwordLogin(ctx, { ...request.body, remoteAddress: request.ip, userAgent: request.headers['user-agent'] });
    },
  );

  app.post<{ Body: { login: string; profile: string } }>(
    '/auth/profile',
    { schema: { tags: ['auth'], summary: 'Choose the membership (profile) of a sign-in', body: profileBodySchema } },
    async (request, reply) => {
      reply.header('cache-control', 'no-store');
      return chooseProfile(ctx, request.body.login, request.body.profile);
    },
  );
};
