import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { FhirError, outcomeOk } from '../errors';
import { forgetCachedAccess, preferOf, sendWritten, versionLocation } from './replies';
import { callerScope, FHIR_JSON, ifMatchHeader, requireJsonBody, requireKnownType, type InstanceParams, type TypeParams, type FhirRouteOptions } from './request-helpers';
import { conditionalDeleteForCaller, conditionalUpdateForCaller } from './rest/conditional';
import { patchForCaller } from './rest/patch';
import { schemas } from './route-schemas';

/** preValidation: a patch is a JSON Patch document (415 otherwise; FHIRPath Patch is not supported). */
async function requireJsonPatch(request: FastifyRequest): Promise<void> {
  const mediaType = String(request.headers['content-type'] ?? '')
    .split(';')[0]
    .trim()
    .toLowerCase();
  if (mediaType !== 'application/json-patch+json') {
    throw new FhirError('FST_MEDIA_TYPE', 'Send the patch as a JSON Patch document (Content-Type: application/json-patch+json); FHIRPath Patch is not supported');
  }
}

/** patch, conditional update (PUT /{type}?criteria) and conditional delete (DELETE /{type}?criteria). */
export const conditionalRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = ctx.auth.authenticateHook;
  const writing = async <T>(type: string, write: () => Promise<T>): Promise<T> => {
    try {
      return await write();
    } finally {
      forgetCachedAccess(ctx, [type]);
    }
  };

  app.patch<{ Params: InstanceParams }>('/:type/:id', { schema: schemas.patch, preValidation: [requireKnownType, requireJsonPatch], preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type, id } = request.params;
    const result = await writing(type, () => patchForCaller(deps, scope, type, id, request.body, ifMatchHeader(request)));
    return sendWritten(reply, preferOf(request), result, 200, 'Patched');
  });

  app.put<{ Params: TypeParams }>('/:type', { schema: schemas.conditionalUpdate, preValidation: [requireKnownType, requireJsonBody], preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type } = request.params;
    const { result, created } = await writing(type, () => conditionalUpdateForCaller(deps, scope, type, request.query, request.body, ifMatchHeader(request)));
    return sendWritten(reply, preferOf(request), result, created ? 201 : 200, created ? 'Created' : 'Updated', created ? versionLocation(deps.baseUrl, result) : undefined);
  });

  app.delete<{ Params: TypeParams }>('/:type', { schema: schemas.conditionalDelete, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const { type } = request.params;
    const deleted = await writing(type, () => conditionalDeleteForCaller(deps, scope, type, request.query));
    return reply
      .status(200)
      .type(FHIR_JSON)
      .send(outcomeOk(deleted ? `Deleted ${type}/${deleted}` : `No ${type} matched the criteria: nothing was deleted`));
  });
};
