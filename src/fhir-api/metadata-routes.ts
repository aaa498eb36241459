import type { FastifyPluginAsync } from 'fastify';
import type { Bundle } from '@medplum/fhirtypes';
import { notFound } from '../errors';
import { fullUrl } from '../fhir/bundle';
import { buildCapabilityStatement } from './capability';
import { FHIR_JSON, type FhirRouteOptions } from './request-helpers';
import { schemas } from './route-schemas';

/** The public metadata: CapabilityStatement and OperationDefinitions. */
export const metadataRoutes: FastifyPluginAsync<FhirRouteOptions> = async (app, { ctx }) => {
  const operations = ctx.definitions.operations;
  const capability = buildCapabilityStatement(ctx.config.baseUrl, operations, ctx.clock.now());

  app.get('/metadata', { schema: schemas.metadata }, async (_request, reply) => reply.type(FHIR_JSON).send(capability));

  app.get<{ Params: { id: string } }>('/OperationDefinition/:id', { schema: schemas.operationDefinition }, async (request, reply) => {
    const definition = operations.get(request.params.id);
    if (!definition) {
      throw notFound(`OperationDefinition/${request.params.id} not found`);
    }
    return reply.type(FHIR_JSON).send(definition);
  });

  app.get('/OperationDefinition', { schema: schemas.operationDefinitions }, async (_request, reply) => {
    const entry = [...operations.values()].map((resource) => ({ fullUrl: fullUrl(ctx.config.baseUrl, 'OperationDefinition', resource.id as string), resource, search: { mode: 'match' as const } }));
    const bundle: Bundle = { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
    return reply.type(FHIR_JSON).send(bundle);
  });
};
