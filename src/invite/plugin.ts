import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';

/** POST /fhir/R4/Project/{id}/$invite and POST /admin/projects/{id}/invite. */
export const invitePlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (_app, _opts) => {
  // Routes are registered by the invite domain.
};
