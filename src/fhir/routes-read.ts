import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app-context';
import { authenticator, callerScope, requireKnownType, sendResource, type InstanceParams, type VersionParams } from './http';
import { readForCaller, readVersionForCaller } from './rest/read';
import type { RestDeps } from './rest/rest-deps';
import { schemas } from './route-schemas';

/** read and vread. */
export function registerReadRoutes(app: FastifyInstance, ctx: AppContext, deps: RestDeps): void {
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
}
