import type { FastifyPluginAsync } from 'fastify';
import { authenticator, callerScope, requireKnownType, sendResource, type InstanceParams, type VersionParams, type FhirRouteOptions } from './request-helpers';
import { readForCaller, readVersionForCaller } from './rest/read';
import { schemas } from './route-schemas';

/** read and vread. */
export const readRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = authenticator(ctx);

  app.get<{ Params: InstanceParams }>('/:type/:id', { schema: schemas.read, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    return sendResource(reply, await readForCaller(deps, scope, request.params.type, request.params.id));
  });

  app.get<{ Params: VersionParams }>('/:type/:id/_history/:vid', { schema: schemas.vread, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id, vid } = request.params;
    return sendResource(reply, await readVersionForCaller(deps, scope, type, id, Number(vid)));
  });
};
