import type { FastifyPluginAsync } from 'fastify';
import { outcomeOk } from '../errors';
import { forgetCachedAccess, preferOf, sendWritten, versionLocation } from './replies';
import { callerScope, FHIR_JSON, ifMatchHeader, requireJsonBody, requireKnownType, type InstanceParams, type TypeParams, type FhirRouteOptions } from './request-helpers';
import { conditionalCreateForCaller } from './rest/conditional';
import { createForCaller, deleteForCaller, updateForCaller } from './rest/write';
import { schemas } from './route-schemas';

/** create (plain, or conditional with If-None-Exist), update and delete. */
export const writeRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = ctx.auth.authenticateHook;
  /**
   * Runs a write; one that may change access scopes or end grants clears this instance's caches
   * of them (even when it failed), so it applies here at once.
   */
  const writing = async <T>(type: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      forgetCachedAccess(ctx, [type]);
    }
  };

  app.post<{ Params: TypeParams }>('/:type', { schema: schemas.create, preValidation: [requireKnownType, requireJsonBody], preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type } = request.params;
    const ifNoneExist = request.headers['if-none-exist'];
    if (ifNoneExist !== undefined) {
      const { result, created } = await writing(type, () => conditionalCreateForCaller(deps, scope, type, request.body, String(ifNoneExist)));
      return sendWritten(reply, preferOf(request), result, created ? 201 : 200, created ? 'Created' : 'Found (If-None-Exist), nothing created:', created ? versionLocation(deps.baseUrl, result) : undefined);
    }
    const result = await writing(type, () => createForCaller(deps, scope, type, request.body));
    return sendWritten(reply, preferOf(request), result, 201, 'Created', versionLocation(deps.baseUrl, result));
  });

  app.put<{ Params: InstanceParams }>('/:type/:id', { schema: schemas.update, preValidation: [requireKnownType, requireJsonBody], preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id } = request.params;
    const result = await writing(type, () => updateForCaller(deps, scope, type, id, request.body, ifMatchHeader(request)));
    return sendWritten(reply, preferOf(request), result, 200, 'Updated');
  });

  app.delete<{ Params: InstanceParams }>('/:type/:id', { schema: schemas.delete, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id } = request.params;
    await writing(type, () => deleteForCaller(deps, scope, type, id));
    return reply.status(200).type(FHIR_JSON).send(outcomeOk(`Deleted ${type}/${id}`));
  });
};
