import type { FastifyPluginAsync } from 'fastify';
import type { AuthContext } from '../accounts/auth-context';
import { createClientApplication, type CreateClientInput } from '../accounts/clients';
import type { AppContext } from '../app-context';
import { createInputAjv, operationInputSchema, schemaErrorsToFhirError, type SchemaError } from '../fhir-api/operations/input-schema';
import { idempotencyHeaderSchema } from '../fhir-api/operations/operations-routes';
import { sendInvite } from '../fhir-api/operations/project-invite';
import { adminAnswer } from '../invite/invite-output';
import { normalizeInviteRequest } from '../invite/invite-request';
import { lazyValidator } from '../lazy-validator';

/**
 * admin/ — API layer: every /admin/projects/:id/... route (one parameter name, `id`, the Project's, as in the contract) (the JSON shapes the Medplum
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

const projectParamsSchema = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9\\-.]{1,64}$', description: 'The Project id' } },
} as const;

/** The created ClientApplication with its secret (shown this once). */
const clientResponse = { type: 'object', additionalProperties: true, properties: { resourceType: { type: 'string' }, id: { type: 'string' }, secret: { type: 'string' } } };

/** The invite operation, whose input shape (and so this route's body) is its OperationDefinition's. */
const INVITE_OPERATION = 'Project-invite';

/** POST /admin/projects/:id/invite and POST /admin/projects/:id/client. */
export const adminRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const inviteDefinition = ctx.definitions.operations.get(INVITE_OPERATION);
  if (!inviteDefinition) {
    throw new Error(`OperationDefinition/${INVITE_OPERATION} is missing from fhir-profiles/`);
  }
  // The route's schemas are compiled by the operations' ajv (the same options as Fastify's own).
  const inputAjv = createInputAjv();
  const membershipResponse = { type: 'object', additionalProperties: true, properties: { resourceType: { type: 'string' }, id: { type: 'string' } } };

  app.post<{ Params: { id: string } }>(
    '/admin/projects/:id/invite',
    {
      schema: {
        tags: ['admin'],
        summary: 'Invite a person into a project (the JSON that MedplumClient.invite sends); answers the ProjectMembership',
        headers: idempotencyHeaderSchema,
        body: operationInputSchema(inviteDefinition),
        response: { 200: membershipResponse, 201: membershipResponse },
        security: [{ bearer: [] }],
      },
      validatorCompiler: ({ schema }) => lazyValidator(() => inputAjv.compile(schema)),
      attachValidation: true,
      preValidation: ctx.auth.authenticateHook,
    },
    async (request, reply) => {
      if (request.validationError) {
        throw schemaErrorsToFhirError((request.validationError.validation ?? []) as SchemaError[]);
      }
      const answer = await sendInvite(ctx, request, reply, 'admin', normalizeInviteRequest(request.body), adminAnswer);
      return answer.body;
    },
  );

  app.post<{ Params: { id: string }; Body: CreateClientInput }>(
    '/admin/projects/:id/client',
    {
      schema: {
        tags: ['admin'],
        summary: 'Create a system client (ClientApplication with a generated secret and its membership)',
        description: 'Project administrators only. The secret is in this response and nowhere else, ever.',
        params: projectParamsSchema,
        body: createClientBodySchema,
        response: { 201: clientResponse },
        security: [{ bearer: [] }],
      },
      preHandler: ctx.auth.authenticateHook,
    },
    async (request, reply) => {
      const client = await createClientApplication(ctx, request.auth as AuthContext, request.params.id, request.body);
      reply.status(201).header('cache-control', 'no-store');
      return client;
    },
  );
};
