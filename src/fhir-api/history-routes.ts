import type { FastifyPluginAsync } from 'fastify';
import { callerScope, FHIR_JSON, requireKnownType, type InstanceParams, type TypeParams, type FhirRouteOptions } from './request-helpers';
import { historyForCaller } from './rest/history';
import { schemas } from './route-schemas';

/** type history and instance history. */
export const historyRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = ctx.auth.authenticateHook;

  app.get<{ Params: TypeParams }>('/:type/_history', { schema: schemas.typeHistory, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    return reply.type(FHIR_JSON).send(await historyForCaller(deps, scope, request.params.type, undefined, request.query));
  });

  app.get<{ Params: InstanceParams }>('/:type/:id/_history', { schema: schemas.instanceHistory, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id } = request.params;
    return reply.type(FHIR_JSON).send(await historyForCaller(deps, scope, type, id, request.query));
  });
};
