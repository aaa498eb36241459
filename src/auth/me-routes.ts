import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import type { AuthContext } from './auth-context';
import { createClientApplication, type CreateClientInput } from './client-apps';
import { sessionDetails } from './me';
import { createClientBodySchema, projectIdParamsSchema } from './schemas';

/** GET /auth/me and POST /admin/projects/{projectId}/client. */
export const meRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get(
    '/auth/me',
    {
      schema: { tags: ['auth'], summary: 'The signed-in user, project, membership and profile', security: [{ bearer: [] }] },
      preHandler: ctx.auth.authenticate,
    },
    async (request) => sessionDetails(ctx, request.auth as AuthContext),
  );

  app.post<{ Params: { projectId: string }; Body: CreateClientInput }>(
    '/admin/projects/:projectId/client',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a system client (ClientApplication with a generated secret and its membership)',
        description: 'Project administrators only. The secret is in this response and nowhere else, ever.',
        params: projectIdParamsSchema,
        body: createClientBodySchema,
        security: [{ bearer: [] }],
      },
      preHandler: ctx.auth.authenticate,
    },
    async (request, reply) => {
      const client = await createClientApplication(ctx, request.auth as AuthContext, request.params.projectId, request.body);
      reply.status(201).header('cache-control', 'no-store');
      return client;
    },
  );
};
