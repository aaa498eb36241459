import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AppContext } from '../app-context';
import { tooManyRequests } from '../errors';

/** The route patterns (as registered, never the request's URL) that the limits protect. */
const LIMITED_ROUTE = /^\/(auth|oauth2)\//;

/**
 * Whether the route this request MATCHED is limited. Keyed on the registered pattern
 * (`routeOptions.url`), never on `request.url`: the router also matches `/%61uth/login`,
 * `/auth/login/` (ignoreTrailingSlash), `http://host/auth/login` (absolute form) and
 * `/auth/login#x` to the same route, and each of those must count against the same limit.
 * Paths the router does not match (`//auth/login`, `/AUTH/login`) reach no handler (404).
 */
export function isLimitedRoute(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  return route !== undefined && LIMITED_ROUTE.test(route);
}

function emailOf(request: FastifyRequest): string | undefined {
  const body = request.body as { email?: unknown } | undefined;
  return body && typeof body.email === 'string' && body.email ? body.email.trim().toLowerCase() : undefined;
}

/**
 * How many keys (client addresses, emails) each limit remembers at most: beyond it the least
 * recently seen key is forgotten (its count starts again), so a flood of addresses cannot grow
 * the memory of an instance without bound.
 */
export const RATE_LIMIT_KEYS = 10_000;

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;

async function enforce(limiter: Limiter, request: FastifyRequest): Promise<void> {
  const result = await limiter(request);
  if (!result.isAllowed && result.isExceeded) {
    throw tooManyRequests(result.ttlInSeconds, `Too many requests: wait ${Math.max(1, result.ttlInSeconds)} seconds and try again`);
  }
}

/**
 * Rate limits on the /auth/* and /oauth2/* routes: per client address (before the body is read)
 * and per email in the body (after), each one budget shared by all those routes. Counters live in this instance's memory: with several instances
 * each one counts on its own (the limit per instance holds; a shared store is future work).
 */
export async function registerRateLimits(app: FastifyInstance, ctx: Pick<AppContext, 'config'> & Partial<Pick<AppContext, 'audit'>>, keys = RATE_LIMIT_KEYS): Promise<void> {
  const { enabled, max, windowMs } = ctx.config.rateLimit;
  if (!enabled) {
    return;
  }
  await app.register(rateLimit, { global: false, max, timeWindow: windowMs, cache: keys });
  // Each limiter gets a store of its own, bounded by `cache` (read at run time, absent from the plugin's types).
  const bounded = { cache: keys };
  const byAddress = app.createRateLimit({ ...bounded, keyGenerator: (request) => `ip:${request.ip}` });
  const byEmail = app.createRateLimit({ ...bounded, keyGenerator: (request) => `email:${emailOf(request) ?? ''}`, allowList: (request) => emailOf(request) === undefined });
  // Every refusal is in the audit trail (without waiting; the address and route only, never the body).
  app.addHook('onError', async (request, _reply, error) => {
    if ((error as { statusCode?: number }).statusCode === 429 && isLimitedRoute(request)) {
      ctx.audit?.record({ kind: 'rate-limited', outcome: '4', outcomeDesc: `${request.method} ${request.routeOptions.url ?? ''}`.slice(0, 100), address: request.ip });
    }
  });
  // Callback style: most requests are on routes without a limit and should not pay a promise.
  app.addHook('onRequest', (request, _reply, done) => {
    if (!isLimitedRoute(request)) {
      return done();
    }
    enforce(byAddress, request).then(() => done(), done);
  });
  app.addHook('preHandler', (request, _reply, done) => {
    if (!isLimitedRoute(request)) {
      return done();
    }
    enforce(byEmail, request).then(() => done(), done);
  });
}
