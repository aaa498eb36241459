import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';

/** Starts the outbox dispatcher with the server; on close waits for a send in flight and closes the transport. */
export const emailPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onReady', async () => ctx.email.dispatcher.start());
  app.addHook('onClose', async () => ctx.email.close());
};
