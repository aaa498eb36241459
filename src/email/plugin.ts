import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';

/** Starts the outbox dispatcher with the server and stops it on close. */
export const emailPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  app.addHook('onReady', async () => ctx.email.dispatcher.start());
  app.addHook('onClose', async () => ctx.email.dispatcher.stop());
};
