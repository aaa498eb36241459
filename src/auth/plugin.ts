import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { loginRoutes } from './login-routes';
import { meRoutes } from './me-routes';
import { registerActivationRoutes } from './activation-routes';
import { registerMfaRoutes } from './mfa-routes';
import { registerRateLimits } from './rate-limits';
import { tokenRoutes } from './token-routes';

/**
 * Routes under /auth and /oauth2 (plus /admin/projects/{id}/client and the JWKS). The rate
 * limits registered first apply to every /auth/* and /oauth2/* route registered in this plugin,
 * so other auth route plugins (activation, MFA) must be registered here too.
 */
export const authPlugin: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  await registerRateLimits(app, ctx);
  await app.register(loginRoutes, { ctx });
  await app.register(tokenRoutes, { ctx });
  await app.register(meRoutes, { ctx });
  await registerActivationRoutes(app, ctx);
  await registerMfaRoutes(app, ctx);
};
