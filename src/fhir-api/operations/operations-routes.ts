import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../../app-context';
import { notFound } from '../../errors';
import { checkInput, operationInputValidators, createInputAjv, schemaErrorsToFhirError, type SchemaError } from './input-schema';
import { parametersToObject } from './parameters';
import { projectInvite } from './project-invite';
import { projectMembershipResendInvite } from './projectmembership-resend-invite';
import { projectMembershipRevokeInvite } from './projectmembership-revoke-invite';
import { resourceValidate } from './resource-validate';
import { createOperationRegistry, type OperationModule, type OperationRoute } from './registry';

const OPERATIONS: readonly OperationModule[] = [projectInvite, projectMembershipResendInvite, projectMembershipRevokeInvite, resourceValidate];

/** For the OpenAPI document: a Parameters resource or the plain-JSON form. */
const operationBodyDocSchema = {
  type: 'object',
  description: 'A FHIR Parameters resource whose parameters are those of the operation\'s OperationDefinition, or the same fields as a plain JSON object.',
  additionalProperties: true,
} as const;

export const idempotencyHeaderSchema = {
  type: 'object',
  properties: {
    'idempotency-key': { type: 'string', description: 'Makes a retried operation answer the first result instead of a 409 (1 to 255 printable characters).' },
  },
} as const;

const parametersResponse = {
  type: 'object',
  description: 'The output Parameters of the operation',
  additionalProperties: true,
  properties: { resourceType: { type: 'string' } },
};

/**
 * Every operation of every OperationDefinition in fhir-profiles/, under the FHIR base (this plugin
 * is registered inside fhir-routes.ts): `POST /{type}/{id}/$code` (and type and system levels),
 * plus the percent-encoded `%24code` form. The body is a Parameters resource (read against the
 * definition) or the same fields as plain JSON; either is checked against the JSON schema derived
 * from the definition before the handler runs.
 */
export const operationsRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const definitions = ctx.definitions.operations;
  const registry = createOperationRegistry(definitions, Object.fromEntries(OPERATIONS.map((op) => [op.id, op.create(ctx)])));
  const validators = operationInputValidators(createInputAjv(), definitions);
  const modules = new Map(OPERATIONS.map((op) => [op.id, op]));
  const authenticate = ctx.auth.authenticateHook;

  const run = async (route: OperationRoute, request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    if (request.validationError) {
      throw schemaErrorsToFhirError((request.validationError.validation ?? []) as SchemaError[]);
    }
    const body = request.body;
    const isParameters = !!body && typeof body === 'object' && (body as { resourceType?: unknown }).resourceType === 'Parameters';
    // No body at all reads as no input (an operation whose parameters are all optional).
    const raw = body === undefined || body === null ? {} : body;
    const plain = modules.get(route.definition.id as string)?.inputFromBody?.(raw) ?? raw;
    const input = checkInput(validators.get(route.definition.id as string) as NonNullable<ReturnType<typeof validators.get>>, isParameters ? parametersToObject(route.definition, body) : plain);
    return route.handler({ request, reply, definition: route.definition, input, resourceType: route.resourceType });
  };

  for (const route of registry.routes) {
    app.post(
      route.path,
      {
        schema: {
          tags: ['fhir', 'operations'],
          summary: route.definition.title,
          description: route.definition.description,
          headers: idempotencyHeaderSchema,
          body: operationBodyDocSchema,
          response: { 200: parametersResponse, 201: parametersResponse },
          security: [{ bearer: [] }],
        },
        attachValidation: true,
        preValidation: authenticate,
      },
      async (request, reply) => run(route, request, reply),
    );
  }

  // Clients that percent-encode the `$` (`/Project/1/%24invite`) miss the literal routes above:
  // one parametric route per type with instance operations serves them (the router decodes it).
  const instanceTypes = new Set(registry.routes.filter((r) => r.level === 'instance').map((r) => r.resourceType as string));
  for (const type of instanceTypes) {
    app.post<{ Params: { id: string; operation: string } }>(
      `/${type}/:id/:operation`,
      {
        schema: { hide: true, body: operationBodyDocSchema, headers: idempotencyHeaderSchema, response: { 200: parametersResponse, 201: parametersResponse } },
        attachValidation: true,
        preValidation: authenticate,
      },
      async (request, reply) => {
        const route = registry.find('instance', request.params.operation, type);
        if (!route) {
          throw notFound(`No operation ${request.params.operation} on ${type}`);
        }
        return run(route, request, reply);
      },
    );
  }
};
