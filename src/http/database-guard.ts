import type { FastifyRequest, onRequestHookHandler } from 'fastify';
import { DatabaseUnavailableError } from '../db/availability';
import type { Database } from '../db/database';

/**
 * Routes that answer without the database, so they keep answering during an outage: the
 * healthcheck (which reports the outage), the API docs, and the static FHIR metadata and keys.
 * Matched on the route pattern, never on the raw URL.
 */
const WITHOUT_DATABASE = new Set(['/healthcheck', '/fhir/R4/metadata', '/fhir/R4/OperationDefinition', '/fhir/R4/OperationDefinition/:id', '/.well-known/jwks.json']);

function needsDatabase(request: FastifyRequest): boolean {
  const route = request.routeOptions.url;
  if (route === undefined) {
    // No route matched: the not-found handler answers without the database.
    return false;
  }
  return !WITHOUT_DATABASE.has(route) && route !== '/docs' && !route.startsWith('/docs/');
}

/**
 * Fails fast while the database is known to be down: every request that needs it is answered
 * 503 (OperationOutcome, Retry-After) at once instead of waiting for the driver to give up.
 */
export function databaseGuard(database: Database): onRequestHookHandler {
  // Callback style (not async): a check that never waits needs no promise per request.
  return (request, _reply, done) => {
    done(database.availability.down && needsDatabase(request) ? new DatabaseUnavailableError('down') : undefined);
  };
}
