import type { FastifyPluginAsync } from 'fastify';
import type { EmailServices } from './mail';

/** Starts the outbox dispatcher with the server; on close waits for a send in flight and closes the transport. */
export const emailPlugin: FastifyPluginAsync<{ ctx: { email: EmailServices } }> = async (app, { ctx }) => {
  app.addHook('onReady', async () => ctx.email.dispatcher.start());
  app.addHook('onClose', async () => ctx.email.close());
};
