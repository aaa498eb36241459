import type { FastifyPluginAsync } from 'fastify';
import type { AppContext } from '../app-context';
import { activationRoutes } from './activation-routes';
import { discoveryRoutes } from './discovery-routes';
import { loginRoutes } from './login-routes';
import { mfaRoutes } from './mfa-routes';
import { registerRateLimits } from './rate-limits';
import { tokenRoutes } from './token-routes';

/**
 * auth/ — API layer: the /auth/*, /oauth2/* and /.well-known/* routes (jwks, OpenID and SMART discovery), their rate limits
 * and the set-password page. Route plugins only: they parse and answer; the work is in accounts/
 * (domain), which they call with the app's context. Imports domain, storage and the base; never
 * http/, app.ts or another API folder.
 *
 * The rate limits registered first apply to every /auth/* and /oauth2/* route registered inside
 * this plugin, so every auth route plugin is registered here.
 */
export const authRoutes: FastifyPluginAsync<{ ctx: AppContext }> = async (app, { ctx }) => {
  await registerRateLimits(app, ctx);
  await app.register(loginRoutes, { ctx });
  await app.register(tokenRoutes, { ctx });
  await app.register(activationRoutes, { ctx });
  await app.register(mfaRoutes, { ctx });
  await app.register(discoveryRoutes, { ctx });
};
