import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';

/** The FHIR REST API under /fhir/R4. */
export const fhirPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (_app, _opts) => {
  // Routes are registered by the fhir domain.
};
