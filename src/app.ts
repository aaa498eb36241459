import Fastify, { type FastifyInstance } from 'fastify';
import type { ProjectMembership } from '@medplum/fhirtypes';
import formbody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { adminProjectRoutes } from './admin/project-routes';
import type { AppContext, AppDeps } from './app-context';
import { accountIndexes, createAuthServices } from './accounts/account-services';
import { createAccessServices } from './access/resolve';
import { auditIndexes } from './audit/audit-store';
import { createAuditServices } from './audit/services';
import { adminRoutes } from './admin/admin-routes';
import { authRoutes } from './auth/auth-routes';
import { systemClock } from './clock';
import type { AppConfig } from './config';
import { connectDatabase } from './db/database';
import { ensureIndexes, type IndexSpecs } from './db/indexes';
import { embeddedTtlSweeper } from './db/ttl-sweeper';
import { emailPlugin } from './email/plugin';
import { createEmailServices, emailIndexes } from './email/services';
import { findProfilesDir, loadDefinitions } from './fhir/definitions';
import { indexDeferredTypesInSteps } from './fhir/type-index';
import { fhirIndexes } from './fhir/indexes';
import { fhirRoutes } from './fhir-api/fhir-routes';
import { databaseGuard } from './http/database-guard';
import { healthPlugin } from './http/health';
import { errorHandler, notFoundHandler } from './http/error-handler';
import { registerJsonParsers } from './http/json-body';
import { registerRequestDeadline } from './http/request-deadline';
import { lazyChildLoggerFactory, loggerOptions, OneLinePerRequest } from './http/logger';
import { inviteIndexes } from './invite/indexes';
import { createInviteDeps } from './invite/invite-output';
import { acceptOnSignIn } from './invite/invite-acceptance';
import { subscriptionIndexes } from './subscriptions/outbox';
import { createSubscriptionServices, subscriptionsPlugin } from './subscriptions/services';
import { SERVER_VERSION } from './package-files';
import { pagesPlugin } from './pages/plugin';
import { lazyRouteValidators } from './lazy-validator';

const BODY_LIMIT = 1024 * 1024;
/** How often expired documents are swept on the embedded engine (MongoDB's own TTL monitor runs every 60 s). */
const TTL_SWEEP_MS = 60_000;

declare module 'fastify' {
  interface FastifyInstance {
    /** The app's dependencies, for tests and benchmarks that check the database directly. */
    ctx: AppContext;
  }
}

/** Every domain's index specs, as buildApp creates them (the benchmarks' floor creates the same). */
export function indexSpecs(): IndexSpecs[] {
  return [fhirIndexes(), accountIndexes(), inviteIndexes(), emailIndexes(), subscriptionIndexes(), auditIndexes()];
}

/** Builds the whole server (database connection, indexes, plugins). It never listens. */
export async function buildApp(config: AppConfig, deps: AppDeps = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: deps.logger ?? loggerOptions(config),
    logController: new OneLinePerRequest(),
    childLoggerFactory: lazyChildLoggerFactory,
    bodyLimit: BODY_LIMIT,
    requestIdHeader: 'x-request-id',
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: true } },
    schemaController: { compilersFactory: { buildValidator: lazyRouteValidators() } },
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 200 },
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    // Router errors (malformed URL, over-long id) take the same path as every other error.
    frameworkErrors: (err, request, reply) => errorHandler(err, request, reply),
  });

  const ownsDatabase = !deps.database;
  if (!deps.database && !config.mongodbUri) {
    throw new Error('buildApp needs config.mongodbUri or deps.database');
  }
  const step = deps.onStartupStep ?? (() => undefined);
  step('connecting to the database');
  const database = deps.database ?? (await connectDatabase(config.mongodbUri as string, config.mongodbDatabase, deps.embedded ?? false, { timeoutMs: config.mongodbTimeoutMs, log: app.log }));
  // Events recorded without waiting are written before the database closes.
  let drainAudit: () => Promise<void> = async () => undefined;
  app.addHook('onClose', async () => {
    await drainAudit();
    if (ownsDatabase) {
      await database.close();
    }
  });

  try {
    const definitions = loadDefinitions(findProfilesDir());
    // The resource types loadDefinitions left for later are indexed once the server listens
    // (or sooner, at the first validation that needs them; see fhir/type-index.ts).
    app.addHook('onListen', (done) => {
      setImmediate(() => indexDeferredTypesInSteps()).unref();
      done();
    });
    // Each domain declares its indexes; db/ creates them without knowing the domains.
    step('creating indexes');
    await ensureIndexes(database, indexSpecs());
    // The embedded engine has no TTL monitor: expired AuditEvents (and guards) are swept here instead.
    const sweeper = embeddedTtlSweeper(database, indexSpecs(), deps.clock ?? systemClock, TTL_SWEEP_MS);
    sweeper?.start();
    app.addHook('onClose', async () => sweeper?.stop());
    // The repository's change listeners (see fhir/changes.ts): those given, then the server's own (below).
    const listeners = [...(deps.changeListeners ?? [])];
    const clock = deps.clock ?? systemClock;
    // The audit trail: its listener writes the events about resource writes in their transactions.
    const auditServices = createAuditServices({ database, clock, log: app.log, config, enabled: deps.audit });
    if (auditServices.trail.enabled) {
      // First, so that any later listener's refusal rolls the event back with the change.
      listeners.unshift(auditServices.listener);
    }
    drainAudit = () => auditServices.trail.drain();
    const base = { config, database, clock, definitions, log: app.log, listeners, audit: auditServices.trail };
    const email = createEmailServices(base, deps.mailTransport);
    step('loading the signing key and the first administrator');
    const auth = await createAuthServices(base);
    const access = createAccessServices(base.clock);
    const invite = createInviteDeps({ ...base, email, accessScopes: access.scopes, revokeLogin: auth.revokeLogin });
    const onMembershipSignIn = (membership: ProjectMembership, userId: string): Promise<void> => acceptOnSignIn(base, membership, userId);
    // Rest-hook subscriptions queue their notifications in the transaction of every change.
    const subscriptions = createSubscriptionServices({ ...base, access });
    listeners.push(subscriptions.listener);
    const ctx: AppContext = { ...base, email, auth, access, invite, onMembershipSignIn, subscriptions };
    app.decorate('ctx', ctx);

    step('registering the routes');
    app.setErrorHandler(errorHandler);
    app.setNotFoundHandler(notFoundHandler);
    // While the database is known to be down, requests that need it answer 503 at once.
    app.addHook('onRequest', databaseGuard(database));
    // And a request stuck on a database call that outlasts an outage is answered 503 anyway.
    registerRequestDeadline(app, database);
    // FHIR JSON is parsed like application/json: __proto__ and constructor keys are refused,
    // and so is nesting deeper than MAX_JSON_DEPTH.
    registerJsonParsers(app, BODY_LIMIT);
    await app.register(formbody, { bodyLimit: BODY_LIMIT });
    await app.register(swagger, {
      openapi: {
        info: { title: 'fhir-invite-server', version: SERVER_VERSION, description: 'FHIR R4 server with the Project/$invite operation' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });

    await app.register(healthPlugin, { ctx });
    await app.register(authRoutes, { ctx });
    await app.register(fhirRoutes, { ctx, prefix: '/fhir/R4' });
    await app.register(adminRoutes, { ctx });
    await app.register(emailPlugin, { ctx });
    await app.register(subscriptionsPlugin, { ctx });
    await app.register(adminProjectRoutes, { ctx });
    await app.register(pagesPlugin, { ctx });
  } catch (err) {
    await app.close();
    throw err;
  }
  return app;
}
