import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context';
import type { AuthContext } from '../accounts/auth-context';
import { KeyedLock } from '../db/keyed-lock';
import { notFound, unauthorized } from '../errors';
import { createOperationRegistry, parametersToObject, type OperationInvocation, type OperationRoute } from '../fhir/operation-registry';
import { fingerprint, idempotencyKey, type StoredAnswer } from './idempotency';
import { adminAnswer, operationAnswer, operationReply } from './invite-output';
import { normalizeInviteRequest, schemaErrorsToFhirError, type InviteRequest, type SchemaError } from './invite-request';
import { idempotencyHeaderSchema, inviteBodySchema, operationBodyDocSchema } from './invite-schema';
import { runInvite, type InviteDeps, type InviteResult } from './invite-service';
import { loadInviteTemplates } from './invite-templates';

type ProjectRequest = FastifyRequest<{ Params: { id: string } }>;

const FHIR_BASE = '/fhir/R4';

/** Checks a plain-JSON invite with the schema (the app's ajv) and the cross-field rules. */
function parseJsonInvite(request: FastifyRequest, body: unknown): InviteRequest {
  const validate = request.compileValidationSchema(inviteBodySchema);
  if (!validate(body)) {
    throw schemaErrorsToFhirError((validate.errors ?? []) as SchemaError[]);
  }
  return normalizeInviteRequest(body);
}

function callerOf(request: FastifyRequest): AuthContext {
  if (!request.auth) {
    throw unauthorized();
  }
  return request.auth;
}

async function invite(
  deps: InviteDeps,
  request: ProjectRequest,
  reply: FastifyReply,
  form: 'operation' | 'admin',
  inviteRequest: InviteRequest,
  answer: (result: InviteResult) => StoredAnswer,
): Promise<StoredAnswer> {
  const caller = callerOf(request);
  const projectId = request.params.id;
  const key = idempotencyKey(request.headers['idempotency-key'], `${caller.userType}/${caller.userId}`);
  const idempotency = key ? { key, fingerprint: fingerprint(key, { form, projectId, request: inviteRequest }) } : undefined;
  const outcome = await runInvite(deps, { caller, projectId, request: inviteRequest, idempotency, answer });
  if (outcome.replayed) {
    reply.header('idempotent-replayed', 'true');
  }
  reply.status(outcome.answer.status).type('application/fhir+json');
  return outcome.answer;
}

/** POST /fhir/R4/Project/{id}/$invite and POST /admin/projects/{id}/invite. */
export const invitePlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const deps: InviteDeps = {
    database: ctx.database,
    clock: ctx.clock,
    config: ctx.config,
    email: ctx.email,
    templates: loadInviteTemplates(),
    lock: new KeyedLock(),
    accessScopes: ctx.access.scopes,
    revokeLogin: ctx.auth.revokeLogin,
  };
  const authenticate = async (request: FastifyRequest): Promise<void> => ctx.auth.authenticate(request);

  const registry = createOperationRegistry(ctx.definitions.operations, {
    'Project-invite': async ({ request, reply, definition }: OperationInvocation) => {
      const body = request.body;
      const input =
        body && typeof body === 'object' && (body as { resourceType?: unknown }).resourceType === 'Parameters' ? parametersToObject(definition, body) : body;
      const inviteRequest = parseJsonInvite(request, input);
      const answer = await invite(deps, request as ProjectRequest, reply, 'operation', inviteRequest, operationAnswer);
      return operationReply(definition, answer);
    },
  });

  const run = async (route: OperationRoute, request: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    if (request.validationError) {
      throw schemaErrorsToFhirError((request.validationError.validation ?? []) as SchemaError[]);
    }
    return route.handler({ request, reply, definition: route.definition });
  };

  for (const route of registry.routes) {
    app.post(
      `${FHIR_BASE}${route.path}`,
      {
        schema: {
          tags: ['fhir', 'operations'],
          summary: route.definition.title,
          description: route.definition.description,
          headers: idempotencyHeaderSchema,
          body: operationBodyDocSchema,
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
      `${FHIR_BASE}/${type}/:id/:operation`,
      { schema: { hide: true, body: operationBodyDocSchema, headers: idempotencyHeaderSchema }, attachValidation: true, preValidation: authenticate },
      async (request, reply) => {
        const route = registry.find('instance', request.params.operation, type);
        if (!route) {
          throw notFound(`No operation ${request.params.operation} on ${type}`);
        }
        return run(route, request, reply);
      },
    );
  }

  app.post<{ Params: { id: string } }>(
    '/admin/projects/:id/invite',
    {
      schema: {
        tags: ['admin'],
        summary: 'Invite a person into a project (the JSON that MedplumClient.invite sends); answers the ProjectMembership',
        headers: idempotencyHeaderSchema,
        body: inviteBodySchema,
        security: [{ bearer: [] }],
      },
      attachValidation: true,
      preValidation: authenticate,
    },
    async (request, reply) => {
      if (request.validationError) {
        throw schemaErrorsToFhirError((request.validationError.validation ?? []) as SchemaError[]);
      }
      const answer = await invite(deps, request, reply, 'admin', normalizeInviteRequest(request.body), adminAnswer);
      return answer.body;
    },
  );
};
