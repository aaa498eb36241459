import type { FastifyPluginAsync } from 'fastify';
import { outcomeOk } from '../errors';
import { fhirBase } from '../fhir/bundle';
import { authenticator, callerScope, FHIR_JSON, ifMatchHeader, requireJsonBody, requireKnownType, sendResource, type InstanceParams, type TypeParams, type FhirRouteOptions } from './request-helpers';
import { createForCaller, deleteForCaller, updateForCaller } from './rest/write';
import { schemas } from './route-schemas';

/** Types whose writes change what resolveAccessScope answers: memberships, policies, `%patient`. */
const SCOPE_TYPES = new Set(['ProjectMembership', 'AccessPolicy', 'RelatedPerson']);
/** Types whose writes may end sign-in grants (see checkGrant in src/accounts/memberships.ts). */
const GRANT_TYPES = new Set(['ProjectMembership', 'User', 'ClientApplication', 'Project']);

/** create, update and delete. */
export const writeRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = authenticator(ctx);
  /**
   * Runs a write; one that may change access scopes or end grants clears this instance's caches
   * of them (even when it failed), so it applies here at once.
   */
  const writing = async <T>(type: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      if (SCOPE_TYPES.has(type)) {
        ctx.access.scopes.clear();
      }
      if (GRANT_TYPES.has(type)) {
        ctx.auth.forgetSessions();
      }
    }
  };

  app.post<{ Params: TypeParams }>('/:type', { schema: schemas.create, preValidation: [requireKnownType, requireJsonBody], preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const result = await writing(request.params.type, () => createForCaller(deps, scope, request.params.type, request.body));
    reply.header('location', `${fhirBase(deps.baseUrl)}${result.resource.resourceType}/${result.resource.id}/_history/${result.version}`);
    return sendResource(reply, result, 201);
  });

  app.put<{ Params: InstanceParams }>('/:type/:id', { schema: schemas.update, preValidation: [requireKnownType, requireJsonBody], preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id } = request.params;
    return sendResource(reply, await writing(type, () => updateForCaller(deps, scope, type, id, request.body, ifMatchHeader(request))));
  });

  app.delete<{ Params: InstanceParams }>('/:type/:id', { schema: schemas.delete, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id } = request.params;
    await writing(type, () => deleteForCaller(deps, scope, type, id));
    return reply.status(200).type(FHIR_JSON).send(outcomeOk(`Deleted ${type}/${id}`));
  });
};
