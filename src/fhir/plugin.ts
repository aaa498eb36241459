import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { KeyedLock } from '../db/keyed-lock';
import type { RestDeps } from './rest/rest-deps';
import { registerHistoryRoutes } from './routes-history';
import { registerMetadataRoutes } from './routes-metadata';
import { registerReadRoutes } from './routes-read';
import { registerSearchRoutes } from './routes-search';
import { registerWriteRoutes } from './routes-write';

/** The FHIR REST API under /fhir/R4 (registered with that prefix). */
export const fhirPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  const deps: RestDeps = {
    database: ctx.database,
    clock: ctx.clock,
    baseUrl: ctx.config.baseUrl,
    profiles: ctx.definitions.profiles,
    writeLock: new KeyedLock(),
  };
  registerMetadataRoutes(app, ctx);
  registerReadRoutes(app, ctx, deps);
  registerWriteRoutes(app, ctx, deps);
  registerSearchRoutes(app, ctx, deps);
  registerHistoryRoutes(app, ctx, deps);
};
