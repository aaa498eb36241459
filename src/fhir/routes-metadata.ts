import type { FastifyInstance } from 'fastify';
import type { Bundle } from '@medplum/fhirtypes';
import type { AppContext } from '../app-context';
import { notFound } from '../errors';
import { fullUrl } from './bundle';
import { buildCapabilityStatement } from './capability';
import { FHIR_JSON } from './http';
import { schemas } from './route-schemas';

/** The public metadata: CapabilityStatement and OperationDefinitions. */
export function registerMetadataRoutes(app: FastifyInstance, ctx: AppContext): void {
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
}
