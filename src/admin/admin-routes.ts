import type { FastifyPluginAsync } from 'fastify';
import type { AuthContext } from '../accounts/auth-context';
import { createClientApplication, type CreateClientInput } from '../accounts/clients';
import type { AppContext } from '../app-context';

/**
 * admin/ — API layer: every /admin/projects/:projectId/... route (the JSON shapes the Medplum
 * client library's admin calls send). Route plugins only; the work is in the domain folders.
 */

const createClientBodySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    resourceType: { type: 'string', enum: ['ClientApplication'], description: 'Optional, as MedplumClient and the Medplum app send it' },
    name: { type: 'string', minLength: 1, maxLength: 256 },
    description: { type: 'string', maxLength: 4096 },
    redirectUri: { type: 'string', maxLength: 2048 },
    accessPolicy: {
      type: 'object',
      required: ['reference'],
      properties: { reference: { type: 'string', pattern: '^AccessPolicy/[A-Za-z0-9\\-.]{1,64}$' }, display: { type: 'string' } },
    },
  },
} as const;

const projectIdParamsSchema = {
  type: 'object',
  required: ['projectId'],
  properties: { projectId: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$' } },
} as const;

/** The created ClientApplication with its secret (shown this once). */
const clientResponse = { type: 'object', additionalProperties: true, properties: { resourceType: { type: 'string' }, id: { type: 'string' }, secret: { type: 'string' } } };

/** POST /admin/projects/:projectId/client. */
export const adminRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.post<{ Params: { projectId: string }; Body: CreateClientInput }>(
    '/admin/projects/:projectId/client',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a system client (ClientApplication with a generated secret and its membership)',
        description: 'Project administrators only. The secret is in this response and nowhere else, ever.',
        params: projectIdParamsSchema,
        body: createClientBodySchema,
        response: { 201: clientResponse },
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
