import type { FastifyPluginAsync } from 'fastify';
import type { AccessServices } from '../access/resolve';
import type { AppConfig } from '../config';
import type { ChangeListener } from '../fhir/changes';
import { createSubscriptionDispatcher, type SubscriptionDispatcher } from './dispatcher';
import type { EndpointPolicy } from './endpoint';
import { createSubscriptionListener } from './listener';
import type { OwnerContext } from './owner';

/*
 * subscriptions/ — domain layer: rest-hook Subscriptions. A change listener matches every change
 * against the project's Subscriptions and queues notifications in the change's transaction (the
 * outbox); a dispatcher delivers them with retries, signed, under the SSRF rules of endpoint.ts.
 * It imports access/, accounts/ (types), storage, db/ and the base; no API folder imports it
 * but the composition root.
 */

export interface SubscriptionServices {
  /** Given to the repository (app.ts adds it to the change listeners). */
  listener: ChangeListener;
  dispatcher: SubscriptionDispatcher;
}

export interface SubscriptionContext extends Omit<OwnerContext, 'access'> {
  config: AppConfig;
  access: AccessServices;
  /** The app's change listeners (the dispatcher's own writes go through them too). */
  listeners: readonly ChangeListener[];
  /** Overrides name resolution of endpoints (tests). */
  resolve?: EndpointPolicy['resolve'];
}

export function createSubscriptionServices(ctx: SubscriptionContext): SubscriptionServices {
  const endpoints: EndpointPolicy = { allowedHosts: ctx.config.subscriptionAllowedHosts, ...(ctx.resolve ? { resolve: ctx.resolve } : {}) };
  const base = { database: ctx.database, clock: ctx.clock, log: ctx.log, access: ctx.access, endpoints };
  return {
    listener: createSubscriptionListener(base),
    dispatcher: createSubscriptionDispatcher({ ...base, listeners: ctx.listeners, pollMs: ctx.config.subscriptionPollMs }),
  };
}

/** Starts the dispatcher with the server; on close waits for a delivery in flight. */
export const subscriptionsPlugin: FastifyPluginAsync<{ ctx: { subscriptions: SubscriptionServices } }> = async (app, { ctx }) => {
  app.addHook('onReady', async () => ctx.subscriptions.dispatcher.start());
  app.addHook('onClose', async () => ctx.subscriptions.dispatcher.stop());
};
