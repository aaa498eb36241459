import type { FastifyPluginAsync } from 'fastify';
import { sendRead } from './replies';
import { callerScope, requireKnownType, type InstanceParams, type VersionParams, type FhirRouteOptions } from './request-helpers';
import { readForCaller, readVersionForCaller } from './rest/read';
import { schemas } from './route-schemas';

/** read and vread (both conditional: If-None-Match, If-Modified-Since → 304). */
export const readRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = ctx.auth.authenticateHook;

  app.get<{ Params: InstanceParams }>('/:type/:id', { schema: schemas.read, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    return sendRead(request, reply, await readForCaller(deps, scope, request.params.type, request.params.id));
  });

  app.get<{ Params: VersionParams }>('/:type/:id/_history/:vid', { schema: schemas.vread, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id, vid } = request.params;
    return sendRead(request, reply, await readVersionForCaller(deps, scope, type, id, Number(vid)));
  });
};
