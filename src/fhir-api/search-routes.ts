import type { FastifyPluginAsync } from 'fastify';
import { badRequest } from '../errors';
import { preferOf } from './replies';
import { callerScope, FHIR_JSON, requireKnownType, type TypeParams, type FhirRouteOptions } from './request-helpers';
import { searchForCaller } from './rest/search';
import { schemas } from './route-schemas';

/** URL and form parameters together (a name in both keeps every value). */
export function mergeParams(query: unknown, body: unknown): Record<string, unknown> {
  if (body !== undefined && body !== null && (typeof body !== 'object' || Array.isArray(body))) {
    throw badRequest('Send search parameters form-encoded (application/x-www-form-urlencoded)');
  }
  const merged: Record<string, unknown> = { ...((query as Record<string, unknown>) ?? {}) };
  for (const [key, value] of Object.entries((body as Record<string, unknown>) ?? {})) {
    merged[key] = key in merged ? [merged[key], value].flat() : value;
  }
  return merged;
}

/** search by GET and by POST _search. */
export const searchRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx, deps }) => {
  const preHandler = ctx.auth.authenticateHook;

  app.get<{ Params: TypeParams }>('/:type', { schema: schemas.search, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const bundle = await searchForCaller(deps, scope, request.params.type, request.query, { lenient: preferOf(request).lenient });
    return reply.type(FHIR_JSON).send(bundle);
  });

  app.post<{ Params: TypeParams }>('/:type/_search', { schema: schemas.searchPost, preValidation: requireKnownType, preHandler }, async (request, reply) => {
    const scope = await callerScope(ctx, request);
    const bundle = await searchForCaller(deps, scope, request.params.type, mergeParams(request.query, request.body), { lenient: preferOf(request).lenient });
    return reply.type(FHIR_JSON).send(bundle);
  });
};
