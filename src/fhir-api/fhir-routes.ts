import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { KeyedLock } from '../db/keyed-lock';
import { accessDeniedRecord } from './audit-records';
import { bundleRoutes } from './bundle-routes';
import { conditionalRoutes } from './conditional-routes';
import { historyRoutes } from './history-routes';
import { registerHttpConformance } from './http-conformance';
import { metadataRoutes } from './metadata-routes';
import { operationsRoutes } from './operations/operations-routes';
import { readRoutes } from './read-routes';
import type { FhirRouteOptions } from './request-helpers';
import { searchRoutes } from './search-routes';
import { systemRoutes } from './system-routes';
import { writeRoutes } from './write-routes';

/**
 * fhir-api/ — API layer: the FHIR REST API under /fhir/R4 (read, search, write, history,
 * metadata) and its operations (operations/). Route plugins parse and answer; the REST work is in
 * plain functions (rest/) over access/ (who may see and write what) and fhir/ (storage). Imports
 * the domain, storage and base layers; never http/, app.ts, admin/ or auth/.
 *
 * Registered with the prefix /fhir/R4.
 */
export const fhirRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const options: FhirRouteOptions = {
    ctx,
    deps: {
      database: ctx.database,
      clock: ctx.clock,
      baseUrl: ctx.config.baseUrl,
      profiles: ctx.definitions.profiles,
      writeLock: new KeyedLock(),
      listeners: ctx.listeners,
    },
  };
  // Every response schema here is open (it documents the answer, never filters it): the body is
  // sent as it is, and JSON.stringify does that faster than a serializer compiled from the schema.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  // First: the 405 handler learns every route registered after it.
  registerHttpConformance(app);
  // Every 403 of the FHIR API is in the audit trail (without waiting).
  app.addHook('onError', async (request, _reply, error) => {
    if ((error as { statusCode?: number }).statusCode === 403) {
      ctx.audit.record(accessDeniedRecord(request, error.message));
    }
  });
  await app.register(metadataRoutes, options);
  await app.register(readRoutes, options);
  await app.register(writeRoutes, options);
  await app.register(conditionalRoutes, options);
  await app.register(searchRoutes, options);
  await app.register(historyRoutes, options);
  await app.register(systemRoutes, options);
  await app.register(operationsRoutes, { ctx });
  await app.register(bundleRoutes, options);
};
