import type { FastifyPluginAsync } from 'fastify';
import { callerScope, FHIR_JSON, type FhirRouteOptions } from './request-helpers';
import { systemHistoryForCaller } from './rest/history';
import { systemSearchForCaller } from './rest/search';
import { schemas } from './route-schemas';
import { mergeParams } from './search-routes';

/** The system level: a search of several types (GET /fhir/R4?_type=..., POST /fhir/R4/_search) and the history of all. */
export const systemRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = ctx.auth.authenticateHook;

  app.get('/', { schema: schemas.systemSearch, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    return reply.type(FHIR_JSON).send(await systemSearchForCaller(deps, scope, request.query));
  });

  app.post('/_search', { schema: schemas.systemSearchPost, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    return reply.type(FHIR_JSON).send(await systemSearchForCaller(deps, scope, mergeParams(request.query, request.body)));
  });

  app.get('/_history', { schema: schemas.systemHistory, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    return reply.type(FHIR_JSON).send(await systemHistoryForCaller(deps, scope, request.query));
  });
};
