import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';

/** Routes under /auth and /oauth2. */
export const authPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (_app, _opts) => {
  // Routes are registered by the auth domain.
};
