import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { pingDatabase } from '../db/database';
import { SERVER_VERSION } from '../package-files';

export const healthPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get('/healthcheck', { schema: { hide: false, tags: ['server'] } }, async (_request, reply) => {
    const ok = await pingDatabase(ctx.database);
    reply.status(ok ? 200 : 503);
    return { ok, database: ok ? 'reachable' : 'unreachable', embedded: ctx.database.embedded, version: SERVER_VERSION };
  });
};
