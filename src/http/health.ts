import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { pingDatabase } from '../db/database';
import { SERVER_VERSION } from '../package-files';

/*
 * http/ — the server shell: the one error handler (every error an OperationOutcome), logging,
 * health. app.ts composes it with the API plugins; it imports the context and the layers below.
 */

const HEALTH = {
  type: 'object',
  additionalProperties: true,
  properties: { ok: { type: 'boolean' }, database: { type: 'string' }, embedded: { type: 'boolean' }, version: { type: 'string' }, auditFailures: { type: 'integer' } },
};

export const healthPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.get('/healthcheck', { schema: { hide: false, tags: ['server'], response: { 200: HEALTH, 503: HEALTH } } }, async (_request, reply) => {
    const ok = await pingDatabase(ctx.database);
    reply.status(ok ? 200 : 503);
    return { ok, database: ok ? 'reachable' : 'unreachable', embedded: ctx.database.embedded, version: SERVER_VERSION, auditFailures: ctx.audit.failures() };
  });
};
