import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { OutageGuard } from '../db/availability';
import type { Database } from '../db/database';
import { errorHandler } from './error-handler';

/**
 * After this many MONGODB_TIMEOUT_MS, a request still unanswered while the database is (or has
 * been, since the request began) unreachable is answered 503 with an outcome-unknown
 * OperationOutcome. Every database wait is bounded by itself; this is the backstop for a
 * driver call that stays pending forever on a connection closed under it. A slow request on a
 * healthy database is never cut.
 */
const DEADLINE_TIMEOUTS = 2;

/** Registers the backstop on every route. */
export function registerRequestDeadline(app: FastifyInstance, database: Database): void {
  const guards = new WeakMap<FastifyRequest, OutageGuard>();
  // Callback-style hooks (not async): they never wait, and each async one costs a promise per request.
  const release = (request: FastifyRequest): void => {
    guards.get(request)?.dispose();
    guards.delete(request);
  };
  app.addHook('onRequest', (request: FastifyRequest, reply: FastifyReply, done: () => void) => {
    const guard = database.availability.abandonAfterOutage(DEADLINE_TIMEOUTS * database.timeoutMs);
    guards.set(request, guard);
    guard.abandoned.catch((err: Error) => {
      if (!reply.sent) {
        errorHandler(err as never, request, reply);
      }
    });
    done();
  });
  app.addHook('onResponse', (request, _reply, done) => {
    release(request);
    done();
  });
  app.addHook('onRequestAbort', (request, done) => {
    release(request);
    done();
  });
}
